"""The three bounded query kinds a provider store answers, written once in Ibis.

An investigator never browses an agency's data: each agency answers only
narrow, approved questions from its own store (``providers/store.py``):

- ``SubjectExtract``: one identifier's records in a window (a subscriber at a
  carrier, a card at an issuer, a visitor's phone at an entry-log operator, a
  person_ref in the GPS store or the association's card directory);
- ``PlaceTimePresence``: who was at up to 10 places (point ± radius) during a
  window, optionally only within a daily time-of-day window that may cross
  midnight, staying at least ``min_dwell_min`` (carriers: subscribers attached
  to cells whose coverage circle intersects a place; entry-log operators:
  check-ins at venues inside a place);
- ``MerchantTime``: cards used at given merchants, or at merchants within a
  radius of a point, during a window ± a margin (card issuers).

Each parameter set is validated against hard limits on construction and
refused with ``QueryRefused(reason)`` beyond them. Each query is one Ibis
expression, run on DuckDB over the store's Parquet (default) or on Apache
Spark (``SparkEngine``); answers are Arrow tables with fixed schemas, sorted,
timestamps in µs UTC, so both engines give byte-identical answers.

Dwell (carriers): within one daily window (or the whole window when there is
no daily one), the time from the subscriber's first to last record in the
selected cells. Records in other cells in between (ping-pong, strays) neither
break nor extend it; 1-second resolution. One answer row per subscriber and
daily window in which the dwell reaches ``min_dwell_min``. Entry logs record
check-ins only, never check-outs, so a check-in counts as presence whatever
``min_dwell_min`` says; the answer reports first and last check-in per window.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.defaults import DEFAULT_TZ
from epitrace.distances import EARTH_RADIUS_M
from epitrace.errors import UserInputError
from epitrace.formats.schemas import MAX_ID_CHARS, TIMESTAMP, table
from epitrace.providers.store import MANIFEST

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Hard limits: an approval covers a narrow question, never a bulk copy.
MAX_WINDOW_DAYS = 31
MAX_RADIUS_M = 2_000.0
MAX_PLACES = 10
MAX_MERCHANTS = 10
MAX_MARGIN_MIN = 180.0
MAX_DWELL_MIN = 24 * 60.0


class QueryRefused(UserInputError, ValueError):
    """A query beyond the hard limits, malformed, or not for this store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse_unless(ok: bool, reason: str) -> None:
    if not ok:
        raise QueryRefused(reason)


def _check_identifier(value: object, what: str) -> None:
    _refuse_unless(
        isinstance(value, str) and value.strip() != "" and len(value) <= MAX_ID_CHARS,
        f"{what} must be a non-empty string of at most {MAX_ID_CHARS} characters",
    )


def _check_window(start: object, end: object, max_days: float = MAX_WINDOW_DAYS) -> None:
    for name, value in (("start", start), ("end", end)):
        _refuse_unless(isinstance(value, dt.datetime), f"{name} must be a datetime")
        assert isinstance(value, dt.datetime)
        _refuse_unless(value.tzinfo is not None, f"{name} has no UTC offset")
    assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
    _refuse_unless(end > start, "end must come after start")
    _refuse_unless(
        end - start <= dt.timedelta(days=max_days),
        f"the window is longer than {max_days:g} days",
    )


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Circle:
    """A place: a point (WGS 84) and a radius in metres."""

    lat: float
    lon: float
    radius_m: float

    def __post_init__(self) -> None:
        _refuse_unless(_finite(self.lat) and -90 <= self.lat <= 90, "lat must be in [-90, 90]")
        _refuse_unless(_finite(self.lon) and -180 <= self.lon <= 180, "lon must be in [-180, 180]")
        _refuse_unless(
            _finite(self.radius_m) and 0 <= self.radius_m <= MAX_RADIUS_M,
            f"radius_m must be between 0 and {MAX_RADIUS_M:g} m",
        )


