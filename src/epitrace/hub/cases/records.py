"""Registering cases, reading their identifiers back, and shredding them.

Nothing here logs: the plaintext identifiers exist only in memory, between the
request body and AES-GCM (and back, for a detail view).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field

from django.db import transaction

from epitrace.hub import crypto
from epitrace.hub.accounts.models import Region
from epitrace.hub.cases.dates import check_dates
from epitrace.hub.cases.models import BlindIndex, Case, CaseKey


@dataclass(frozen=True)
class Identifiers:
    """The personal identifiers of a case, in clear (memory only)."""

    name: str
    birth_date: dt.date
    national_id: str
    address: str
    person_ref: str
    phones: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseDates:
    specimen_date: dt.date
    confirmation_date: dt.date
    isolation_date: dt.date
    onset_date: dt.date | None = None


COUNTRY_CODE = "82"  # numbers written internationally (+82 10 ...) match their national form


def normalise_phone(value: str) -> str:
    """Digits only, national form: "010-1234 5678", "01012345678" and "+82 10 1234 5678"
    are the same number."""
    digits = re.sub(r"\D", "", value)
    international = "00" + COUNTRY_CODE
    if value.lstrip().startswith("+") and digits.startswith(COUNTRY_CODE):
        return "0" + digits[len(COUNTRY_CODE) :]
    if digits.startswith(international):
        return "0" + digits[len(international) :]
    return digits


def normalise_national_id(value: str) -> str:
    """Letters and digits only, upper case: separators and spaces do not matter."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def normalise_person_ref(value: str) -> str:
    return value.strip()


def associated_data(case: Case, field_name: str) -> bytes:
    # Binds a ciphertext to its case and its field: moved anywhere else, it fails.
    return f"case:{case.uid}|field:{field_name}".encode()


def _key_context(case: Case) -> bytes:
    return f"case:{case.uid}".encode()


def _plain_values(ids: Identifiers) -> dict[str, bytes]:
    values = asdict(ids)
    values["birth_date"] = ids.birth_date.isoformat()
    values["phones"] = json.dumps(ids.phones)
    return {name: str(value).encode() for name, value in values.items()}


def _index_rows(case: Case, ids: Identifiers) -> list[BlindIndex]:
    pairs = {(BlindIndex.Kind.PHONE, normalise_phone(p)) for p in ids.phones}
    pairs.add((BlindIndex.Kind.NATIONAL_ID, normalise_national_id(ids.national_id)))
    pairs.add((BlindIndex.Kind.PERSON_REF, normalise_person_ref(ids.person_ref)))
    return [
        BlindIndex(case=case, kind=kind, digest=crypto.blind_index(kind, value))
        for kind, value in sorted(pairs)
    ]


def register_case(region: Region, dates: CaseDates, ids: Identifiers, *, by: str) -> Case:
    """Create a case with a fresh data key; only ciphertexts and digests are written.
    Dates outside the rule of cases/dates.py raise ImplausibleDates."""
    check_dates(dates)
    data_key = crypto.new_data_key()
    case = Case(region=region, registered_by=by, **asdict(dates))
    for name, plain in _plain_values(ids).items():
        setattr(case, f"{name}_enc", crypto.seal(data_key, plain, associated_data(case, name)))
    provider = crypto.key_provider()
    with transaction.atomic():
        case.save()
        # The number follows the row's id: unique without a race between creators.
        case.case_id = f"C{case.pk:05d}"
        case.save(update_fields=["case_id"])
        CaseKey.objects.create(
            case=case, wrapped=provider.wrap(data_key, _key_context(case)), provider=provider.name
        )
        BlindIndex.objects.bulk_create(_index_rows(case, ids))
    return case


def data_key_of(case: Case) -> bytes:
    wrapped = CaseKey.objects.filter(case_id=case.pk).values_list("wrapped", flat=True).first()
    if wrapped is None:
        raise crypto.KeyDestroyed(
            f"{case}: its data key was destroyed; its personal data can no longer be read"
        )
    return crypto.key_provider().unwrap(bytes(wrapped), _key_context(case))


def decrypt_field(case: Case, name: str, data_key: bytes) -> str:
    blob = getattr(case, f"{name}_enc")
    return crypto.open_sealed(data_key, blob, associated_data(case, name)).decode()


def identifiers_of(case: Case) -> Identifiers:
    """Decrypt a case's identifiers; raises crypto.KeyDestroyed or crypto.Undecryptable."""
    key = data_key_of(case)
    values = {name: decrypt_field(case, name, key) for name in Identifiers.__dataclass_fields__}
    return Identifiers(
        name=values["name"],
        birth_date=dt.date.fromisoformat(values["birth_date"]),
        national_id=values["national_id"],
        address=values["address"],
        person_ref=values["person_ref"],
        phones=json.loads(values["phones"]),
    )


def encrypt_for_case(case: Case, label: str, plaintext: bytes) -> bytes:
    """Encrypt other personal data of a case (provider results, analysis outputs, files)
    under the case's data key, bound to the case and ``label``: destroying the case's
    key shreds it along with the identifiers."""
    return crypto.seal(data_key_of(case), plaintext, associated_data(case, label))


def decrypt_for_case(case: Case, label: str, blob: bytes) -> bytes:
    return crypto.open_sealed(data_key_of(case), blob, associated_data(case, label))


def destroy_case_key(case: Case) -> None:
    """Crypto-shred a case: drop its wrapped data key and its blind-index digests.

    Every ciphertext of the case (in this database, its backups, or anywhere a copy
    went) becomes unreadable for good. The digests go too: with the index key they
    would still confirm a guessed phone or identity number. Safe to run twice.
    """
    with transaction.atomic():
        CaseKey.objects.filter(case_id=case.pk).delete()
        BlindIndex.objects.filter(case_id=case.pk).delete()


def cases_matching(kind: str, value: str) -> list[int]:
    """Ids of the cases whose identifier of ``kind`` equals ``value`` (normalised)."""
    normalise = {
        BlindIndex.Kind.PHONE: normalise_phone,
        BlindIndex.Kind.NATIONAL_ID: normalise_national_id,
        BlindIndex.Kind.PERSON_REF: normalise_person_ref,
    }[BlindIndex.Kind(kind)]
    digest = crypto.blind_index(kind, normalise(value))
    return list(
        BlindIndex.objects.filter(kind=kind, digest=digest).values_list("case_id", flat=True)
    )
