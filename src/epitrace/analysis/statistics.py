"""The figures the dashboard shows, computed once, here: Arrow tables in and out.

- ``epidemic_curve(cases, by="onset"|"confirmed")``: cases per day, every day
  of the span present (zeros included), with the running total.
- ``cases_by_region(cases)``: cases per region, largest first, with shares.
- ``attack_rates(exposures, cases)``: per place kind, the share of exposed
  people who became cases, with a Wilson 95 % interval.
- ``turnaround_times(requests)``: hours from a request's creation to its
  answer, per group (agency, kind, ...) or overall.
- ``curve_by_group(cases, by, group)``: the epidemic curve split by a column
  (region), every day x every group, for stacked charts; ``per_week`` sums it
  per week.
- ``turnaround_stages(requests, stages)``: ``turnaround_times`` for each step
  of a request (request -> approval -> answers -> analysis) in one table.
- ``counts_by(table, columns)``: rows per combination of columns (requests by
  agency and status, data accesses per user), largest first.

A ``count`` column, when present in ``cases``, weighs each row (anonymous
aggregates of purged cases: one row per day and region with its count).

Inputs are contract tables (``cases``) or small documented tables the caller
assembles (exposures from stays or truth visits, requests from the hub's
database); nothing here reads files or knows where the data came from.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def _require(data: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise ValueError(f"{what} lack column(s): {', '.join(missing)}")


# --- epidemic curve --------------------------------------------------------


def _weights(cases: pa.Table) -> np.ndarray:
    """How many cases each row stands for: its ``count`` if given, else one."""
    if "count" not in cases.column_names:
        return np.ones(cases.num_rows, dtype=np.int64)
    counts = pc.fill_null(pc.cast(cases.column("count"), pa.int64()), 0)
    return counts.to_numpy(zero_copy_only=False).astype(np.int64)


def epidemic_curve(cases: pa.Table, by: Literal["onset", "confirmed"] = "confirmed") -> pa.Table:
    """Cases per day by onset or confirmation date: ``date``, ``cases``, ``cumulative``.

    Every day from the first to the last date is a row (zeros included), so a
    chart's axis is continuous. By onset, cases without an onset date (no
    symptoms) are left out; their number is in the table's metadata
    (``b"without_date"``) so the dashboard can say how many.
    """
    column = {"onset": "onset_date", "confirmed": "confirmed_date"}.get(by)
    if column is None:
        raise ValueError(f"by must be 'onset' or 'confirmed', got {by!r}")
    _require(cases, (column,), "cases")
    dates = pc.cast(cases.column(column), pa.date32())
    weights = _weights(cases)
    without = int(weights[np.asarray(dates.is_null())].sum())
    known = np.asarray(dates.is_valid())
    days = dates.drop_null().to_numpy(zero_copy_only=False).astype("datetime64[D]")
    schema = pa.schema(
        [("date", pa.date32()), ("cases", pa.int64()), ("cumulative", pa.int64())],
        metadata={b"by": by.encode(), b"without_date": str(without).encode()},
    )
    if days.size == 0:
        return schema.empty_table()
    first, last = days.min(), days.max()
    offsets = (days - first).astype(np.int64)
    counts = np.bincount(offsets, weights=weights[known], minlength=int(offsets.max()) + 1)
    counts = counts.astype(np.int64)
    span = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    return pa.Table.from_arrays(
        [pa.array(span, pa.date32()), pa.array(counts, pa.int64()), pa.array(np.cumsum(counts))],
        schema=schema,
    )


def curve_by_group(
    cases: pa.Table, by: Literal["onset", "confirmed"] = "confirmed", group: str = "region"
) -> pa.Table:
    """``date``, ``group``, ``cases``: every day of the whole span for every group
    (zeros included, groups in name order; an empty group as ''), so stacked bars
    line up. Cases without the date are left out, as in ``epidemic_curve``."""
    _require(cases, (group,), "cases")
    overall = epidemic_curve(cases, by)
    schema = pa.schema([("date", pa.date32()), ("group", pa.string()), ("cases", pa.int64())])
    if overall.num_rows == 0:
        return schema.empty_table()
    names = pc.fill_null(pc.cast(cases.column(group), pa.string()), "").to_pylist()
    dates, groups, counts = [], [], []
    for name in sorted(set(names)):
        mine = cases.filter(pa.array([n == name for n in names]))
        curve = epidemic_curve(mine, by)
        per_day = dict(
            zip(curve.column("date").to_pylist(), curve.column("cases").to_pylist(), strict=True)
        )
        for day in overall.column("date").to_pylist():
            dates.append(day)
            groups.append(name)
            counts.append(per_day.get(day, 0))
    return pa.Table.from_pydict({"date": dates, "group": groups, "cases": counts}, schema=schema)


def per_week(curve: pa.Table) -> pa.Table:
    """A ``curve_by_group`` table summed per week: ``week`` (its Monday), ``group``,
    ``cases``; for spans too long to read day by day."""
    days = curve.column("date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    # 1970-01-01 was a Thursday: shift by 3 days so weeks start on Mondays.
    mondays = ((days.astype(np.int64) + 3) // 7 * 7 - 3).astype("datetime64[D]")
    table = pa.table(
        {
            "week": pa.array(mondays, pa.date32()),
            "group": curve.column("group"),
            "cases": curve.column("cases"),
        }
    )
    summed = table.group_by(["week", "group"]).aggregate([("cases", "sum")])
    summed = summed.rename_columns(["week", "group", "cases"]).select(["week", "group", "cases"])
    return summed.sort_by([("week", "ascending"), ("group", "ascending")])


# --- regions ---------------------------------------------------------------


def cases_by_region(cases: pa.Table) -> pa.Table:
    """``region``, ``cases``, ``share``: largest first, ties by name; empty region as ''."""
    _require(cases, ("region",), "cases")
    regions = pc.fill_null(pc.cast(cases.column("region"), pa.string()), "")
    weights = pa.array(_weights(cases))
    counts = (
        pa.table({"region": regions, "n": weights}).group_by("region").aggregate([("n", "sum")])
    )
    total = max(int(weights.to_numpy().sum()), 1)
    table = pa.table(
        {
            "region": counts.column("region"),
            "cases": pc.cast(counts.column("n_sum"), pa.int64()),
        }
    )
    table = table.append_column(
        "share", pc.divide(pc.cast(table.column("cases"), pa.float64()), total)
    )
    return table.sort_by([("cases", "descending"), ("region", "ascending")])


# --- attack rates ----------------------------------------------------------


def wilson_interval(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95 % interval of a proportion; sensible for small counts and 0 or 1."""
    n = np.asarray(trials, dtype=float)
    p = np.divide(successes, n, out=np.zeros_like(n), where=n > 0)
    z2 = Z_95**2
    denominator = 1 + z2 / np.maximum(n, 1)
    centre = (p + z2 / (2 * np.maximum(n, 1))) / denominator
    half = (
        Z_95 * np.sqrt(p * (1 - p) / np.maximum(n, 1) + z2 / (4 * np.maximum(n, 1) ** 2))
    ) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def attack_rates(exposures: pa.Table, cases: pa.Table, by: str = "place_kind") -> pa.Table:
    """Share of exposed people who became cases, per place kind (or another column).

    ``exposures`` has one row per exposure: ``person_ref`` and ``by`` (e.g.
    ``place_kind``; from stays joined to places, from truth visits, or from
    contact lists). A person counts once per kind however often exposed; they
    count as a case if their ``person_ref`` is in ``cases``. Returns ``by``,
    ``exposed``, ``cases``, ``attack_rate``, ``ci_low``, ``ci_high`` (Wilson
    95 %), highest rate first. The rate is crude: it does not say the
    exposure caused the infection.
    """
    _require(exposures, ("person_ref", by), "exposures")
    _require(cases, ("person_ref",), "cases")
    pairs = (
        exposures.select([by, "person_ref"])
        .filter(pc.is_valid(exposures.column("person_ref")))
        .group_by([by, "person_ref"])
        .aggregate([])
    )
    is_case = pc.is_in(pairs.column("person_ref"), cases.column("person_ref").unique())
    pairs = pairs.append_column("is_case", pc.cast(is_case, pa.int64()))
    grouped = pairs.group_by(by).aggregate([("person_ref", "count"), ("is_case", "sum")])
    exposed = grouped.column("person_ref_count").to_numpy().astype(np.int64)
    infected = grouped.column("is_case_sum").to_numpy().astype(np.int64)
    low, high = wilson_interval(infected, exposed)
    table = pa.table(
        {
            by: grouped.column(by),
            "exposed": pa.array(exposed),
            "cases": pa.array(infected),
            "attack_rate": pa.array(infected / np.maximum(exposed, 1)),
            "ci_low": pa.array(low),
            "ci_high": pa.array(high),
        }
    )
    return table.sort_by([("attack_rate", "descending"), (by, "ascending")])


