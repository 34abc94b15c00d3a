"""Cases aggregated to (location, day) cells: the input side of the scan.

A case event is a point (lat, lon) and an instant ``ts`` (or a calendar
``day``). The scan works on distinct locations in projected metres and on
whole days of the study period, so this module validates the input table at
the boundary, projects the coordinates and numbers the days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Transformer

from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS


@dataclass(frozen=True)
class CaseCells:
    """Cases grouped by distinct location, each case with its study-day index.

    The cases of location ``l`` are ``case_day[case_start[l]:case_start[l + 1]]``.
    Day 0 is ``first_day``; the study period has ``n_days`` days.

    When rows are places of cases (several rows per case), ``case_of_row``
    numbers the case of each row in the same order and ``day_of_case`` gives
    each case's one day; both are ``None`` when every row is its own case.
    The scan counts cases: ``row_case``, ``days_of_cases``, ``n_cases`` and
    ``day_totals`` cover both layouts.
    """

    lat: np.ndarray  # float64[L]
    lon: np.ndarray  # float64[L]
    x: np.ndarray  # float64[L], projected metres
    y: np.ndarray  # float64[L]
    case_start: np.ndarray  # int64[L + 1]
    case_day: np.ndarray  # int32[N], grouped by location, sorted by day within one
    first_day: dt.date
    n_days: int
    source_row: np.ndarray  # int64[N], each row's row in the input table
    case_of_row: np.ndarray | None = None  # int64[N], 0 .. K - 1
    day_of_case: np.ndarray | None = None  # int32[K]

    @property
    def n_rows(self) -> int:
        return int(self.case_day.size)

    @property
    def row_case(self) -> np.ndarray:
        """The case of each row (each row its own case without ``case_of_row``)."""
        if self.case_of_row is None:
            return np.arange(self.n_rows, dtype=np.int64)
        return self.case_of_row

    @property
    def days_of_cases(self) -> np.ndarray:
        """Each case's day: what the replications permute."""
        return self.case_day if self.day_of_case is None else self.day_of_case

    @property
    def n_cases(self) -> int:
        return int(self.days_of_cases.size)

    @property
    def n_locations(self) -> int:
        return int(self.lat.size)

    @property
    def location_totals(self) -> np.ndarray:
        """Rows of each location (its cases when every row is a case)."""
        return np.diff(self.case_start)

    @property
    def day_totals(self) -> np.ndarray:
        """Cases of each day."""
        return np.bincount(self.days_of_cases, minlength=self.n_days).astype(np.int64)


