"""The space-time scan with a population at risk: cases against people present.

The permutation scan (``clusters.py``) has no denominator: a place is
"hot" only against the cases' own spread over space and time. When a
superspreading event's infectees are a large share of all cases (a
congregation, a club night), that spread is the event itself, and a
permutation that keeps it explains the event away (docs/accuracy.md).

Carriers know how many people are present in an area on a day without
naming anyone: their aggregate *presence* counts (the "floating
population" statistics Korean carriers publish per small area and day).
With them Kulldorff's space-time Poisson model applies. The study area is
cut into square *areas*; a case event counts in the area and on the day of
its stay. Under the null hypothesis a day's case events fall on the areas in
proportion to the people present there that day, so the expected count of
area ``a`` on day ``d`` is ``presence[a, d] * events[d] / presence[d]``
(adjusted for the days' totals: the epidemic's course and the week's rhythm
are not clusters). A cylinder's log-likelihood ratio is the Poisson one
conditioned on the total (SaTScan's); replications draw each day's events
anew over the areas by those shares (a multinomial per day), so the p-value
is that of the maximum LLR among them.

The weekly rhythm of a place (a church full on Sundays) is in the presence
itself, so it is not a cluster; a church with five times its usual share of
cases on one Sunday is.

What the test's size rests on (docs/accuracy.md, "A denominator"): events
and presence must count people the same way, one person once per area and
day, and located alike. Then, with one-day windows, the size holds on
five-week simulated null cities; over two weeks, with a tenth of the
events, cylinders of two cases at nearly empty places inflate it. Traced
stays located from cell towers against presence at places, or each
subscriber's hourly cells (a person in several areas a day, so one case is
several events in a circle), break it: most null cities then have a
"cluster". No provider store holds presence yet; this is the model,
validated on counts that meet the rule (the figures: docs/accuracy.md, "A
denominator" and "Planted cities"). ``persons.py`` counts in people
instead, from a carrier's own rows, which lifts the rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit, prange
from pyproj import Transformer

from epitrace.analysis.hotspots.cells import (
    local_day_ordinals,
    project,
)
from epitrace.analysis.hotspots.circles import Circles, candidate_circles
from epitrace.analysis.hotspots.clusters import LLR_TIE_TOLERANCE, Cluster, HotspotScan
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS

AREA_M = 250.0  # side of the square areas events and presence are counted in
# Circles reach at least the neighbouring areas: a traced stay's position (a
# cell-tower estimate) and the presence of the place it was at often fall in
# adjacent areas.
MIN_RADIUS_M = AREA_M
# Replicated counts are generated in blocks of about this many values.
REPLICATION_BLOCK_VALUES = 20_000_000


@dataclass(frozen=True)
class AreaDays:
    """Case events and expected events per area and study day (dense)."""

    x: np.ndarray  # float64[A], area centres in projected metres
    y: np.ndarray
    lat: np.ndarray  # float64[A], area centres
    lon: np.ndarray
    events: np.ndarray  # int64[A, D]
    presence: np.ndarray  # float64[A, D], people present
    first_day: dt.date
    event_area: np.ndarray  # int64[N], each event row's area

    @property
    def n_days(self) -> int:
        return int(self.events.shape[1])

    @property
    def day_events(self) -> np.ndarray:
        return self.events.sum(axis=0)

    @property
    def day_shares(self) -> np.ndarray:
        """Each day's share of its presence per area (D × A; 0 on days nobody is counted)."""
        totals = self.presence.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(totals > 0, self.presence / totals, 0.0)
        return np.ascontiguousarray(shares.T)

    @property
    def expected(self) -> np.ndarray:
        """Expected events per area and day under the null (A × D), summing to the events."""
        return self.day_shares.T * self.day_events


