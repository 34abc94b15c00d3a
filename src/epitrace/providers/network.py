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
from pathlib import Path

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
        parts: dict[str, list[pa.Table]] = {name: [] for name in GATHERED_TABLES}
        phones = self._telecom(person_ref, start, end, parts)
        cards = self._cards(person_ref, start, end, parts)
        for store in self._of_kind("entry_operator"):
            for phone in phones:
                self._collect(store.subject_extract(SubjectExtract(phone, start, end)), parts)
        for store in self._of_kind("gps"):
            self._collect(store.subject_extract(SubjectExtract(person_ref, start, end)), parts)
        if not phones and not cards and not any(t.num_rows for t in parts["gps_points"]):
            raise UnknownSubject(
                f"no carrier, card issuer or GPS store knows {person_ref!r} in {self.folder}"
            )
        return SubjectRecords(
            person_ref, **{name: _concat(name, tables) for name, tables in parts.items()}
        )

    def _telecom(
        self,
        person_ref: str,
        start: dt.datetime,
        end: dt.datetime,
        parts: dict[str, list[pa.Table]],
    ) -> list[str]:
        phones: list[str] = []
        for store in self._of_kind("carrier"):
            lines = store.lookup("subscribers", "person_ref", [person_ref])
            for subscriber in lines.column("subscriber").to_pylist():
                phones.append(subscriber)
                self._collect(store.subject_extract(SubjectExtract(subscriber, start, end)), parts)
        return phones

    def _cards(
        self,
        person_ref: str,
        start: dt.datetime,
        end: dt.datetime,
        parts: dict[str, list[pa.Table]],
    ) -> list[str]:
        issuers: set[str] = set()
        for association in self._of_kind("card_association"):
            issuers.update(association.issuers_holding(person_ref))
        cards: list[str] = []
        for store in self._of_kind("card_issuer"):
            if store.agency not in issuers:
                continue  # only the issuers that hold the person's cards are asked
            holders = store.lookup("card_holders", "person_ref", [person_ref])
            for card in holders.column("card_id").to_pylist():
                cards.append(card)
                self._collect(store.subject_extract(SubjectExtract(card, start, end)), parts)
        return cards

    @staticmethod
    def _collect(answer: dict[str, pa.Table], parts: dict[str, list[pa.Table]]) -> None:
        for name, rows in answer.items():
            if name in parts:
                parts[name].append(rows)


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