def project(lat: np.ndarray, lon: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 degrees to (x, y) metres in ``crs``."""
    to_metres = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_metres.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def check_case_columns(cases: pa.Table, case_column: str | None = None) -> None:
    """Raise ``ValueError`` unless ``cases`` has lat, lon, ts or day (and ``case_column``)."""
    wanted = ("lat", "lon", case_column) if case_column else ("lat", "lon")
    missing = [name for name in wanted if name not in cases.column_names]
    if not {"ts", "day"} & set(cases.column_names):
        missing.append("ts or day")
    if missing:
        raise ValueError(f"cases lack column(s): {', '.join(missing)}")


def case_cells(
    cases: pa.Table,
    *,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    case_column: str | None = None,
) -> CaseCells:
    """Validate ``cases`` (lat, lon and ts or day) and group them into cells.

    Days are calendar days in ``tz`` (a case at 23:30 KST belongs to that
    Korean day, not to the UTC one). The study period defaults to the first and
    last day with a case. With ``case_column``, rows with equal values there
    are one case's places and must all have that case's day. Raises
    ``ValueError`` naming the problem.
    """
    lat = checked_float_column(cases, "lat", -90.0, 90.0)
    lon = checked_float_column(cases, "lon", -180.0, 180.0)
    days = case_day_ordinals(cases, tz)
    if days.size == 0:
        raise ValueError("no cases to scan")
    first = first_day or dt.date.fromordinal(int(days.min()))
    last = last_day or dt.date.fromordinal(int(days.max()))
    if last < first:
        raise ValueError(f"study period ends ({last}) before it starts ({first})")
    day_index = days - first.toordinal()
    n_days = last.toordinal() - first.toordinal() + 1
    outside = int(np.count_nonzero((day_index < 0) | (day_index >= n_days)))
    if outside:
        raise ValueError(f"{outside} case(s) fall outside the study period {first}..{last}")

    # Distinct locations by exact coordinates; cases sorted by location then day.
    points = np.stack([lat, lon], axis=1)
    unique_points, location_of_case = np.unique(points, axis=0, return_inverse=True)
    location_of_case = location_of_case.ravel()
    order = np.lexsort((day_index, location_of_case))
    case_start = np.zeros(unique_points.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(location_of_case, minlength=unique_points.shape[0]), out=case_start[1:])
    x, y = project(unique_points[:, 0], unique_points[:, 1], crs)
    case_of_row = day_of_case = None
    if case_column is not None:
        case_of_row, day_of_case = _cases_of_rows(cases.column(case_column), day_index)
        case_of_row = case_of_row[order]
    return CaseCells(
        lat=unique_points[:, 0].copy(),
        lon=unique_points[:, 1].copy(),
        x=x,
        y=y,
        case_start=case_start,
        case_day=day_index[order].astype(np.int32),
        first_day=first,
        n_days=n_days,
        case_of_row=case_of_row,
        day_of_case=day_of_case,
        source_row=order,
    )


def case_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Each row's case as a number 0 .. K - 1; ``ValueError`` if one has none."""
    if column.null_count:
        raise ValueError(f"{column.null_count} row(s) have no case identifier")
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _cases_of_rows(column: pa.ChunkedArray, day_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's case number and each case's day; ``ValueError`` if a case has
    no identifier or rows on two days (a case is dated once: its places share it)."""
    case_of_row = case_numbers(column)
    day_of_case = one_day_per_case(
        case_of_row, day_index, "rows on different days; give each case one day"
    )
    return case_of_row, day_of_case.astype(np.int32)


def one_day_per_case(case_of_row: np.ndarray, day: np.ndarray, otherwise: str) -> np.ndarray:
    """Each case's day, from its rows' days (case numbers 0 .. K - 1); if some
    case's rows disagree, ``ValueError``: "N case(s) have ``otherwise``"."""
    n_cases = int(case_of_row.max()) + 1
    first = np.full(n_cases, np.iinfo(np.int64).max)
    last = np.full(n_cases, np.iinfo(np.int64).min)
    np.minimum.at(first, case_of_row, day)
    np.maximum.at(last, case_of_row, day)
    disagree = int(np.count_nonzero(first != last))
    if disagree:
        raise ValueError(f"{disagree} case(s) have {otherwise}")
    return first


def day_start_utc(day: dt.date, tz: str, hour: int = 0) -> dt.datetime:
    """The UTC instant at which local calendar ``day`` begins (or its ``hour``,
    0 .. 24, begins: 24 is the next day's start)."""
    day, hour = day + dt.timedelta(days=hour // 24), hour % 24
    local = dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz))
    return local.astimezone(dt.UTC)


def checked_float_column(cases: pa.Table, name: str, low: float, high: float) -> np.ndarray:
    column = cases.column(name)
    if column.null_count:
        raise ValueError(f"{column.null_count} case(s) have no {name}")
    values = column.to_numpy(zero_copy_only=False).astype(float, copy=False)
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} case(s) have a {name} outside [{low}, {high}]")
    return values


def case_day_ordinals(cases: pa.Table, tz: str) -> np.ndarray:
    """Proleptic Gregorian ordinal of each case's local calendar day."""
    name = "day" if "day" in cases.column_names else "ts"
    return local_day_ordinals(cases.column(name), tz, name)


def local_day_ordinals(column: pa.ChunkedArray, tz: str, name: str) -> np.ndarray:
    """Proleptic Gregorian ordinal of the local calendar day of each value of
    column ``name``: a timestamp with a time zone, or dates (``ts`` must be a
    timestamp); ``ValueError`` on nulls or values that are neither."""
    if column.null_count:
        raise ValueError(f"{column.null_count} case(s) have no {name}")
    if not pa.types.is_timestamp(column.type) and name != "ts":
        epoch_days = pc.cast(column, pa.date32()).to_numpy(zero_copy_only=False)
        return epoch_days.astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL
    if not pa.types.is_timestamp(column.type) or column.type.tz is None:
        raise ValueError(f"cases' {name} must be a timestamp with a time zone (UTC in epitrace)")
    local = pc.local_timestamp(pc.cast(column, pa.timestamp("us", tz=tz)))
    local_days = local.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    return local_days.astype(np.int64) + _EPOCH_ORDINAL


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
