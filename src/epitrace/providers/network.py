"""One subject's records gathered from every agency's store, as the exchange routes them.

The routing of a real investigation, in miniature: each carrier's subscriber
registry says which lines the person holds; the credit-finance association
says which issuers hold their cards, and only those issuers are asked; the
entry-log operators are asked for the person's phone numbers; the GPS store
for the person. Every question is a bounded ``SubjectExtract`` answered by
the agency's own store (``providers/queries.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from epitrace.analysis.subject import RECORD_TABLES, SubjectRecords
from epitrace.formats.problems import Problem
from epitrace.formats.schemas import table
from epitrace.providers.dataset import UnknownSubject
from epitrace.providers.queries import ProviderStore, SubjectExtract
from epitrace.providers.store import MANIFEST

# A subject's records and the registry rows that locate them.
GATHERED_TABLES = (*RECORD_TABLES, "cells", "merchants")


def is_store_network(folder: Path) -> bool:
    """Does ``folder`` hold built provider stores (one sub-folder per agency)?"""
    return any((sub / MANIFEST).is_file() for sub in Path(folder).iterdir() if sub.is_dir())


class StoreNetwork:
    """Every agency's store under one folder, asked the way the exchange asks them."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.problems: list[Problem] = []  # the same interface as DatasetStore
        self.stores = [
            ProviderStore(sub)
            for sub in sorted(self.folder.iterdir())
            if (sub / MANIFEST).is_file()
        ]
        if not self.stores:
            raise FileNotFoundError(f"{self.folder} holds no provider store")

    def _of_kind(self, kind: str) -> list[ProviderStore]:
        return [store for store in self.stores if store.kind == kind]

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        """The dates the stores cover, as a window for extracts."""
        first = min(
            dt.date.fromisoformat(s.manifest["first_date"])
            for s in self.stores
            if s.manifest.get("first_date")
        )
        last = max(
            dt.date.fromisoformat(s.manifest["last_date"])
            for s in self.stores
            if s.manifest.get("last_date")
        )
        start = dt.datetime.combine(first, dt.time(), dt.UTC)
        return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)

    def subject(
        self, person_ref: str, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> SubjectRecords:
        """Everything every agency holds on ``person_ref`` in [start, end)."""
        period = self.period()
        start, end = start or period[0], end or period[1]
        gathered = gather(self.stores, Subject(person_ref, (), start, end))
        for store in self._of_kind("gps"):
            collect(store.subject_extract(SubjectExtract(person_ref, start, end)), gathered.parts)
        if (
            not gathered.lines
            and not gathered.cards
            and not any(t.num_rows for t in gathered.parts["gps_points"])
        ):
            raise UnknownSubject(
                f"no carrier, card issuer or GPS store knows {person_ref!r} in {self.folder}"
            )
        return gathered.records(person_ref)


# --- the routing of one subject's questions, shared with the hub's exchange ---

# What an investigation may ask about a subject (GPS is handed over by the patient).
SUBJECT_KINDS = frozenset({"telecom", "cards", "transit", "checkins"})


@dataclass(frozen=True)
class Subject:
    """Who is asked about, for which window, and for what kinds of data."""

    person_ref: str
    phones: tuple[str, ...]  # known lines, asked of the entry-log operators with those found
    start: dt.datetime
    end: dt.datetime
    kinds: frozenset[str] = SUBJECT_KINDS


@dataclass
class Gathered:
    """The answers collected for a subject, with the lines and cards found on the way."""

    parts: dict[str, list[pa.Table]] = field(
        default_factory=lambda: {name: [] for name in GATHERED_TABLES}
    )
    lines: list[str] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)

    def records(self, person_ref: str) -> SubjectRecords:
        return SubjectRecords(
            person_ref, **{name: _concat(name, tables) for name, tables in self.parts.items()}
        )


def _of_kind(stores: Sequence[Any], kind: str) -> list[Any]:
    return [store for store in stores if store.kind == kind]


def collect(answer: dict[str, pa.Table], parts: dict[str, list[pa.Table]]) -> None:
    for name, rows in answer.items():
        if name in parts:
            parts[name].append(rows)


def _telecom(stores: Sequence[Any], subject: Subject, found: Gathered) -> None:
    for carrier in _of_kind(stores, "carrier"):
        lines = carrier.lookup("subscribers", "person_ref", [subject.person_ref])
        for line in lines.column("subscriber").to_pylist():
            found.lines.append(line)
            extract = SubjectExtract(line, subject.start, subject.end)
            collect(carrier.subject_extract(extract, ("telecom_records", "cells")), found.parts)


def _card_tables(kinds: frozenset[str]) -> tuple[str, ...]:
    tables = ("card_transactions", "merchants") if "cards" in kinds else ()
    return tables + (("transit_taps",) if "transit" in kinds else ())


def _cards(stores: Sequence[Any], subject: Subject, found: Gathered) -> None:
    issuers: set[str] = set()
    for association in _of_kind(stores, "card_association"):
        issuers.update(association.issuers_holding(subject.person_ref))
    for issuer in _of_kind(stores, "card_issuer"):
        if issuer.agency not in issuers:
            continue  # only the issuers that hold the person's cards are asked
        holders = issuer.lookup("card_holders", "person_ref", [subject.person_ref])
        for card in holders.column("card_id").to_pylist():
            found.cards.append(card)
            extract = SubjectExtract(card, subject.start, subject.end)
            collect(issuer.subject_extract(extract, _card_tables(subject.kinds)), found.parts)


def _checkins(stores: Sequence[Any], subject: Subject, found: Gathered) -> None:
    for operator in _of_kind(stores, "entry_operator"):
        for phone in sorted({*subject.phones, *found.lines}):
            extract = SubjectExtract(phone, subject.start, subject.end)
            collect(operator.subject_extract(extract, ("entry_logs",)), found.parts)


def gather(stores: Sequence[Any], subject: Subject) -> Gathered:
    """Ask ``stores`` about ``subject`` the way the exchange routes it: each carrier
    whether it serves the person, then those lines' records; the association which
    issuers hold the person's cards, then only those issuers; the entry-log
    operators for the person's phone numbers. ``stores`` are built stores
    (``ProviderStore``) or the hub's stand-ins for them."""
    found = Gathered()
    if "telecom" in subject.kinds:
        _telecom(stores, subject, found)
    if subject.kinds & {"cards", "transit"}:
        _cards(stores, subject, found)
    if "checkins" in subject.kinds:
        _checkins(stores, subject, found)
    return found


def _concat(name: str, tables: list[pa.Table]) -> pa.Table:
    schema = table(name).arrow_schema
    if not tables:
        return schema.empty_table()
    combined = pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])
    if name in ("cells", "merchants"):  # registries: one row per key
        key = "cell_id" if name == "cells" else "merchant_id"
        keys = [c for c in ("carrier", key) if c in schema.names]
        combined = (
            combined.group_by(keys, use_threads=False)
            .aggregate([(c, "first") for c in schema.names if c not in keys])
            .rename_columns(keys + [c for c in schema.names if c not in keys])
            .select(schema.names)
        )
    return combined
