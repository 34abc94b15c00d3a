"""What the purge tests share: a case with known identifiers, its files, and scanners
that look for those identifiers (in every encoding we can think of) in raw bytes."""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from epitrace.hub.cases import storage
from epitrace.hub.cases.models import ENCRYPTED_FIELDS, BlindIndex, Case, CaseKey
from epitrace.hub.cases.records import (
    CaseDates,
    Identifiers,
    encrypt_for_case,
    normalise_national_id,
    normalise_phone,
    register_case,
)
from epitrace.hub.cases.storage import case_folder, ensure_case_folder

PERSON = Identifiers(
    name="홍길동 Hong Gildong-Purgetest",
    birth_date=dt.date(1984, 3, 7),
    national_id="840307-1234567",
    address="12 Sejong-daero, Jongno-gu, Seoul",
    person_ref="P-77120934",
    phones=["010-4821-7730", "+82 10-9055-1268"],
)
CARD_NUMBER = "9410-2233-4455-6677"  # only in the case's files (a provider answer)
OLD = CaseDates(  # confirmed long ago: its retention has ended by NOW
    specimen_date=dt.date(2026, 1, 3),
    confirmation_date=dt.date(2026, 1, 5),
    isolation_date=dt.date(2026, 1, 5),
    onset_date=dt.date(2026, 1, 1),
)
KEPT_PERSON = Identifiers(
    name="Kim Younghee-Staysalive",
    birth_date=dt.date(1990, 11, 2),
    national_id="901102-2345678",
    address="5 Haeundae-ro, Busan",
    person_ref="P-55500011",
    phones=["010-3333-4444"],
)
RECENT = CaseDates(
    specimen_date=dt.date(2026, 5, 18),
    confirmation_date=dt.date(2026, 5, 20),
    isolation_date=dt.date(2026, 5, 20),
)
NOW = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC)  # the daily purge, 2026-06-01 12:00 KST


def plain_secrets(person: Identifiers, *extra: str) -> list[str]:
    values = [person.name, person.national_id, person.address, person.person_ref]
    values += [normalise_national_id(person.national_id), person.birth_date.isoformat()]
    values += [*person.phones, *(normalise_phone(p) for p in person.phones)]
    values += [part for part in person.name.split() if len(part) >= 3]  # each name part too
    return [*values, *extra]


def encodings(value: str) -> set[bytes]:
    """The ways a text may sit in a file, a dump or a log."""
    utf8 = value.encode()
    forms = {
        utf8,
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        json.dumps(value)[1:-1].encode(),  # \\uXXXX escapes (ensure_ascii)
        urllib.parse.quote(value).encode(),
        urllib.parse.quote_plus(value).encode(),
        utf8.hex().encode(),  # PostgreSQL's text form of bytea
        utf8.hex().upper().encode(),
    }
    return {form for form in forms if len(form) >= 6}


def blob_forms(blob: bytes) -> set[bytes]:
    """A ciphertext or digest as raw bytes and as hex text."""
    return {blob, blob.hex().encode()}


@dataclass
class Planted:
    """Everything of one case that must be gone after its purge."""

    case: Case
    texts: list[str]
    blobs: list[bytes] = field(default_factory=list)
    folder: Path | None = None

    def needles(self) -> dict[bytes, str]:
        found = {form: f"identifier {text!r}" for text in self.texts for form in encodings(text)}
        for blob in self.blobs:
            for form in blob_forms(blob):
                found[form] = f"ciphertext/digest {blob[:8].hex()}..."
        return found


def plant_case(region: Any, person: Identifiers, dates: CaseDates) -> Planted:
    """Register ``person`` through records.py and write files under its case folder,
    everything dated on the confirmation day (as if registered then)."""
    case = register_case(region, dates, person, by="tester")
    on_the_day = dt.datetime.combine(dates.confirmation_date, dt.time(3), tzinfo=dt.UTC)
    Case.objects.filter(pk=case.pk).update(registered_at=on_the_day)
    case.refresh_from_db()
    folder = ensure_case_folder(case)
    answer = json.dumps({"card": CARD_NUMBER, "subscriber": person.phones[0]}).encode()
    raw = encrypt_for_case(case, "raw/card-answer", answer)
    (folder / "raw").mkdir()
    (folder / "raw" / "card-answer.bin").write_bytes(raw)
    (folder / "uploads").mkdir()
    # An uploaded document in clear (e.g. an interview note): deleting the folder is
    # what removes it, no key involved.
    (folder / "uploads" / "interview.txt").write_text(f"{person.name} {person.national_id}\n")
    blobs = [bytes(getattr(case, f"{name}_enc")) for name in ENCRYPTED_FIELDS]
    blobs.append(bytes(CaseKey.objects.get(case=case).wrapped))
    blobs += [
        d.encode() for d in BlindIndex.objects.filter(case=case).values_list("digest", flat=True)
    ]
    blobs.append(raw)
    for path in folder.rglob("*"):
        dated(path, on_the_day)
    return Planted(case, plain_secrets(person, CARD_NUMBER), blobs, folder)