def area_days(
    events: pa.Table,
    presence: pa.Table,
    *,
    area_m: float = AREA_M,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
    first_day: dt.date,
    last_day: dt.date,
) -> AreaDays:
    """Events (lat, lon, ts) and presence (lat, lon, day, persons) counted per
    ``area_m`` square and day; ``ValueError`` naming the problem (missing
    columns, null coordinates or persons, events outside the period). Events
    in an area the presence counts nobody in that day are kept: they count in
    circles whose other areas hold the presence (``MIN_RADIUS_M``)."""
    check_columns(events, ("lat", "lon", "ts"), "case events")
    check_columns(presence, ("lat", "lon", "day", "persons"), "presence")
    n_days = (last_day - first_day).days + 1
    if n_days < 1:
        raise ValueError(f"study period ends ({last_day}) before it starts ({first_day})")
    event_sx, event_sy = grid_squares(events, area_m, crs)
    event_day = local_day_ordinals(events.column("ts"), tz, "ts") - first_day.toordinal()
    if ((event_day < 0) | (event_day >= n_days)).any():
        raise ValueError(f"case events fall outside the study period {first_day}..{last_day}")
    presence_sx, presence_sy = grid_squares(presence, area_m, crs)
    presence_day = local_day_ordinals(presence.column("day"), tz, "day")
    presence_day = presence_day - first_day.toordinal()
    persons = presence.column("persons").to_numpy(zero_copy_only=False).astype(float)
    if presence.column("persons").null_count or (persons < 0).any():
        raise ValueError("presence has persons that are null or negative")
    inside = (presence_day >= 0) & (presence_day < n_days)

    keys = np.concatenate(
        [np.stack([event_sx, event_sy], 1), np.stack([presence_sx, presence_sy], 1)[inside]]
    )
    squares, area_of = np.unique(keys, axis=0, return_inverse=True)
    area_of = area_of.ravel()
    event_area = area_of[: event_sx.size]
    counted = np.zeros((squares.shape[0], n_days))
    np.add.at(counted, (area_of[event_sx.size :], presence_day[inside]), persons[inside])
    counts = np.zeros((squares.shape[0], n_days), dtype=np.int64)
    np.add.at(counts, (event_area, event_day), 1)
    x = (squares[:, 0] + 0.5) * area_m
    y = (squares[:, 1] + 0.5) * area_m
    lat, lon = projected_to_degrees(x, y, crs)
    return AreaDays(x, y, lat, lon, counts, counted, first_day, event_area)


