"""Replications that move whole cases by whole weeks.

The plain permutation test takes the rows (case events) as exchangeable: any
row's day could have been any other row's. Case events traced from stays are
not: one case's events share the person (their places lie around the same
home, their days around the same infection), and places keep weekly
schedules (a church's events are all Sundays, whoever the cases are). Both
read as space-time interaction, and a permutation that breaks them finds
"clusters" in cities without any (docs/accuracy.md, "Outbreak hotspots on
simulated cities").

Here the statistic stays Kulldorff's (the same LLR of the same cylinders,
rows counted as events), but the null distribution keeps the dependence. A
case's events are the case's *anchor* (its likely day of infection) plus
fixed offsets (the days of its visits relative to it). Under the null
hypothesis, when a case was infected does not depend on where it goes, so
the anchors are exchangeable among cases; and routines repeat weekly, so an
anchor can be exchanged only with one on the same weekday, which moves the
case's whole timeline by a whole number of weeks and keeps every event on
its weekday. A replication permutes anchors among the cases of each anchor
weekday and moves each case's rows by the difference; rows moved out of the
study period drop out of that replication (as they would have been cut off
had the case been infected then). Days' totals then differ per replication,
so each replication rebuilds its day tables.

A case whose traced window began before the study period is different: its
events could only be its visits inside the period, so the tracing's
"visit nearest the anchor" fell later than it would have: such cases have
their events days after the anchor and bunched within fewer days, while
later cases' sit just before it (docs/accuracy.md, "Five-week cities").
Moved into the middle of the period, such a case would be a tighter bunch
of events than any case there is, and the replicated maxima too high (the
test conservative). Those cases (anchor before ``movable_from``) stay where
they are in every replication; the others are exchanged among themselves.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

from epitrace.analysis.hotspots.cells import (
    CaseCells,
    case_numbers,
    local_day_ordinals,
    one_day_per_case,
)
from epitrace.analysis.hotspots.scan import count_tables, day_tables, scan_maximum

WEEK = 7
# Shift matrices are generated in blocks of about this many values.
PERMUTATION_BLOCK_VALUES = 4_000_000


def week_shifts(
    anchor_day: np.ndarray,
    replications: int,
    rng: np.random.Generator,
    movable: np.ndarray | None = None,
) -> np.ndarray:
    """``replications`` rows of one shift per case, in days (whole weeks): each
    row permutes the anchors (proleptic ordinals) among cases whose anchors
    share a weekday; a case's shift is its new anchor minus its own. Cases
    outside ``movable`` (a mask; all by default) keep shift 0 and lend no
    anchor to the others."""
    anchor = np.asarray(anchor_day, dtype=np.int64)
    shifts = np.zeros((replications, anchor.size), dtype=np.int64)
    weekday = anchor % WEEK
    moves = np.ones(anchor.size, dtype=bool) if movable is None else np.asarray(movable, bool)
    for stratum in np.unique(weekday[moves]):
        cases = np.flatnonzero((weekday == stratum) & moves)
        if cases.size < 2:
            continue
        drawn = rng.permuted(np.tile(anchor[cases], (replications, 1)), axis=1)
        shifts[:, cases] = drawn - anchor[cases]
    return shifts


@njit(cache=True)
def _moved_rows(
    row_day: np.ndarray,
    row_case: np.ndarray,
    case_start: np.ndarray,
    shift: np.ndarray,
    n_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows moved by their case's shift, those left inside the period kept:
    the new rows' days and each location's first new row."""
    n_locations = case_start.size - 1
    start = np.empty(n_locations + 1, dtype=np.int64)
    day = np.empty(row_day.size, dtype=np.int64)
    kept = 0
    for location in range(n_locations):
        start[location] = kept
        for i in range(case_start[location], case_start[location + 1]):
            moved = row_day[i] + shift[row_case[i]]
            if 0 <= moved < n_days:
                day[kept] = moved
                kept += 1
    start[n_locations] = kept
    return day[:kept], start


@njit(cache=True)
def _max_llr_of_moved(
    shift: np.ndarray, row_day: np.ndarray, setup: tuple, first_weekday: int
) -> float:
    """The maximum LLR of one replication: rows moved, tables rebuilt, scanned."""
    layout, tables, options = setup
    row_case, case_start, circle_start, circle_location, closes_step = layout
    n_days = tables[0].size
    day, start = _moved_rows(row_day, row_case, case_start, shift, n_days)
    if day.size < 2:
        return 0.0
    totals = np.zeros(n_days, dtype=np.int64)
    for d in day:
        totals[d] += 1
    log_count, xlogx = count_tables(day.size)
    moved_tables = day_tables(totals, options[0], first_weekday, log_count, xlogx)
    # Every moved row is its own event, as in the plain scan.
    moved = (np.arange(day.size), start, circle_start, circle_location, closes_step)
    return scan_maximum(day, (moved, moved_tables, options))


@njit(parallel=True, cache=True)
def max_llr_of_week_shifts(
    shifts: np.ndarray, row_day: np.ndarray, setup: tuple, first_weekday: int
) -> np.ndarray:
    """The maximum LLR of each row of ``shifts`` (a shift in days per case).

    ``row_day``: each row's study day, in location order; ``setup``:
    ``scan.scan_setup``'s, unadjusted, its rows' cases 0 .. K - 1 (the
    cases that shift), its tables those of the study period's days."""
    maxima = np.empty(shifts.shape[0])
    layout, tables, options = setup  # a parallel loop takes the parts (scan_setup)
    for r in prange(shifts.shape[0]):
        maxima[r] = _max_llr_of_moved(shifts[r], row_day, (layout, tables, options), first_weekday)
    return maxima


def case_anchors(
    cases: pa.Table, case_column: str, anchor_column: str, tz: str, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's case (rows in ``order``, the cells' location order) and each
    case's anchor day (proleptic ordinal); ``ValueError`` if a row has no case
    or no anchor, or one case has two anchors."""
    for name in (case_column, anchor_column):
        if name not in cases.column_names:
            raise ValueError(f"cases lack column {name!r}")
    case_of_row = case_numbers(cases.column(case_column))
    anchor_of_row = local_day_ordinals(cases.column(anchor_column), tz, anchor_column)
    disagreeing = f"rows with different {anchor_column} days; a case has one anchor"
    anchor = one_day_per_case(case_of_row, anchor_of_row, disagreeing)
    return case_of_row[order], anchor


def week_shift_maxima(
    cells: CaseCells,
    anchor: np.ndarray,
    setup: tuple,
    *,
    replications: int,
    seed: int,
    movable: np.ndarray | None = None,
) -> np.ndarray:
    """The maximum LLR of each of ``replications`` week-shift replications
    (only the cases in the ``movable`` mask move); ``setup`` is the scan's
    (``max_llr_of_week_shifts``)."""
    rng = np.random.default_rng(seed)
    block = max(1, PERMUTATION_BLOCK_VALUES // max(anchor.size, 1))
    row_day = cells.case_day.astype(np.int64)
    maxima = []
    for done in range(0, replications, block):
        shifts = week_shifts(anchor, min(block, replications - done), rng, movable)
        maxima.append(max_llr_of_week_shifts(shifts, row_day, setup, cells.first_day.weekday()))
    return np.concatenate(maxima) if maxima else np.empty(0)
