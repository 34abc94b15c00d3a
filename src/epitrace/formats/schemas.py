"""The data contract of ``spec/data-formats.md`` as explicit schemas.

Every table that a provider, the simulator or an analysis reads or writes is
declared here once: its columns, their kinds, which may be empty, and the
value rules a loader checks. Arrow schemas, readers, validation and writers
are all derived from these declarations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

# Identifiers (phone numbers, card numbers, ids) are short by contract.
MAX_ID_CHARS = 64
# Free text (names, addresses): generous, but bounded so a corrupt file cannot
# smuggle a megabyte into every screen that shows the value.
MAX_TEXT_CHARS = 1000

# Dates (a case's confirmation and onset) outside this span are typing mistakes, and
# date arithmetic on them (an incubation period before 0001-01-01) would overflow.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2100, 12, 31)

# Instants are kept in UTC inside epitrace; the offset a file was written with
# is only a presentation detail.
TIMESTAMP = pa.timestamp("us", tz="UTC")


class Kind(StrEnum):
    ID = "id"  # non-empty string of at most MAX_ID_CHARS
    TEXT = "text"  # string of at most MAX_TEXT_CHARS
    FLOAT = "float"
    INT = "int"
    TIMESTAMP = "timestamp"  # ISO 8601 with a UTC offset
    DATE = "date"  # YYYY-MM-DD


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.ID: pa.string(),
    Kind.TEXT: pa.string(),
    Kind.FLOAT: pa.float64(),
    Kind.INT: pa.int64(),
    Kind.TIMESTAMP: TIMESTAMP,
    Kind.DATE: pa.date32(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False  # "may be empty" in the contract
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False  # e.g. radius_m > 0
    choices: tuple[str, ...] | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str  # also the file stem, e.g. "telecom_records"
    group: str  # "provider", "investigation", "truth" or "output"
    columns: tuple[Column, ...]
    optional: bool = False  # a dataset may leave it out
    # (start, end) column pairs where end must not come before start.
    ordered: tuple[tuple[str, str], ...] = ()

    @property
    def folder(self) -> str:
        """Sub-folder of a dataset the table lives in ("" for the top)."""
        return "truth" if self.group == "truth" else ""

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns]
        )

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _id(name: str, nullable: bool = False) -> Column:
    return Column(name, Kind.ID, nullable=nullable)


def _text(name: str, nullable: bool = False) -> Column:
    return Column(name, Kind.TEXT, nullable=nullable)


def _ts(name: str) -> Column:
    return Column(name, Kind.TIMESTAMP)


def _lat(nullable: bool = False) -> Column:
    return Column("lat", Kind.FLOAT, nullable=nullable, min=-90.0, max=90.0)


def _lon(nullable: bool = False) -> Column:
    return Column("lon", Kind.FLOAT, nullable=nullable, min=-180.0, max=180.0)


def _choice(name: str, *choices: str) -> Column:
    return Column(name, Kind.TEXT, choices=choices)


def _nonneg(name: str, nullable: bool = False) -> Column:
    return Column(name, Kind.FLOAT, nullable=nullable, min=0.0)


TELECOM_EVENTS = ("call", "sms", "data", "update")
CARD_CHANNELS = ("offline", "online")
TRANSIT_MODES = ("bus", "subway")
TRANSIT_TAPS = ("in", "out")

_TABLES: tuple[Table, ...] = (
    # --- provider stores: mobile carriers ---
    Table(
        "cells",
        "provider",
        (
            _id("carrier"),
            _id("cell_id"),
            _lat(),
            _lon(),
            Column("radius_m", Kind.FLOAT, min=0.0, min_exclusive=True, max=100_000.0),
        ),
    ),
    Table("subscribers", "provider", (_id("carrier"), _id("subscriber"), _id("person_ref"))),
    Table(
        "telecom_records",
        "provider",
        (
            _id("carrier"),
            _id("subscriber"),
            _ts("ts"),
            _id("cell_id"),
            _choice("event", *TELECOM_EVENTS),
        ),
    ),
    # --- provider stores: card sector ---
    Table(
        "merchants",
        "provider",
        (_id("merchant_id"), _text("name"), _text("category"), _text("address"), _lat(), _lon()),
    ),
    Table("card_holders", "provider", (_id("issuer"), _id("card_id"), _id("person_ref"))),
    Table(
        "card_transactions",
        "provider",
        (
            _id("issuer"),
            _id("card_id"),
            _ts("ts"),
            _id("merchant_id"),
            Column("amount", Kind.FLOAT),
            _choice("channel", *CARD_CHANNELS),
        ),
    ),
    Table(
        "transit_taps",
        "provider",
        (
            _id("issuer"),
            _id("card_id"),
            _ts("ts"),
            _id("stop_id"),
            _text("stop_name"),
            _lat(),
            _lon(),
            _choice("mode", *TRANSIT_MODES),
            _choice("tap", *TRANSIT_TAPS),
        ),
        optional=True,
    ),
    # --- other sources ---
    Table(
        "gps_points",
        "provider",
        (_id("person_ref"), _ts("ts"), _lat(), _lon(), _nonneg("accuracy_m", nullable=True)),
        optional=True,
    ),
    Table(
        "entry_logs",
        "provider",
        (
            _id("operator"),
            _id("venue_id"),
            _text("venue_name"),
            _text("category"),
            _lat(),
            _lon(),
            _id("visitor"),
            _ts("ts"),
        ),
        optional=True,
    ),
    # --- investigation inputs ---
    Table(
        "interview_visits",
        "investigation",
        (
            _id("person_ref"),
            _ts("start"),
            _ts("end"),
            _text("place_name"),
            _text("address", nullable=True),
            _lat(nullable=True),
            _lon(nullable=True),
        ),
        ordered=(("start", "end"),),
    ),
    Table(
        "cases",
        "investigation",
        (
            _id("case_id"),
            _id("person_ref"),
            Column("confirmed_date", Kind.DATE),
            Column("onset_date", Kind.DATE, nullable=True),
            _text("region"),
            # The region's name, e.g. 대구광역시 북구 when region is the 시군구 code 27230.
            _text("region_name", nullable=True),
        ),
    ),
    # --- simulator ground truth (truth/ sub-folder) ---
    Table(
        "places",
        "truth",
        (
            _id("place_id"),
            _text("kind"),
            _text("name"),
            _lat(),
            _lon(),
            _id("merchant_id", nullable=True),
        ),
    ),
    Table(
        "visits",
        "truth",
        (_id("person_ref"), _id("place_id"), _ts("start"), _ts("end")),
        ordered=(("start", "end"),),
    ),
    Table(
        "infections",
        "truth",
        (
            _id("infectee"),
            _id("infector", nullable=True),
            _id("place_id", nullable=True),
            _ts("ts"),
        ),
    ),
    # --- analysis outputs ---
    Table(
        "stays",
        "output",
        (
            _id("person_ref"),
            Column("seq", Kind.INT, min=1),
            _ts("start"),
            _ts("end"),
            _lat(),
            _lon(),
            _nonneg("radius_m"),
            _text("place_name", nullable=True),
            _text("sources"),
            Column("confidence", Kind.FLOAT, min=0.0, max=1.0),
            # The legal district holding lat/lon, in Korean; empty outside Korea or at sea.
            _text("sido", nullable=True),
            _text("sigungu", nullable=True),
            _text("emd", nullable=True),
            _id("sigungu_code", nullable=True),
        ),
        ordered=(("start", "end"),),
    ),
    Table(
        "contacts",
        "output",
        (
            _id("person_ref"),
            Column("contact_ref", Kind.ID),
            _text("via"),
            _text("place_name", nullable=True),
            _lat(),
            _lon(),
            _ts("start"),
            _ts("end"),
            _nonneg("overlap_min"),
            Column("score", Kind.FLOAT),
            # close, possible or broad (analysis/contacts.py); empty in files written before.
            Column("tier", Kind.TEXT, nullable=True, choices=("close", "possible", "broad")),
        ),
        ordered=(("start", "end"),),
    ),
    Table(
        "links",
        "output",
        (
            _id("source_case"),
            _id("target_case"),
            # The named place, else its 읍면동; "home" for a shared home.
            _text("place_name", nullable=True),
            _lat(),
            _lon(),
            _ts("start"),
            _ts("end"),
            _nonneg("overlap_min"),
            _text("via"),
            Column("score", Kind.FLOAT, min=0.0, max=1.0),
            # Beyond the contract's columns (optional): the district of the place,
            # the days from the meeting to the target's onset, the meetings counted.
            _text("sido", nullable=True),
            _text("sigungu", nullable=True),
            _text("emd", nullable=True),
            Column("incubation_days", Kind.FLOAT, nullable=True),
            Column("meetings", Kind.INT, nullable=True, min=1),
        ),
        ordered=(("start", "end"),),
    ),
    Table(
        "chains",
        "output",
        (
            Column("chain_id", Kind.INT, min=1),
            _id("case_id"),
            Column("generation", Kind.INT, min=0),
        ),
    ),
    Table(
        "hotspots",
        "output",
        (
            Column("cluster_id", Kind.INT, min=1),
            _lat(),
            _lon(),
            _nonneg("radius_m"),
            _ts("start"),
            _ts("end"),
            Column("cases", Kind.INT, min=0),
            _nonneg("expected"),
            Column("p_value", Kind.FLOAT, min=0.0, max=1.0),
        ),
        ordered=(("start", "end"),),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in _TABLES}

PROVIDER_TABLES = tuple(t.name for t in _TABLES if t.group == "provider")
TRUTH_TABLES = tuple(t.name for t in _TABLES if t.group == "truth")


def table(name: str) -> Table:
    """The declaration of a contract table, by its file stem."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def empty_table(name: str) -> pa.Table:
    """A zero-row Arrow table with the contract's schema."""
    return table(name).arrow_schema.empty_table()
