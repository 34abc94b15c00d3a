"""One subject's records from every source, as the providers return them.

A ``SubjectRecords`` holds, in the contract's schemas, only what the agencies
answered for one person: their telecom records with the cells registry, their
card transactions with the merchants registry, their transit taps, the entry
logs under their phone numbers and their GPS history. Everything the
trajectory analysis needs, nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.formats.schemas import empty_table

# The tables of a subject's own records (the others are registries).
RECORD_TABLES = ("telecom_records", "card_transactions", "transit_taps", "entry_logs", "gps_points")


def _empty(name: str) -> pa.Table:
    return empty_table(name)


@dataclass(frozen=True)
class SubjectRecords:
    person_ref: str
    telecom_records: pa.Table = field(default_factory=lambda: _empty("telecom_records"))
    cells: pa.Table = field(default_factory=lambda: _empty("cells"))
    card_transactions: pa.Table = field(default_factory=lambda: _empty("card_transactions"))
    merchants: pa.Table = field(default_factory=lambda: _empty("merchants"))
    transit_taps: pa.Table = field(default_factory=lambda: _empty("transit_taps"))
    entry_logs: pa.Table = field(default_factory=lambda: _empty("entry_logs"))
    gps_points: pa.Table = field(default_factory=lambda: _empty("gps_points"))

    def only(self, *sources: str) -> SubjectRecords:
        """The same subject with only the named sources (others emptied), for ablations."""
        tables = {
            "telecom": ("telecom_records",),
            "card": ("card_transactions",),
            "transit": ("transit_taps",),
            "entry": ("entry_logs",),
            "gps": ("gps_points",),
        }
        unknown = set(sources) - set(tables)
        if unknown:
            raise ValueError(f"unknown sources {sorted(unknown)}; known: {sorted(tables)}")
        cleared = {
            name: _empty(name)
            for source, names in tables.items()
            if source not in sources
            for name in names
        }
        return replace(self, **cleared)

    def window(self, start: dt.datetime | None, end: dt.datetime | None) -> SubjectRecords:
        """Only the records with ``start <= ts < end`` (either bound may be open)."""
        if start is None and end is None:
            return self
        changes = {}
        for name in RECORD_TABLES:
            data: pa.Table = getattr(self, name)
            keep = pa.scalar(True)
            ts = data.column("ts")
            if start is not None:
                keep = pc.and_(keep, pc.greater_equal(ts, pa.scalar(start, ts.type)))
            if end is not None:
                keep = pc.and_(keep, pc.less(ts, pa.scalar(end, ts.type)))
            changes[name] = data.filter(keep)
        return replace(self, **changes)

    @property
    def record_count(self) -> int:
        return sum(getattr(self, name).num_rows for name in RECORD_TABLES)