# --- request turnaround ----------------------------------------------------


def turnaround_times(requests: pa.Table, by: str | None = None) -> pa.Table:
    """Hours from ``created`` to ``answered`` per ``by`` group (or one row overall).

    ``requests`` has ``created`` and ``answered`` timestamps (``answered``
    null while pending) and optionally the ``by`` column (agency, request
    kind). Returns the group, ``requests``, ``answered``, ``pending``, and the
    ``median_h``, ``p90_h``, ``mean_h``, ``max_h`` of the answered ones (null
    when none is answered). Answers before their creation are an error.
    """
    _require(requests, ("created", "answered", *((by,) if by else ())), "requests")
    created = pc.cast(requests.column("created"), pa.timestamp("us", tz="UTC"))
    answered = pc.cast(requests.column("answered"), pa.timestamp("us", tz="UTC"))
    hours = pc.divide(
        pc.cast(pc.microseconds_between(created, answered), pa.float64()), 3_600_000_000.0
    )
    negative = pc.sum(pc.less(hours, 0)).as_py() or 0
    if negative:
        raise ValueError(f"{negative} request(s) answered before they were created")
    groups = requests.column(by).to_pylist() if by else ["all"] * requests.num_rows
    values = hours.to_numpy(zero_copy_only=False)
    rows: dict[str, list] = {
        by or "group": [],
        "requests": [],
        "answered": [],
        "pending": [],
        "median_h": [],
        "p90_h": [],
        "mean_h": [],
        "max_h": [],
    }
    names = np.array(groups, dtype=object)
    for group in sorted(set(groups), key=lambda g: (g is None, str(g))):
        mine = values[names == group]
        done = mine[~np.isnan(mine)]
        rows[by or "group"].append(group)
        rows["requests"].append(int(mine.size))
        rows["answered"].append(int(done.size))
        rows["pending"].append(int(mine.size - done.size))
        for key, value in (
            ("median_h", np.median(done) if done.size else None),
            ("p90_h", np.quantile(done, 0.9) if done.size else None),
            ("mean_h", done.mean() if done.size else None),
            ("max_h", done.max() if done.size else None),
        ):
            rows[key].append(None if value is None or math.isnan(value) else float(value))
    types = {"requests": pa.int64(), "answered": pa.int64(), "pending": pa.int64()}
    return pa.table(
        {
            name: pa.array(
                column, types.get(name, pa.float64()) if name != (by or "group") else None
            )
            for name, column in rows.items()
        }
    )