@dataclass(frozen=True)
class DailyWindow:
    """A time of day window repeated every day, e.g. 00:00-05:00; may cross midnight."""

    start: dt.time
    end: dt.time
    tz: str = DEFAULT_TZ  # sent as "timezone" in a task (providers/protocol.py)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            _refuse_unless(
                isinstance(value, dt.time) and value.tzinfo is None,
                f"daily {name} must be a time of day without a zone (the zone is separate)",
            )
        _refuse_unless(self.start != self.end, "daily window start and end must differ")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise QueryRefused(f"unknown time zone {self.tz!r}") from None

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def intervals(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """The concrete [from, to) instants in UTC, clipped to [start, end)."""
        zone = ZoneInfo(self.tz)
        day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last_day = end.astimezone(zone).date()
        found = []
        while day <= last_day:
            begins = dt.datetime.combine(day, self.start, tzinfo=zone)
            ends_on = day + dt.timedelta(days=1) if self.crosses_midnight else day
            ends = dt.datetime.combine(ends_on, self.end, tzinfo=zone)
            lo, hi = max(begins, start), min(ends, end)
            if lo < hi:
                found.append((lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)))
            day += dt.timedelta(days=1)
        return found


@dataclass(frozen=True)
class SubjectExtract:
    """One identifier's records in [start, end): a subscriber, card, visitor or person_ref."""

    identifier: str
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        _check_identifier(self.identifier, "identifier")
        _check_window(self.start, self.end)