def dated(path: Path, when: dt.datetime) -> Path:
    """Give a file the modification time of when it arrived."""
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def find_in(data: bytes, needles: dict[bytes, str]) -> list[str]:
    return sorted({what for needle, what in needles.items() if needle in data})


def files_bytes(root: Path, skip: Iterable[str] = ()) -> dict[str, bytes]:
    skipped = set(skip)
    return {
        str(path): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in skipped
    }


# --- the database, as bytes ---


def sqlite_image() -> bytes:
    """The whole SQLite database exactly as its file holds it, free pages included."""
    connection.ensure_connection()
    return connection.connection.serialize()


def postgres_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return sorted(row[0] for row in cursor.fetchall())


def postgres_dump() -> bytes:
    """Every row of every table of the hub's schema, every column, as COPY writes it."""
    out = bytearray()
    with connection.cursor() as cursor:
        for table in postgres_tables():
            out += f"-- {table}\n".encode()
            with cursor.cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                for block in copy:
                    out += bytes(block)
    return bytes(out)


def postgres_relation_files() -> bytes | None:
    """The raw on-disk files of every table, index and TOAST table of the schema, dead
    tuples and free space included (after a CHECKPOINT flushed the buffers). None when
    the account may not read server files."""
    query = """
        SELECT pg_relation_filepath(c.oid) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't', 'm'))
           OR c.oid IN (SELECT reltoastrelid FROM pg_class k
                        JOIN pg_namespace m ON m.oid = k.relnamespace
                        WHERE m.nspname = current_schema() AND k.reltoastrelid <> 0)
           OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                        WHERE t.relnamespace = 'pg_toast'::regnamespace AND t.oid IN (
                            SELECT reltoastrelid FROM pg_class k2
                            JOIN pg_namespace m2 ON m2.oid = k2.relnamespace
                            WHERE m2.nspname = current_schema()))
    """
    out = bytearray()
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except Exception:
            return None
        cursor.execute(query)
        paths = [row[0] for row in cursor.fetchall() if row[0]]
        for path in paths:
            cursor.execute("SELECT pg_read_binary_file(%s)", [path])
            data = cursor.fetchone()[0]
            out += bytes(data or b"")
    return bytes(out)


def database_bytes() -> dict[str, bytes]:
    if connection.vendor == "sqlite":
        return {"sqlite file image": sqlite_image()}
    found = {"postgres COPY dump": postgres_dump()}
    files = postgres_relation_files()
    if files is not None:
        found["postgres relation files"] = files
    return found


def with_exchange_data(
    planted: Planted, arrived: dt.datetime | None = None, task: int = 1
) -> tuple[bytes, bytes]:
    """An answer file and an analysis result, as the exchange app stores them, arrived
    the day after the confirmation unless said otherwise."""
    from epitrace.hub.exchange.models import AnalysisResult, DataRequest, Status

    case = planted.case
    moment = arrived or dt.datetime.combine(
        case.confirmation_date + dt.timedelta(days=1), dt.time(3), tzinfo=dt.UTC
    )
    request = DataRequest.objects.create(
        request_id=f"R{task:05d}",
        case=case,
        kinds=["telecom"],
        start=moment - dt.timedelta(days=4),
        end=moment,
        justification="contact tracing",
        needs_approval=True,
        status=Status.ANALYSED,
        requested_by="national",
        requested_role="national_investigator",
        deadline=moment,
    )
    bundle = encrypt_for_case(case, f"result:{request.pk}", f"stays of {PERSON.name}".encode())
    AnalysisResult.objects.create(
        request=request, case=case, computed_at=moment, stays=3, provenance=[], bundle_enc=bundle
    )
    answers = case_folder(case) / storage.ANSWERS_DIR
    answers.mkdir(parents=True, exist_ok=True)
    answer = encrypt_for_case(
        case, f"answer:{task}", b"telecom rows of " + PERSON.phones[0].encode()
    )
    path = answers / f"task-{task}.bin"
    path.write_bytes(answer)
    dated(path, moment)
    planted.blobs += [answer, bundle]
    return answer, bundle


def with_link(planted: Planted, other: Case) -> None:
    """A link from the planted case to ``other``, confirmed with a reason: its evidence
    (sealed under ``other``'s key) and the reason sealed for the planted case must go
    with the planted case."""
    from epitrace.hub.cases.models import CaseNote
    from epitrace.hub.cases.notes import sealed_texts
    from epitrace.hub.chains.models import LinkOrigin, LinkStatus, ProposedLink
    from epitrace.hub.chains.refresh import seal_evidence

    evidence = seal_evidence(other, {"place_name": "한빛식당", "via": "card"})
    ProposedLink.objects.create(
        source=planted.case,
        target=other,
        origin=LinkOrigin.HAND,
        status=LinkStatus.CONFIRMED,
        evidence_enc=evidence,
        reason=sealed_texts([planted.case, other], reason="면담에서 같은 식당 방문 확인"),
    )
    planted.blobs.append(evidence)
    planted.blobs += [
        bytes(n)
        for n in CaseNote.objects.filter(case=planted.case).values_list("text_enc", flat=True)
    ]