def turnaround_stages(requests: pa.Table, stages: list[tuple[str, str, str]]) -> pa.Table:
    """``turnaround_times`` for each step of a request, one row per step.

    ``stages`` are (name, from column, to column), e.g. ("approval", "created",
    "decided"); a request counts in a step once it reached its start (a null
    start: not yet there). Returns ``stage`` then the columns of
    ``turnaround_times`` (``requests`` = reached the step, ``answered`` = done).
    """
    parts = []
    for name, start, end in stages:
        _require(requests, (start, end), "requests")
        reached = requests.filter(pc.is_valid(requests.column(start)))
        step = pa.table({"created": reached.column(start), "answered": reached.column(end)})
        times = turnaround_times(step).drop_columns(["group"])
        if times.num_rows == 0:  # nobody reached this step: still a row, of zeros
            zeros = {"requests": [0], "answered": [0], "pending": [0]}
            times = pa.table(
                {f.name: pa.array(zeros.get(f.name, [None]), f.type) for f in times.schema}
            )
        parts.append(times.add_column(0, "stage", pa.array([name], pa.string())))
    if not parts:
        empty = turnaround_times(pa.table({"created": [], "answered": []}))
        return empty.drop_columns(["group"]).add_column(0, "stage", pa.array([], pa.string()))
    return pa.concat_tables(parts)


def counts_by(table: pa.Table, columns: list[str]) -> pa.Table:
    """Rows per combination of ``columns`` (nulls as ''), as ``columns`` + ``count``,
    largest first, ties in column order."""
    _require(table, tuple(columns), "rows")
    keys = {c: pc.fill_null(pc.cast(table.column(c), pa.string()), "") for c in columns}
    keyed = pa.table({**keys, "n": pa.array(np.ones(table.num_rows, dtype=np.int64))})
    grouped = keyed.group_by(columns).aggregate([("n", "sum")]).rename_columns([*columns, "count"])
    grouped = grouped.select([*columns, "count"])
    return grouped.sort_by([("count", "descending"), *((c, "ascending") for c in columns)])
