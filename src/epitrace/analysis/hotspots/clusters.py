"""Outbreak hotspots: the space-time permutation scan from cases to clusters.

``find_hotspots`` takes case events (lat, lon and ts or day) and returns the
``hotspots`` table of ``spec/data-formats.md``: the most likely cluster first,
then secondary clusters that share no location with a more likely one
(SaTScan's default "no geographical overlap"), each with a Monte Carlo
p-value. ``scan_hotspots`` does the same and keeps the details (log-likelihood
ratios, locations, replicated maxima) for validation and reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots.cells import (
    CaseCells,
    case_cells,
    check_case_columns,
    day_start_utc,
    project,
)
from epitrace.analysis.hotspots.circles import Circles, candidate_circles
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.scan import (
    ScanTables,
    expected_cases,
    log_likelihood_ratio,
    max_llr_of_replications,
    scan_assignment,
    scan_setup,
    weekday_adjusted_expected,
    with_rows,
)
from epitrace.analysis.hotspots.shifts import case_anchors, week_shift_maxima
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.formats.schemas import table

# Replicated maxima this close to the observed LLR count as ties (>=): the
# compiled loop sums logs in another order than the reported LLR.
LLR_TIE_TOLERANCE = 1e-9
# Permuted day vectors are generated in blocks of about this many values.
PERMUTATION_BLOCK_VALUES = 4_000_000


@dataclass(frozen=True)
class Cluster:
    """One space-time cluster: a circle of locations over a window of days."""

    centre: int  # row of the centres
    lat: float
    lon: float
    radius_m: float  # distance from the centre to the farthest location inside
    first_day: dt.date
    last_day: dt.date  # inclusive
    cases: int
    expected: float
    llr: float
    p_value: float
    locations: np.ndarray  # indices into the scan's cells
    # Scans in slots of hours: the window begins at this hour of its first day and
    # ends (exclusive) at this hour of its last day; whole days otherwise.
    start_hour: int = 0
    end_hour: int = 24


@dataclass(frozen=True)
class HotspotScan:
    """The result of a scan with everything a validation needs."""

    clusters: list[Cluster]
    replicated_maxima: np.ndarray  # the maximum LLR of each replication
    n_cases: int
    tz: str
    cells: CaseCells | None = field(default=None, repr=False)

    def to_table(self) -> pa.Table:
        """The clusters as a ``hotspots`` table (1 = most likely)."""
        schema = table("hotspots").arrow_schema
        rows = {
            "cluster_id": list(range(1, len(self.clusters) + 1)),
            "lat": [c.lat for c in self.clusters],
            "lon": [c.lon for c in self.clusters],
            "radius_m": [c.radius_m for c in self.clusters],
            "start": [day_start_utc(c.first_day, self.tz, c.start_hour) for c in self.clusters],
            # The window is half-open: it ends when the day after its last day begins
            # (or, in slots of hours, when its last slot ends).
            "end": [day_start_utc(c.last_day, self.tz, c.end_hour) for c in self.clusters],
            "cases": [c.cases for c in self.clusters],
            "expected": [c.expected for c in self.clusters],
            "p_value": [c.p_value for c in self.clusters],
        }
        return pa.Table.from_pydict(rows, schema=schema)


def find_hotspots(cases: pa.Table, params: ScanParams | None = None, **options: Any) -> pa.Table:
    """Space-time clusters of ``cases`` by Kulldorff's permutation scan statistic.

    ``cases`` has one row per case: ``lat``, ``lon`` (WGS 84 degrees) and either
    ``ts`` (a timestamp with a time zone) or ``day`` (a date). No population is
    needed: the model compares each place's share of cases in a window of days
    with its share over the whole study period, so it finds outbreaks rather
    than dense neighbourhoods, and adjusts for purely spatial and purely
    temporal variation (Kulldorff et al. 2005, PLoS Med 2:e59).

    Parameters (``options`` are keywords, those of ``scan_hotspots``):

    - ``params``: the scan's settings (``ScanParams``, whose defaults are
      SaTScan's where it has one that fits): largest radius (m) and window
      (days), largest share of the cases in a circle, fewest cases,
      prospective or retrospective, weekday adjustment, Monte Carlo
      replications and seed, most clusters reported. Default ``ScanParams()``.
    - ``centres``: table of lat, lon circle centres; default the distinct case
      locations (SaTScan uses its coordinates file).
    - ``crs`` (``epitrace.defaults.PROJECTED_CRS``, EPSG:5179, Korea's unified
      grid in metres): projection in which distances are measured; give a
      local one elsewhere (a UTM zone or ``+proj=aeqd`` around the area).
    - ``tz`` (``epitrace.defaults.DEFAULT_TZ``, Asia/Seoul): calendar days are
      local days in this time zone.
    - ``first_day``, ``last_day``: the study period (default the span of the
      cases); the prospective window ends on ``last_day``.
    - ``case_column`` (None): when rows are the places of cases (several rows
      per case, e.g. the stays of a traced case), the column naming each
      row's case. Every row of a case carries the case's own day (e.g. its
      likely day of infection). A cylinder then counts *cases*: those with a
      place in its circle and their day in its window, each once however
      many of its places the circle holds; a circle's cases over the period
      and a day's cases over all places give the expectation as usual, and
      the replications permute days among cases. So the exchangeable unit of
      the permutation test is the case, as in SaTScan's case file: one case's
      many places cannot make a cluster on their own, and a place's weekly
      schedule (which cases go there) cannot either, since a case's day does
      not depend on when it went. ``max_share_of_cases`` then bounds a
      circle's share of all rows. None: every row is a case.
    - ``week_shifts`` (None): ``(case column, anchor column)`` when rows are
      one case's events on their own days (e.g. traced stays) and each case
      has an anchor day (its likely day of infection). The statistic is the
      plain one (rows counted as events), but the replications move whole
      cases: anchors are permuted among cases whose anchors share a weekday
      and each case's rows move with its anchor, by whole weeks
      (``shifts.py``). The null distribution so keeps what the plain
      permutation breaks: one case's events belong together, and places keep
      weekly schedules. Not with ``case_column`` or ``adjust_weekday``.
    - ``movable_from`` (None): with ``week_shifts``, cases whose anchor is
      before this day stay in place in every replication (their windows
      began before the study period, so their events are not those of a
      case at another time; see ``shifts.py``). None: every case moves.

    Returns a ``hotspots`` table: the most likely cluster first, then secondary
    clusters sharing no location with a more likely one, each with its p-value
    (1 + replications whose maximum LLR ≥ the cluster's) / (replications + 1).
    Empty when no circle of at most ``max_share_of_cases`` holds ``min_cases``
    cases above expectation (e.g. a single case, or all cases at one place).
    Raises ``ValueError`` on missing columns, null or out-of-range coordinates,
    or cases outside the period. Power, size and time: docs/accuracy.md,
    docs/benchmarks.md.
    """
    return scan_hotspots(cases, params, **options).to_table()


def scan_hotspots(
    cases: pa.Table,
    params: ScanParams | None = None,
    *,
    centres: pa.Table | None = None,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    case_column: str | None = None,
    week_shifts: tuple[str, str] | None = None,
    movable_from: dt.date | None = None,
) -> HotspotScan:
    """``find_hotspots`` with the details: LLRs, locations and replicated maxima.

    ``params.adjust_weekday`` adjusts the expected counts for space by
    day-of-week interaction and permutes dates only within weekdays;
    ``case_column`` permutes whole cases; ``week_shifts`` moves whole cases by
    whole weeks, those anchored from ``movable_from`` on (see find_hotspots).
    """
    if params is None:
        params = ScanParams()
    if week_shifts is not None and (case_column is not None or params.adjust_weekday):
        raise ValueError(
            "week_shifts moves whole cases by whole weeks itself: "
            "give neither case_column nor adjust_weekday with it"
        )
    check_case_columns(cases, case_column)
    if cases.num_rows == 0:
        return HotspotScan([], np.empty(0), 0, tz)
    cells = case_cells(
        cases,
        crs=crs,
        tz=tz,
        first_day=first_day,
        last_day=last_day,
        case_column=case_column,
    )
    centre_lat, centre_lon, centre_xy = _centres(cells, centres, crs)
    circles = candidate_circles(
        centre_xy,
        np.column_stack([cells.x, cells.y]),
        cells.location_totals,
        max_radius_m=params.max_radius_m,
        # Of rows: with several places per case, a circle's share of the places.
        max_cases=int(np.floor(params.max_share_of_cases * cells.n_rows)),
    )
    max_days = min(params.max_days, cells.n_days)
    setup = _ScanSetup.of(
        cells, circles, max_days, params.prospective, params.min_cases, params.adjust_weekday
    )
    best = setup.best_per_centre(cells.days_of_cases)
    if week_shifts is None:
        maxima = setup.replicated_maxima(cells.days_of_cases, params.replications, params.seed)
    else:
        row_case, anchor = case_anchors(cases, *week_shifts, tz, cells.source_row)
        # The same scan, but its rows' cases are those whose anchors move.
        moving = with_rows(setup.compiled, row_case, cells.case_start)
        maxima = week_shift_maxima(
            cells,
            anchor,
            moving,
            replications=params.replications,
            seed=params.seed,
            movable=None if movable_from is None else anchor >= movable_from.toordinal(),
        )
    clusters = _non_overlapping_clusters(
        best,
        circles,
        cells,
        centre_lat,
        centre_lon,
        maxima,
        params.max_clusters,
        params.adjust_weekday,
    )
    return HotspotScan(clusters, maxima, cells.n_cases, tz, cells)


def _centres(
    cells: CaseCells, centres: pa.Table | None, crs: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if centres is None:
        return cells.lat, cells.lon, np.column_stack([cells.x, cells.y])
    if not {"lat", "lon"} <= set(centres.column_names) or centres.num_rows == 0:
        raise ValueError("centres need lat and lon columns and at least one row")
    if centres.column("lat").null_count or centres.column("lon").null_count:
        raise ValueError("centres have null coordinates")
    lat_values = centres.column("lat").to_numpy(zero_copy_only=False).astype(float)
    lon_values = centres.column("lon").to_numpy(zero_copy_only=False).astype(float)
    if not (np.isfinite(lat_values).all() and np.isfinite(lon_values).all()):
        raise ValueError("centres have non-finite coordinates")
    x, y = project(lat_values, lon_values, crs)
    return lat_values, lon_values, np.column_stack([x, y])


@dataclass(frozen=True)
class _Best:
    """Each centre's best cylinder (llr 0 and entry -1 where it has none)."""

    llr: np.ndarray
    entry: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray


@dataclass(frozen=True)
class _ScanSetup:
    """Everything the compiled scan needs besides the days of the cases."""

    circles: Circles
    adjusted: bool  # for space by day-of-week interaction
    first_weekday: int  # of day 0, Monday = 0
    compiled: tuple  # scan.scan_setup's, for the compiled loops

    @classmethod
    def of(
        cls,
        cells: CaseCells,
        circles: Circles,
        max_days: int,
        prospective: bool,
        min_cases: int,
        adjusted: bool = False,
    ) -> _ScanSetup:
        first_weekday = cells.first_day.weekday()
        tables = ScanTables.of(cells.day_totals, max_days, first_weekday)
        compiled = scan_setup(
            cells.row_case,
            cells.case_start,
            circles,
            tables,
            max_days,
            prospective,
            min_cases,
            adjusted,
        )
        return cls(circles, adjusted, first_weekday, compiled)

    def _arguments(self) -> tuple:
        return (self.compiled,)

    def best_per_centre(self, case_day: np.ndarray) -> _Best:
        n = self.circles.n_centres
        best = _Best(
            llr=np.zeros(n),
            entry=np.full(n, -1, dtype=np.int64),
            first_day=np.full(n, -1, dtype=np.int64),
            last_day=np.full(n, -1, dtype=np.int64),
        )
        scan_assignment(
            case_day, *self._arguments(), True, best.llr, best.entry, best.first_day, best.last_day
        )
        return best

    def replicated_maxima(self, case_day: np.ndarray, replications: int, seed: int) -> np.ndarray:
        """Maximum LLR of each permutation of the days among the cases (only among
        cases of the same weekday when adjusted: the null hypothesis is then
        exchangeability within weekdays). A case's rows all take its new day."""
        rng = np.random.default_rng(seed)
        block = max(1, PERMUTATION_BLOCK_VALUES // max(case_day.size, 1))
        strata = (self.first_weekday + case_day.astype(np.int64)) % 7 if self.adjusted else None
        maxima = []
        for done in range(0, replications, block):
            rows = min(block, replications - done)
            if strata is None:
                permuted = rng.permuted(np.tile(case_day, (rows, 1)), axis=1)
            else:
                permuted = permute_within_strata(case_day, strata, rows, rng)
            maxima.append(max_llr_of_replications(permuted, *self._arguments()))
        return np.concatenate(maxima) if maxima else np.empty(0)


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


def _non_overlapping_clusters(
    best: _Best,
    circles: Circles,
    cells: CaseCells,
    centre_lat: np.ndarray,
    centre_lon: np.ndarray,
    maxima: np.ndarray,
    max_clusters: int,
    adjusted: bool,
) -> list[Cluster]:
    """Each centre's best cylinder, most likely first, skipping any that shares a
    location with a more likely one."""
    taken = np.zeros(cells.n_locations, dtype=bool)
    clusters: list[Cluster] = []
    for centre in np.argsort(-best.llr, kind="stable"):
        if len(clusters) >= max_clusters or best.llr[centre] <= 0:
            break
        locations = circles.location[circles.start[centre] : best.entry[centre] + 1]
        if taken[locations].any():
            continue
        taken[locations] = True
        clusters.append(
            _cluster(
                int(centre),
                locations,
                int(best.first_day[centre]),
                int(best.last_day[centre]),
                circles,
                cells,
                centre_lat,
                centre_lon,
                maxima,
                adjusted,
            )
        )
    return clusters


def _cluster(
    centre: int,
    locations: np.ndarray,
    first: int,
    last: int,
    circles: Circles,
    cells: CaseCells,
    centre_lat: np.ndarray,
    centre_lon: np.ndarray,
    maxima: np.ndarray,
    adjusted: bool,
) -> Cluster:
    """A cylinder's figures recomputed from the cells, with its p-value. A case
    counts once however many of its rows the circle holds."""
    all_days = cells.days_of_cases
    rows = np.concatenate(
        [np.arange(cells.case_start[loc], cells.case_start[loc + 1]) for loc in locations]
    )
    days_inside = all_days[np.unique(cells.row_case[rows])]
    n_space = int(days_inside.size)
    n_time = int(np.count_nonzero((all_days >= first) & (all_days <= last)))
    cases = int(np.count_nonzero((days_inside >= first) & (days_inside <= last)))
    if adjusted:
        expected = weekday_adjusted_expected(days_inside, all_days, first, last, cells.first_day)
    else:
        expected = float(expected_cases(n_space, n_time, cells.n_cases))
    llr = float(log_likelihood_ratio(float(cases), expected, float(cells.n_cases)))
    as_extreme = np.count_nonzero(maxima >= llr - LLR_TIE_TOLERANCE * max(1.0, llr))
    last_entry = circles.start[centre] + locations.size - 1
    return Cluster(
        centre=centre,
        lat=float(centre_lat[centre]),
        lon=float(centre_lon[centre]),
        radius_m=float(circles.distance_m[last_entry]),
        first_day=cells.first_day + dt.timedelta(days=first),
        last_day=cells.first_day + dt.timedelta(days=last),
        cases=cases,
        expected=expected,
        llr=llr,
        p_value=(1 + as_extreme) / (maxima.size + 1),
        locations=locations,
    )