@dataclass(frozen=True)
class PlaceTimePresence:
    """Who was at any of ``places`` in [start, end), optionally only in a daily window."""

    places: tuple[Circle, ...]
    start: dt.datetime
    end: dt.datetime
    daily: DailyWindow | None = None
    min_dwell_min: float = 0.0

    def __post_init__(self) -> None:
        _refuse_unless(
            isinstance(self.places, tuple | list) and 1 <= len(self.places) <= MAX_PLACES,
            f"give between 1 and {MAX_PLACES} places",
        )
        _refuse_unless(all(isinstance(p, Circle) for p in self.places), "places must be Circles")
        _check_window(self.start, self.end)
        _refuse_unless(
            self.daily is None or isinstance(self.daily, DailyWindow),
            "daily must be a DailyWindow",
        )
        _refuse_unless(
            _finite(self.min_dwell_min) and 0 <= self.min_dwell_min <= MAX_DWELL_MIN,
            f"min_dwell_min must be between 0 and {MAX_DWELL_MIN:g} minutes",
        )
        _refuse_unless(bool(self.windows()), "the daily window never falls inside the window")

    def windows(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The [from, to) intervals in UTC over which dwell is measured separately."""
        if self.daily is None:
            return [(self.start.astimezone(dt.UTC), self.end.astimezone(dt.UTC))]
        return self.daily.intervals(self.start, self.end)


@dataclass(frozen=True)
class MerchantTime:
    """Cards used at ``merchant_ids`` or at merchants inside ``near``, in [start, end) ± margin."""

    start: dt.datetime
    end: dt.datetime
    merchant_ids: tuple[str, ...] = ()
    near: Circle | None = None
    margin_min: float = 0.0
    include_online: bool = False  # online payments say nothing about where the holder was

    def __post_init__(self) -> None:
        _check_window(self.start, self.end)
        _refuse_unless(
            (len(self.merchant_ids) > 0) != (self.near is not None),
            "give either merchant_ids or near, not both and not neither",
        )
        _refuse_unless(
            len(self.merchant_ids) <= MAX_MERCHANTS, f"give at most {MAX_MERCHANTS} merchants"
        )
        for merchant in self.merchant_ids:
            _check_identifier(merchant, "merchant_id")
        _refuse_unless(self.near is None or isinstance(self.near, Circle), "near must be a Circle")
        _refuse_unless(
            _finite(self.margin_min) and 0 <= self.margin_min <= MAX_MARGIN_MIN,
            f"margin_min must be between 0 and {MAX_MARGIN_MIN:g} minutes",
        )

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        margin = dt.timedelta(minutes=self.margin_min)
        return (self.start - margin).astimezone(dt.UTC), (self.end + margin).astimezone(dt.UTC)


Query = SubjectExtract | PlaceTimePresence | MerchantTime


# --- answers: fixed Arrow schemas, identical from every engine ---

PRESENCE_SCHEMA = pa.schema(
    [
        ("carrier", pa.string()),
        ("subscriber", pa.string()),
        ("person_ref", pa.string()),
        ("window_start", TIMESTAMP),
        ("window_end", TIMESTAMP),
        ("first_seen", TIMESTAMP),
        ("last_seen", TIMESTAMP),
        ("records", pa.int64()),
        ("cells", pa.int64()),
        ("dwell_min", pa.float64()),
    ]
)
CHECKIN_SCHEMA = pa.schema(
    [
        ("operator", pa.string()),
        ("visitor", pa.string()),
        ("venue_id", pa.string()),
        ("venue_name", pa.string()),
        ("window_start", TIMESTAMP),
        ("window_end", TIMESTAMP),
        ("first_checkin", TIMESTAMP),
        ("last_checkin", TIMESTAMP),
        ("checkins", pa.int64()),
    ]
)
MERCHANT_TIME_SCHEMA = pa.schema(
    [
        ("issuer", pa.string()),
        ("card_id", pa.string()),
        ("person_ref", pa.string()),
        ("ts", TIMESTAMP),
        ("merchant_id", pa.string()),
        ("amount", pa.float64()),
        ("channel", pa.string()),
    ]
)
CARD_DIRECTORY_SCHEMA = pa.schema(
    [("person_ref", pa.string()), ("issuer", pa.string()), ("cards", pa.int64())]
)


def conform_answer(data: pa.Table, schema: pa.Schema, sort: Sequence[str]) -> pa.Table:
    """Columns of ``schema`` in order, its types (µs UTC timestamps), rows sorted."""
    columns = []
    for name, kind in zip(schema.names, schema.types, strict=True):
        column = data.column(name)
        if pa.types.is_timestamp(kind) and column.type.tz is None:
            # Spark hands back naive instants in its session zone, which we pin to UTC.
            column = column.cast(pa.timestamp(column.type.unit)).cast(pa.timestamp("us", "UTC"))
        columns.append(column.cast(kind))
    conformed = pa.Table.from_arrays(columns, schema=schema)
    return conformed.sort_by([(c, "ascending") for c in sort]).combine_chunks()


# --- engines ---


class DuckDBEngine:
    """Runs Ibis expressions on an in-process DuckDB over the stores' Parquet."""

    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.con = ibis.duckdb.connect()
        self.con.raw_sql("SET TimeZone = 'UTC'")
        self.con.raw_sql("SET enable_progress_bar = false")  # the CLI's own output only
        if threads is not None:
            self.con.raw_sql(f"SET threads = {int(threads)}")
        self._tables: dict[Path, ir.Table] = {}

    def read(self, path: Path) -> ir.Table:
        if path not in self._tables:
            if path.is_dir():
                self._tables[path] = self.con.read_parquet(
                    str(path / "*" / "*.parquet"),
                    hive_partitioning=True,  # date=YYYY-MM-DD is auto-typed as DATE
                )
            else:
                self._tables[path] = self.con.read_parquet(str(path))
        return self._tables[path]

    def execute(self, expr: ir.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)


class SparkEngine:
    """Runs the same Ibis expressions on a PySpark session (local mode or a cluster)."""

    name = "spark"

    def __init__(self, session: Any) -> None:
        self.con = ibis.pyspark.connect(session)
        self._tables: dict[Path, ir.Table] = {}

    def read(self, path: Path) -> ir.Table:
        if path not in self._tables:
            # Spark discovers date=YYYY-MM-DD folders as a date column by itself.
            self._tables[path] = self.con.read_parquet(str(path))
        return self._tables[path]

    def execute(self, expr: ir.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)


Engine = DuckDBEngine | SparkEngine


@functools.cache
def default_engine() -> DuckDBEngine:
    return DuckDBEngine()


def local_spark_session(cores: int = 2, memory: str = "1g") -> Any:
    """A small local Spark session: loopback only, no UI, UTC, few shuffle partitions."""
    import os

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("epitrace-provider")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", memory)
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


# --- expressions shared by the query kinds ---


def _distance_m(lat: ir.FloatingValue, lon: ir.FloatingValue, place: Circle) -> ir.FloatingValue:
    """Haversine distance in metres from a column pair to a fixed point."""
    dlat = (lat - place.lat).radians() / 2
    dlon = (lon - place.lon).radians() / 2
    cos_place = math.cos(math.radians(place.lat))
    a = dlat.sin() ** 2 + lat.radians().cos() * cos_place * dlon.sin() ** 2
    return a.sqrt().asin() * (2 * EARTH_RADIUS_M)


def _in_window(t: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.BooleanValue:
    """[start, end) on ts, plus the date partitions it can touch (so the rest is never read)."""
    first_day = start.astimezone(dt.UTC).date()
    last_day = (end.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()
    return (
        (t.date >= first_day)
        & (t.date <= last_day)
        & (t.ts >= start.astimezone(dt.UTC))
        & (t.ts < end.astimezone(dt.UTC))
    )


def _window_index(ts: ir.TimestampValue, windows: list[tuple[dt.datetime, dt.datetime]]) -> Any:
    """Which daily window a record falls in (NULL when in none)."""
    if len(windows) == 1:
        lo, hi = windows[0]
        return ibis.ifelse((ts >= lo) & (ts < hi), 0, ibis.null("int64"))
    return ibis.cases(*[((ts >= lo) & (ts < hi), i) for i, (lo, hi) in enumerate(windows)])


def _with_windows(data: pa.Table, windows: list[tuple[dt.datetime, dt.datetime]]) -> pa.Table:
    """Replace the window index by the window's bounds."""
    index = data.column("window")
    starts = pa.array([w[0] for w in windows], TIMESTAMP)
    ends = pa.array([w[1] for w in windows], TIMESTAMP)
    return data.append_column("window_start", pc.take(starts, index)).append_column(
        "window_end", pc.take(ends, index)
    )


def _dwell_minutes(first: pa.ChunkedArray, last: pa.ChunkedArray) -> pa.Array:
    seconds = pc.divide(
        pc.subtract(last.cast(pa.int64()), first.cast(pa.int64())).cast(pa.float64()), 1e6
    )
    return pc.divide(seconds, 60.0)


# --- the stores' answers ---


class ProviderStore:
    """One agency's built store and the queries it answers."""

    def __init__(self, folder: Path | str, engine: Engine | None = None) -> None:
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{self.folder} is not a built provider store (no {MANIFEST})")
        self.manifest = json.loads(path.read_text())
        self.agency: str = self.manifest["agency"]
        self.kind: str = self.manifest["kind"]
        self.engine: Engine = engine if engine is not None else default_engine()

    def has(self, name: str) -> bool:
        return name in self.manifest["tables"]

    def _table(self, name: str) -> ir.Table:
        single = self.folder / f"{name}.parquet"
        return self.engine.read(single if single.is_file() else self.folder / name)

    def _run(self, expr: ir.Table) -> pa.Table:
        return self.engine.execute(expr)

    def _require(self, *kinds: str, query: str) -> None:
        _refuse_unless(
            self.kind in kinds, f"{self.agency} ({self.kind}) does not answer {query} queries"
        )

    def run(self, query: Query) -> pa.Table | dict[str, pa.Table]:
        """Answer any query kind this store can answer."""
        if isinstance(query, SubjectExtract):
            return self.subject_extract(query)
        if isinstance(query, PlaceTimePresence):
            return self.presence(query)
        if isinstance(query, MerchantTime):
            return self.merchant_time(query)
        raise QueryRefused(f"unknown query kind {type(query).__name__}")

    # subject extract

    def subject_extract(
        self, query: SubjectExtract, tables: Sequence[str] | None = None
    ) -> dict[str, pa.Table]:
        """The identifier's records, contract tables by name (only ``tables`` if given:
        an agency sends only what it was asked for)."""
        extract = {
            "carrier": self._subscriber_extract,
            "card_issuer": self._card_extract,
            "entry_operator": self._visitor_extract,
            "gps": self._gps_extract,
            "card_association": self._directory_extract,
        }[self.kind]
        found = extract(query)
        return {k: v for k, v in found.items() if not tables or k in tables}

    def _records(self, name: str, contract: str, key: str, query: SubjectExtract) -> pa.Table:
        if not self.has(name):
            return table(contract).arrow_schema.empty_table()
        t = self._table(name)
        expr = t.filter(t[key] == query.identifier, _in_window(t, query.start, query.end))
        expr = expr.select(*table(contract).column_names)
        sort = [key, "ts", *[c for c in table(contract).column_names if c not in (key, "ts")]]
        return conform_answer(self._run(expr), table(contract).arrow_schema, sort)

    def whole_registry(self, registry: str, columns: list[str]) -> pa.Table:
        """All rows of a small public directory (``merchants``, ``cells``): where places
        are, nothing about anyone."""
        if registry not in ("merchants", "cells"):
            raise QueryRefused(f"{registry} is not a public directory")
        return self._run(self._table(registry).select(*columns))

    def lookup(self, registry: str, column: str, values: list[str]) -> pa.Table:
        """Rows of a registry (``subscribers``, ``card_holders``, ...) whose ``column``
        is one of ``values``: how the exchange finds a person's lines and cards."""
        return self._registry_rows(registry, column, values)

    def _registry_rows(self, name: str, column: str, values: list[str]) -> pa.Table:
        schema = table(name).arrow_schema
        if not values or not self.has(name):
            return schema.empty_table()
        t = self._table(name)
        rows = self._run(t.filter(t[column].isin(values)).select(*schema.names))
        return conform_answer(rows, schema, schema.names[:2])

    def _subscriber_extract(self, query: SubjectExtract) -> dict[str, pa.Table]:
        records = self._records("telecom_by_subscriber", "telecom_records", "subscriber", query)
        cell_ids = sorted(set(records.column("cell_id").to_pylist()))
        return {
            "telecom_records": records,
            "cells": self._registry_rows("cells", "cell_id", cell_ids),
        }

    def _card_extract(self, query: SubjectExtract) -> dict[str, pa.Table]:
        payments = self._records("card_transactions_by_card", "card_transactions", "card_id", query)
        merchant_ids = sorted(set(payments.column("merchant_id").to_pylist()))
        return {
            "card_transactions": payments,
            "transit_taps": self._records("transit_taps", "transit_taps", "card_id", query),
            "merchants": self._registry_rows("merchants", "merchant_id", merchant_ids),
        }

    def _visitor_extract(self, query: SubjectExtract) -> dict[str, pa.Table]:
        return {
            "entry_logs": self._records("entry_logs_by_visitor", "entry_logs", "visitor", query)
        }

    def _gps_extract(self, query: SubjectExtract) -> dict[str, pa.Table]:
        return {"gps_points": self._records("gps_points", "gps_points", "person_ref", query)}

    def _directory_extract(self, query: SubjectExtract) -> dict[str, pa.Table]:
        """Which issuers hold this person's cards (the window does not apply to a registry)."""
        t = self._table("card_directory")
        rows = self._run(t.filter(t.person_ref == query.identifier))
        return {"card_directory": conform_answer(rows, CARD_DIRECTORY_SCHEMA, ["issuer"])}

    def issuers_holding(self, person_ref: str) -> list[str]:
        """The card issuers that hold cards of ``person_ref`` (association store only)."""
        self._require("card_association", query="card directory")
        far = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        query = SubjectExtract(person_ref, far, far + dt.timedelta(days=1))
        return self._directory_extract(query)["card_directory"].column("issuer").to_pylist()

    # place-time presence

    def presence(self, query: PlaceTimePresence) -> pa.Table:
        """Subscribers (carrier) or visitors (entry-log operator) present at the places."""
        self._require("carrier", "entry_operator", query="place-time presence")
        if self.kind == "entry_operator":
            return self._checkins(query)
        return self._attached(query)

    def _cells_near(self, places: Sequence[Circle]) -> list[str]:
        cells = self._table("cells")
        # A cell is a candidate when its coverage circle intersects a place's circle.
        near = functools.reduce(
            lambda a, b: a | b,
            [_distance_m(cells.lat, cells.lon, p) <= cells.radius_m + p.radius_m for p in places],
        )
        found = self._run(cells.filter(near).select("cell_id"))
        return sorted(found.column("cell_id").to_pylist())

    def _attached(self, query: PlaceTimePresence) -> pa.Table:
        cell_ids = self._cells_near(query.places)
        windows = query.windows()
        if not cell_ids:
            return PRESENCE_SCHEMA.empty_table()
        t = self._table("telecom_records")
        hits = t.filter(t.cell_id.isin(cell_ids), _in_window(t, query.start, query.end))
        hits = hits.mutate(window=_window_index(hits.ts, windows)).filter(
            lambda r: r.window.notnull()
        )
        stays = hits.group_by("carrier", "subscriber", "window").aggregate(
            first_seen=hits.ts.min(),
            last_seen=hits.ts.max(),
            records=hits.count(),
            cells=hits.cell_id.nunique(),
        )
        dwell_s = stays.last_seen.epoch_seconds() - stays.first_seen.epoch_seconds()
        stays = stays.filter(dwell_s >= query.min_dwell_min * 60)
        subscribers = self._table("subscribers")
        named = stays.left_join(subscribers, stays.subscriber == subscribers.subscriber).select(
            stays, person_ref=subscribers.person_ref
        )
        found = _with_windows(self._run(named), windows)
        found = found.append_column(
            "dwell_min", _dwell_minutes(found.column("first_seen"), found.column("last_seen"))
        )
        return conform_answer(found, PRESENCE_SCHEMA, ["window_start", "carrier", "subscriber"])

    def _checkins(self, query: PlaceTimePresence) -> pa.Table:
        if not self.has("entry_logs"):
            return CHECKIN_SCHEMA.empty_table()
        windows = query.windows()
        t = self._table("entry_logs")
        inside = functools.reduce(
            lambda a, b: a | b, [_distance_m(t.lat, t.lon, p) <= p.radius_m for p in query.places]
        )
        hits = t.filter(inside, _in_window(t, query.start, query.end))
        hits = hits.mutate(window=_window_index(hits.ts, windows)).filter(
            lambda r: r.window.notnull()
        )
        visits = hits.group_by("operator", "visitor", "venue_id", "venue_name", "window").aggregate(
            first_checkin=hits.ts.min(), last_checkin=hits.ts.max(), checkins=hits.count()
        )
        found = _with_windows(self._run(visits), windows)
        return conform_answer(
            found, CHECKIN_SCHEMA, ["window_start", "venue_id", "visitor", "first_checkin"]
        )

    # merchant-time

    def _merchants_near(self, place: Circle) -> list[str]:
        merchants = self._table("merchants")
        near = _distance_m(merchants.lat, merchants.lon, place) <= place.radius_m
        found = self._run(merchants.filter(near).select("merchant_id"))
        return sorted(found.column("merchant_id").to_pylist())

    def merchant_time(self, query: MerchantTime) -> pa.Table:
        """Card payments at the merchants in the window ± margin, with the holder's person_ref."""
        self._require("card_issuer", query="merchant-time")
        if query.near is not None:
            merchant_ids = self._merchants_near(query.near)
        else:
            merchant_ids = list(query.merchant_ids)
        if not merchant_ids or not self.has("card_transactions"):
            return MERCHANT_TIME_SCHEMA.empty_table()
        start, end = query.window()
        t = self._table("card_transactions")
        paid = t.filter(t.merchant_id.isin(merchant_ids), _in_window(t, start, end))
        if not query.include_online:
            paid = paid.filter(paid.channel == "offline")
        holders = self._table("card_holders")
        named = paid.left_join(holders, paid.card_id == holders.card_id).select(
            *[paid[c] for c in table("card_transactions").column_names],
            person_ref=holders.person_ref,
        )
        return conform_answer(
            self._run(named), MERCHANT_TIME_SCHEMA, ["ts", "card_id", "merchant_id", "amount"]
        )
