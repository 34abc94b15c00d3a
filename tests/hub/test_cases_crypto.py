"""Personal identifiers at rest: envelope encryption, bound ciphertexts, shredding, blind index."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from epitrace.hub import crypto
from epitrace.hub.cases.models import ENCRYPTED_FIELDS, BlindIndex, Case, CaseKey
from epitrace.hub.cases.records import (
    CaseDates,
    Identifiers,
    cases_matching,
    decrypt_for_case,
    destroy_case_key,
    encrypt_for_case,
    identifiers_of,
    register_case,
)

pytestmark = pytest.mark.django_db

PERSON = Identifiers(
    name="Hong Gildong-Testperson",
    birth_date=dt.date(1984, 3, 7),
    national_id="840307-1234567",
    address="12 Sejong-daero, Jongno-gu, Seoul",
    person_ref="P-77120934",
    phones=["010-4821-7730", "010-9055-1268"],
)
OTHER = Identifiers(
    name="Kim Younghee-Other",
    birth_date=dt.date(1990, 11, 2),
    national_id="901102-2345678",
    address="5 Haeundae-ro, Busan",
    person_ref="P-55500011",
    phones=["010-3333-4444"],
)
DATES = CaseDates(
    specimen_date=dt.date(2026, 3, 1),
    confirmation_date=dt.date(2026, 3, 2),
    isolation_date=dt.date(2026, 3, 2),
    onset_date=dt.date(2026, 2, 27),
)


@pytest.fixture
def case(places: dict[str, Any]) -> Case:
    return register_case(places["seoul"], DATES, PERSON, by="tester")


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def test_identifiers_round_trip_and_the_case_is_numbered(case: Case) -> None:
    assert case.case_id == f"C{case.pk:05d}"
    assert identifiers_of(fresh(case)) == PERSON


def test_the_database_holds_no_identifier_in_clear(case: Case) -> None:
    secrets = [PERSON.name, PERSON.national_id, PERSON.address, PERSON.person_ref]
    secrets += [*PERSON.phones, "01048217730", "8403071234567", "1984-03-07"]
    tables = [m._meta.db_table for m in (Case, CaseKey, BlindIndex)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # our own table names
            dump = repr(cursor.fetchall()).encode()
            for value in secrets:
                assert value.encode() not in dump, (table, value)


def test_each_case_has_its_own_data_key(case: Case, places: dict[str, Any]) -> None:
    other = register_case(places["busan"], DATES, OTHER, by="tester")
    key = crypto.key_provider().unwrap(bytes(case.key.wrapped), f"case:{case.uid}".encode())
    other_key = crypto.key_provider().unwrap(bytes(other.key.wrapped), f"case:{other.uid}".encode())
    assert key != other_key and len(key) == 32


def test_a_ciphertext_moved_to_another_field_fails(case: Case) -> None:
    Case.objects.filter(pk=case.pk).update(name_enc=fresh(case).address_enc)
    with pytest.raises(crypto.Undecryptable, match="altered or moved"):
        identifiers_of(fresh(case))


def test_a_ciphertext_moved_to_another_case_fails(case: Case, places: dict[str, Any]) -> None:
    other = register_case(places["seoul"], DATES, OTHER, by="tester")
    Case.objects.filter(pk=other.pk).update(name_enc=fresh(case).name_enc)
    with pytest.raises(crypto.Undecryptable):
        identifiers_of(fresh(other))


def test_a_wrapped_key_moved_to_another_case_fails(case: Case, places: dict[str, Any]) -> None:
    other = register_case(places["seoul"], DATES, OTHER, by="tester")
    CaseKey.objects.filter(case=other).update(wrapped=bytes(fresh(case).key.wrapped))
    with pytest.raises(crypto.Undecryptable):
        identifiers_of(fresh(other))


def test_an_altered_ciphertext_fails(case: Case) -> None:
    blob = bytearray(bytes(fresh(case).phones_enc))
    blob[-1] ^= 1
    Case.objects.filter(pk=case.pk).update(phones_enc=bytes(blob))
    with pytest.raises(crypto.Undecryptable):
        identifiers_of(fresh(case))


def test_another_master_key_cannot_unwrap(case: Case, settings: Any) -> None:
    settings.MASTER_KEY = "a-different-master-key-" + "x" * 40
    with pytest.raises(crypto.Undecryptable):
        identifiers_of(fresh(case))


def test_destroying_the_key_makes_every_field_unreadable(case: Case) -> None:
    stolen = fresh(case)  # e.g. a backup taken before the purge
    destroy_case_key(case)
    destroy_case_key(case)  # twice is harmless (an interrupted purge runs again)
    with pytest.raises(crypto.KeyDestroyed, match="destroyed"):
        identifiers_of(fresh(case))
    with pytest.raises(crypto.KeyDestroyed):
        identifiers_of(stolen)
    assert not BlindIndex.objects.filter(case=case).exists()
    assert cases_matching("phone", PERSON.phones[0]) == []


def test_blind_index_finds_normalised_values(case: Case, places: dict[str, Any]) -> None:
    register_case(places["busan"], DATES, OTHER, by="tester")
    assert cases_matching("phone", "01048217730") == [case.pk]
    assert cases_matching("phone", "010 9055 1268") == [case.pk]
    assert cases_matching("national_id", "8403071234567") == [case.pk]
    assert cases_matching("person_ref", "P-77120934") == [case.pk]
    assert cases_matching("phone", "010-0000-0000") == []


def test_blind_index_depends_on_the_index_key_and_kind(settings: Any) -> None:
    digest = crypto.blind_index("phone", "01048217730")
    assert digest != crypto.blind_index("national_id", "01048217730")
    settings.INDEX_KEY = "another-index-key-" + "y" * 40
    assert crypto.blind_index("phone", "01048217730") != digest


def test_every_personal_field_is_encrypted() -> None:
    columns = {f.name for f in Case._meta.get_fields()}
    assert {f"{name}_enc" for name in ENCRYPTED_FIELDS} <= columns
    assert not columns & {"name", "phones", "national_id", "address", "person_ref", "birth_date"}


def test_a_plugged_in_key_provider_is_used(case: Case, settings: Any) -> None:
    settings.EPITRACE_KEY_PROVIDER = "tests.hub.test_cases_crypto.RecordingProvider"
    RecordingProvider.calls.clear()
    identifiers_of(fresh(case))  # wrapped by the local provider: the stand-in refuses
    assert RecordingProvider.calls == ["unwrap"]


class RecordingProvider(crypto.LocalKeyProvider):
    """A stand-in for a KMS: same wrapping, but records that it was asked."""

    name = "recording"
    calls: list[str] = []  # noqa: RUF012

    def unwrap(self, wrapped: bytes, context: bytes = b"") -> bytes:
        self.calls.append("unwrap")
        return super().unwrap(wrapped, context)


def test_other_personal_data_shares_the_case_key_and_its_fate(case: Case) -> None:
    blob = encrypt_for_case(case, "provider-result:17", b"cell 4410, 2026-03-01 10:00")
    assert decrypt_for_case(fresh(case), "provider-result:17", blob).startswith(b"cell")
    with pytest.raises(crypto.Undecryptable):
        decrypt_for_case(fresh(case), "provider-result:18", blob)
    destroy_case_key(case)
    with pytest.raises(crypto.KeyDestroyed):
        decrypt_for_case(fresh(case), "provider-result:17", blob)


def test_keys_are_kept_outside_the_database_with_mode_0600(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from epitrace.hub import settings as hub_settings

    monkeypatch.setattr(hub_settings, "HOME", tmp_path)
    monkeypatch.delenv("EPITRACE_MASTER_KEY", raising=False)
    master = hub_settings._kept_secret("master_key", "EPITRACE_MASTER_KEY")
    assert (tmp_path / "master_key").stat().st_mode & 0o777 == 0o600
    assert hub_settings._kept_secret("master_key", "EPITRACE_MASTER_KEY") == master  # kept
    assert len(master) >= 48
    monkeypatch.setenv("EPITRACE_MASTER_KEY", "from-the-environment-" + "z" * 40)
    assert hub_settings._kept_secret("master_key", "EPITRACE_MASTER_KEY").startswith("from-the")
