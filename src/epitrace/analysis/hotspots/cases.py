"""The space-time permutation scan with replications stratified by day of week.

Places keep weekly schedules: a church gathers its members on Sundays only, a
club on Friday and Saturday nights. Kulldorff's permutation model expects a
place's cases to follow the days of all cases, so a church's Sunday is
"more than expected" whenever a few cases worship there — a cluster that
needs no outbreak. On simulated null outbreaks (no place clustering) this
made some null cities significant (docs/accuracy.md).

The fix kept here is the one SaTScan offers for this model ("space by
day-of-week" adjustment) in its simplest valid form: the statistic is
unchanged, but each replication permutes the dates only among cases of the
same weekday, so a church's replicated cases stay on Sundays and the
replicated maxima carry the same weekly structure as the data. The test is
exact under the null hypothesis that dates are exchangeable within weekdays.
The scan itself (circles, windows, LLRs, secondary clusters) is
``clusters.scan_hotspots``'s, reused as is.

The price is power: each weekday stratum holds only the cases of as many
days as the period has weeks, and the replications keep every weekly peak,
so over two weeks a planted church event with a dozen cases is no longer
significant (docs/accuracy.md). Adjusting the *expected* counts by weekday
(SaTScan's way) would keep the power; it needs the compiled scan to take
per-weekday totals and is not done yet. Hence off by default.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots.cells import (
    KOREA_CRS,
    KOREA_TIMEZONE,
    case_cells,
    check_case_columns,
)
from epitrace.analysis.hotspots.circles import candidate_circles
from epitrace.analysis.hotspots.clusters import (
    MAX_CLUSTERS,
    MAX_DAYS,
    MAX_RADIUS_M,
    MAX_SHARE_OF_CASES,
    MIN_CASES,
    PERMUTATION_BLOCK_VALUES,
    REPLICATIONS,
    HotspotScan,
    _centres,
    _check_parameters,
    _non_overlapping_clusters,
    _ScanSetup,
)
from epitrace.analysis.hotspots.scan import max_llr_of_replications


def weekday_of_days(first_day: dt.date, case_day: np.ndarray) -> np.ndarray:
    """Weekday (0 = Monday) of each study-day index."""
    return (first_day.weekday() + case_day.astype(np.int64)) % 7


def permute_within_strata(
    case_day: np.ndarray, strata: np.ndarray, rows: int, rng: np.random.Generator
) -> np.ndarray:
    """``rows`` permutations of ``case_day``, each shuffling days only within a stratum."""
    permuted = np.tile(case_day, (rows, 1))
    for stratum in np.unique(strata):
        columns = np.flatnonzero(strata == stratum)
        if columns.size > 1:
            permuted[:, columns] = rng.permuted(permuted[:, columns], axis=1)
    return permuted


def scan_hotspots_by_weekday(
    cases: pa.Table,
    *,
    max_radius_m: float | None = MAX_RADIUS_M,
    max_share_of_cases: float = MAX_SHARE_OF_CASES,
    max_days: int = MAX_DAYS,
    min_cases: int = MIN_CASES,
    replications: int = REPLICATIONS,
    seed: int = 0,
    crs: str = KOREA_CRS,
    timezone: str = KOREA_TIMEZONE,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    max_clusters: int = MAX_CLUSTERS,
) -> HotspotScan:
    """``scan_hotspots`` (retrospective) with day-of-week stratified replications."""
    _check_parameters(max_radius_m, max_share_of_cases, max_days, min_cases, replications)
    check_case_columns(cases)
    if cases.num_rows == 0:
        return HotspotScan([], np.empty(0), 0, timezone)
    cells = case_cells(cases, crs=crs, timezone=timezone, first_day=first_day, last_day=last_day)
    centre_lat, centre_lon, centre_xy = _centres(cells, None, crs)
    circles = candidate_circles(
        centre_xy,
        np.column_stack([cells.x, cells.y]),
        cells.location_totals,
        max_radius_m=max_radius_m,
        max_cases=int(np.floor(max_share_of_cases * cells.n_cases)),
    )
    setup = _ScanSetup.of(cells, circles, min(max_days, cells.n_days), False, min_cases)
    best = setup.best_per_centre(cells.case_day)
    strata = weekday_of_days(cells.first_day, cells.case_day)
    rng = np.random.default_rng(seed)
    block = max(1, PERMUTATION_BLOCK_VALUES // max(cells.n_cases, 1))
    maxima = [
        max_llr_of_replications(
            permute_within_strata(cells.case_day, strata, min(block, replications - done), rng),
            *setup._arguments(),
        )
        for done in range(0, replications, block)
    ]
    replicated = np.concatenate(maxima) if maxima else np.empty(0)
    clusters = _non_overlapping_clusters(
        best, circles, cells, centre_lat, centre_lon, replicated, max_clusters
    )
    return HotspotScan(clusters, replicated, cells.n_cases, timezone, cells)