def check_columns(table: pa.Table, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise ValueError(f"{what} lack column(s): {', '.join(missing)}")
    for name in ("lat", "lon")[: 2 if "lat" in names else 0]:
        column = table.column(name)
        values = column.to_numpy(zero_copy_only=False).astype(float)
        if column.null_count or not np.isfinite(values).all():
            raise ValueError(f"{what} have null or non-finite {name}")


def grid_squares(table: pa.Table, area_m: float, crs: str) -> tuple[np.ndarray, np.ndarray]:
    lat = table.column("lat").to_numpy(zero_copy_only=False).astype(float)
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype(float)
    x, y = project(lat, lon, crs)
    return np.floor(x / area_m).astype(np.int64), np.floor(y / area_m).astype(np.int64)


def projected_to_degrees(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    to_degrees = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_degrees.transform(x, y)
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


# --- the compiled scan ---------------------------------------------------


@njit(cache=True)
def poisson_llr(cases: float, expected: float, total: float) -> float:
    """Kulldorff's Poisson LLR of a cylinder given the total; 0 unless in excess."""
    if cases <= expected or expected <= 0.0:
        return 0.0
    llr = cases * np.log(cases / expected)
    outside = total - cases
    if outside > 0.0:
        llr += outside * np.log(outside / (total - expected))
    return llr


@njit(cache=True)
def _best_of_centre(
    centre: int, counts: np.ndarray, total: float, setup: tuple
) -> tuple[float, int, int, int]:
    """The centre's best cylinder of ``counts`` (A × D events, ``total`` of
    them): (llr, last entry, first day, last day). ``setup``: as
    ``best_per_centre`` takes it."""
    expected, (circle_start, circle_location, usable), max_days, min_cases = setup
    n_days = counts.shape[1]
    day_cases = np.zeros(n_days)
    day_expected = np.zeros(n_days)
    case_prefix = np.zeros(n_days + 1)
    expected_prefix = np.zeros(n_days + 1)
    best, best_entry, best_first, best_last = 0.0, -1, -1, -1
    for entry in range(circle_start[centre], circle_start[centre + 1]):
        area = circle_location[entry]
        for d in range(n_days):
            day_cases[d] += counts[area, d]
            day_expected[d] += expected[area, d]
        if not usable[entry]:
            continue
        for d in range(n_days):
            case_prefix[d + 1] = case_prefix[d] + day_cases[d]
            expected_prefix[d + 1] = expected_prefix[d] + day_expected[d]
        if case_prefix[n_days] < min_cases:
            continue
        for first in range(n_days):
            for last in range(first, min(n_days, first + max_days)):
                cases = case_prefix[last + 1] - case_prefix[first]
                if cases < min_cases:
                    continue
                llr = poisson_llr(cases, expected_prefix[last + 1] - expected_prefix[first], total)
                if llr > best:
                    best, best_entry, best_first, best_last = llr, entry, first, last
    return best, best_entry, best_first, best_last


def scan_setup(
    expected: np.ndarray, circles: Circles, usable: np.ndarray, max_days: int, min_cases: int
) -> tuple:
    """What the compiled scan needs besides the counts: the expected events
    (A × D), the circles (each centre's first entry, the entries' areas, whether
    an entry closes a usable circle), the longest window and the fewest cases."""
    return expected, (circles.start, circles.location, usable), max_days, min_cases


@njit(parallel=True, cache=True)
def best_per_centre(
    counts: np.ndarray, setup: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each centre's best cylinder of ``counts`` (A × D events): its LLR (0 where
    none is in excess), last entry, first and last day (-1 where none), centres
    in parallel; ``setup`` is ``scan_setup``'s."""
    n_centres = setup[1][0].size - 1
    llr = np.zeros(n_centres)
    entry = np.full(n_centres, -1, dtype=np.int64)
    first = np.full(n_centres, -1, dtype=np.int64)
    last = np.full(n_centres, -1, dtype=np.int64)
    total = float(counts.sum())
    # A parallel loop cannot take a tuple of tuples: it takes the parts.
    expected, circles, max_days, min_cases = setup
    for c in prange(n_centres):
        llr[c], entry[c], first[c], last[c] = _best_of_centre(
            c, counts, total, (expected, circles, max_days, min_cases)
        )
    return llr, entry, first, last


@njit(parallel=True, cache=True)
def max_llr_of_replications(replicated: np.ndarray, setup: tuple) -> np.ndarray:
    """The maximum LLR of each replication (R × A × D counts) over all circles;
    ``setup`` is ``scan_setup``'s."""
    n = replicated.shape[0]
    maxima = np.zeros(n)
    expected, circles, max_days, min_cases = setup  # the parts, as in best_per_centre
    for r in prange(n):
        counts = replicated[r]
        total = float(counts.sum())
        best = 0.0
        for c in range(circles[0].size - 1):
            llr = _best_of_centre(c, counts, total, (expected, circles, max_days, min_cases))[0]
            if llr > best:
                best = llr
        maxima[r] = best
    return maxima


def replicate_counts(
    day_events: np.ndarray, day_shares: np.ndarray, replications: int, rng: np.random.Generator
) -> np.ndarray:
    """``replications`` draws (R × A × D) of each day's events over the areas by
    the day's presence shares: the null hypothesis's data."""
    n_days, n_areas = day_shares.shape
    drawn = np.zeros((replications, n_areas, n_days), dtype=np.int64)
    for d in range(n_days):
        if day_events[d] > 0:
            drawn[:, :, d] = rng.multinomial(int(day_events[d]), day_shares[d], size=replications)
    return drawn


# --- from cells to clusters ---------------------------------------------


def scan_population(
    events: pa.Table,
    presence: pa.Table,
    params: ScanParams | None = None,
    *,
    area_m: float = AREA_M,
    min_radius_m: float = MIN_RADIUS_M,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
) -> HotspotScan:
    """Kulldorff's space-time Poisson scan of case events against presence.

    ``events``: lat, lon, ts (one row per case event); ``presence``: lat,
    lon, day, persons (people present per small area and day, any grid:
    both are counted in ``area_m`` squares). ``params`` (``ScanParams``):
    circles are centred on the areas with events, reach at least
    ``min_radius_m`` and hold at most ``params.max_share_of_population`` of
    all person-days present; time windows are up to ``params.max_days``
    long; retrospective and unadjusted only (``ValueError`` otherwise). The
    study period defaults to the days of the events. Clusters as in
    ``scan_hotspots``: most likely first, then those sharing no area with a
    more likely one, each with its Monte Carlo p-value; ``Cluster.locations``
    are area indices (``HotspotScan.cells`` is None)."""
    if params is None:
        params = ScanParams()
    params.require_retrospective_unadjusted("scan_population")
    if not area_m > 0:
        raise ValueError(f"area_m must be positive, got {area_m}")
    if events.num_rows == 0:
        return HotspotScan([], np.empty(0), 0, tz)
    first, last = _period(events, tz, first_day, last_day)
    areas = area_days(
        events, presence, area_m=area_m, crs=crs, tz=tz, first_day=first, last_day=last
    )
    expected = areas.expected
    centres = np.flatnonzero(areas.events.sum(axis=1) > 0)
    person_days = areas.presence.sum(axis=1)
    circles = candidate_circles(
        np.column_stack([areas.x[centres], areas.y[centres]]),
        np.column_stack([areas.x, areas.y]),
        np.rint(person_days).astype(np.int64),
        max_radius_m=params.max_radius_m,
        max_cases=int(np.floor(params.max_share_of_population * person_days.sum())),
    )
    days = min(params.max_days, areas.n_days)
    usable = circles.closes_step & (circles.distance_m >= min_radius_m)
    setup = scan_setup(expected, circles, usable, days, params.min_cases)
    best = best_per_centre(areas.events, setup)
    maxima = _replicated_maxima(areas, setup, params.replications, params.seed)
    clusters = _clusters(best, circles, areas, expected, centres, maxima, params.max_clusters)
    return HotspotScan(clusters, maxima, int(events.num_rows), tz)


def _period(
    events: pa.Table, tz: str, first_day: dt.date | None, last_day: dt.date | None
) -> tuple[dt.date, dt.date]:
    days = local_day_ordinals(events.column("ts"), tz, "ts")
    return (
        first_day or dt.date.fromordinal(int(days.min())),
        last_day or dt.date.fromordinal(int(days.max())),
    )


def _replicated_maxima(areas: AreaDays, setup: tuple, replications: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shares, day_events = areas.day_shares, areas.day_events
    block = max(1, REPLICATION_BLOCK_VALUES // max(areas.events.size, 1))
    maxima = []
    for done in range(0, replications, block):
        drawn = replicate_counts(day_events, shares, min(block, replications - done), rng)
        maxima.append(max_llr_of_replications(drawn, setup))
    return np.concatenate(maxima) if maxima else np.empty(0)


def _clusters(
    best: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    circles: Circles,
    areas: AreaDays,
    expected: np.ndarray,
    centres: np.ndarray,
    maxima: np.ndarray,
    max_clusters: int,
) -> list[Cluster]:
    """Each centre's best cylinder, most likely first, skipping any that shares
    an area with a more likely one."""
    llr, entry, first, last = best
    taken = np.zeros(areas.x.size, dtype=bool)
    clusters: list[Cluster] = []
    for c in np.argsort(-llr, kind="stable"):
        if len(clusters) >= max_clusters or llr[c] <= 0:
            break
        inside = circles.location[circles.start[c] : entry[c] + 1]
        if taken[inside].any():
            continue
        taken[inside] = True
        window = slice(int(first[c]), int(last[c]) + 1)
        as_extreme = np.count_nonzero(maxima >= llr[c] - LLR_TIE_TOLERANCE * max(1.0, llr[c]))
        area = centres[c]
        clusters.append(
            Cluster(
                centre=int(area),
                lat=float(areas.lat[area]),
                lon=float(areas.lon[area]),
                radius_m=float(circles.distance_m[entry[c]]),
                first_day=areas.first_day + dt.timedelta(days=int(first[c])),
                last_day=areas.first_day + dt.timedelta(days=int(last[c])),
                cases=int(areas.events[inside, window].sum()),
                expected=float(expected[inside, window].sum()),
                llr=float(llr[c]),
                p_value=(1 + as_extreme) / (maxima.size + 1),
                locations=inside,
            )
        )
    return clusters
