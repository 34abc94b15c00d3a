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
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from epitrace.analysis.subject import RECORD_TABLES, SubjectRecords
from epitrace.formats.problems import Problem
from epitrace.formats.schemas import table
from epitrace.providers.dataset import DatasetStore, UnknownSubject
from epitrace.providers.queries import (
    MerchantTime,
    PlaceTimePresence,
    ProviderStore,
    SubjectExtract,
)
from epitrace.providers.store import MANIFEST, build_stores

# A subject's records and the registry rows that locate them.
GATHERED_TABLES = (*RECORD_TABLES, "cells", "merchants")


class AgencyStore(Protocol):
    """What one agency's store answers, each a bounded question: a built store
    (``ProviderStore``) or the hub's stand-in for an agency (``RemoteStore``)."""

    agency: str  # the agency's name, as other stores name it
    kind: str  # carrier, card_issuer, card_association, entry_operator, gps
    manifest: dict[str, Any]

    def has(self, name: str) -> bool: ...

    def lookup(self, registry: str, column: str, values: list[str]) -> pa.Table: ...

    def whole_registry(self, registry: str, columns: list[str]) -> pa.Table: ...

    def subject_extract(
        self, query: SubjectExtract, tables: Iterable[str] | None = None
    ) -> dict[str, pa.Table]: ...

    def issuers_holding(self, person_ref: str) -> list[str]: ...

    def presence(self, query: PlaceTimePresence) -> pa.Table: ...

    def merchant_time(self, query: MerchantTime) -> pa.Table: ...


class SubjectSource(Protocol):
    """Anything that answers a subject's bounded questions: the agencies' own stores
    (``StoreNetwork``), a dataset folder (``DatasetSource``) or the hub's exchange
    (``hub.exchange.routing.RemoteSource``). ``workflows.investigation.investigate``
    takes any of them."""

    problems: list[Problem]  # records that broke the data contract and were left out

    def records(self, subject: Subject) -> SubjectRecords:
        """Everything the agencies hold on ``subject`` in its window.

        Raises ``UnknownSubject`` when no agency knows the person."""
        ...

    def contact_stores(self) -> Sequence[AgencyStore]:
        """The stores asked who was at the subject's stays (called only when a stay
        is to be searched)."""
        ...

    def unanswered(self) -> bool:
        """Whether some question put so far still awaits its answer: an
        investigation stops there and is taken again once it is answered."""
        ...


def is_store_network(folder: Path) -> bool:
    """Does ``folder`` hold built provider stores (one sub-folder per agency)?"""
    return any((sub / MANIFEST).is_file() for sub in Path(folder).iterdir() if sub.is_dir())


class StoreNetwork:
    """Every agency's store under one folder, asked the way the exchange asks them."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.problems: list[Problem] = []  # built stores hold only valid rows
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

    def records(self, subject: Subject) -> SubjectRecords:
        """Everything every agency holds on the subject in its window (an open
        bound: the stores' whole period); the subject's kinds are asked."""
        period = self.period()
        subject = replace(subject, start=subject.start or period[0], end=subject.end or period[1])
        gathered = gather(self.stores, subject)
        extract = SubjectExtract(subject.person_ref, subject.start, subject.end)
        for store in self._of_kind("gps"):
            collect(store.subject_extract(extract), gathered.parts)
        if (
            not gathered.lines
            and not gathered.cards
            and not any(t.num_rows for t in gathered.parts["gps_points"])
        ):
            raise UnknownSubject(
                f"no carrier, card issuer or GPS store knows {subject.person_ref!r} "
                f"in {self.folder}"
            )
        return gathered.records(subject.person_ref)

    def subject(
        self, person_ref: str, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> SubjectRecords:
        """Everything every agency holds on ``person_ref`` in [start, end)."""
        return self.records(Subject(person_ref, (), start, end))

    def contact_stores(self) -> list[ProviderStore]:
        return self.stores

    def unanswered(self) -> bool:
        return False  # built stores answer at once


class DatasetSource:
    """A dataset folder of contract files as a ``SubjectSource``: a subject's records
    are read from the files; the contact questions are asked of temporary stores
    built from the folder on first need (the same queries as the agencies' own
    stores, at the cost of one store build), removed by ``close``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.store = DatasetStore(self.folder)
        self.problems = self.store.problems
        self._built: tempfile.TemporaryDirectory[str] | None = None
        self._network: StoreNetwork | None = None

    def records(self, subject: Subject) -> SubjectRecords:
        return self.store.subject(subject.person_ref).window(subject.start, subject.end)

    def contact_stores(self) -> list[ProviderStore]:
        if self._network is None:
            self._built = tempfile.TemporaryDirectory(prefix="epitrace-stores-")
            build_stores(self.folder, Path(self._built.name))
            self._network = StoreNetwork(self._built.name)
        return self._network.stores

    @property
    def built_stores(self) -> bool:
        """Whether temporary stores were built to answer contact questions."""
        return self._network is not None

    def unanswered(self) -> bool:
        return False  # files answer at once

    def close(self) -> None:
        if self._built is not None:
            self._built.cleanup()
            self._built = None

    def __enter__(self) -> DatasetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def subject_source(folder: Path) -> StoreNetwork | DatasetSource:
    """The agencies' stores under ``folder`` if it holds them, else its contract files."""
    return StoreNetwork(folder) if is_store_network(folder) else DatasetSource(folder)


# --- the routing of one subject's questions, shared with the hub's exchange ---

# What an investigation may ask about a subject (GPS is handed over by the patient).
SUBJECT_KINDS = frozenset({"telecom", "cards", "transit", "checkins"})


@dataclass(frozen=True)
class Subject:
    """Who is asked about, for which window, and for what kinds of data."""

    person_ref: str
    phones: tuple[str, ...]  # known lines, asked of the entry-log operators with those found
    start: dt.datetime | None  # None: open (a local source's whole period)
    end: dt.datetime | None
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
