"""The space-time scan of cases among the people present, by relabelling people.

``population.py`` counts events per area and draws each day's events anew
over the areas one by one (a multinomial): right only when every event is a
different person. A carrier's records are not like that: a subscriber's
main cell changes through the day (travel, handovers between towers), so one
person is in several areas a day, and one case is several events in one
circle. Drawn independently, such events make the replicated maxima too
small and most null cities "significant" (docs/accuracy.md, "A denominator").

Here everything is counted in people. Given everyone's located rows (each
subscriber's main cell per hour, say) and each case's days (those around
its likely infection):

- a circle's **presence** on a day is the number of distinct people with a
  row inside it that day, and its **cases** the distinct cases among them
  on one of their days, each case once per circle and day however many of
  its rows the circle holds;
- a cylinder (circle × window of days) expects, on each of its days, the
  day's active cases (cases with a row that day) times the circle's share of
  the people present that day; its log-likelihood ratio is Kulldorff's
  Poisson one given the total (SaTScan's), most likely cluster the maximum;
- the null hypothesis is said of people: **which people became cases does
  not depend on where they were**. A replication picks as many people at
  random among everyone with rows, gives them the cases' days (in random
  order) and scans *their* rows. A replicated case so moves with everything
  one person does in a day, as a real one does, and the Monte Carlo test is
  exact for the relabelling null (the simulated null cities' infections are
  uniform over residents).

Circles are centred on every area anyone was counted in, the same circles
in the data and in every replication.

Where it runs: with the rows of every subscriber, so at the carrier; its
agent would return the clusters alone (circles, days, counts, p-values),
no row of anyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit, prange

from epitrace.analysis.hotspots.cells import local_day_ordinals
from epitrace.analysis.hotspots.circles import Circles, candidate_circles
from epitrace.analysis.hotspots.clusters import LLR_TIE_TOLERANCE, Cluster, HotspotScan
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.population import (
    AREA_M,
    MIN_RADIUS_M,
    check_columns,
    grid_squares,
    poisson_llr,
    projected_to_degrees,
)
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS

# Replications are drawn in blocks of about this many person draws.
DRAW_BLOCK_VALUES = 2_000_000


class PersonRows:
    """Everyone's distinct (time slot, area) rows, by person and by area.

    Time slots are ``slot_hours`` long from local midnight (24: days);
    ``day`` arrays hold slot indices, ``slots_per_day`` of them a day."""

    def __init__(
        self,
        rows: pa.Table,
        *,
        area_m: float,
        crs: str,
        tz: str,
        first_day: dt.date,
        n_days: int,
        slot_hours: int = 24,
    ) -> None:
        check_columns(rows, ("person", "lat", "lon", "ts"), "rows")
        if rows.column("person").null_count:
            raise ValueError(f"{rows.column('person').null_count} row(s) have no person")
        self.slots_per_day = 24 // slot_hours
        day = local_day_ordinals(rows.column("ts"), tz, "ts") - first_day.toordinal()
        inside = (day >= 0) & (day < n_days)
        hour = pc.hour(pc.local_timestamp(pc.cast(rows.column("ts"), pa.timestamp("us", tz))))
        day = day * self.slots_per_day + hour.to_numpy(zero_copy_only=False) // slot_hours
        n_days *= self.slots_per_day
        sx, sy = grid_squares(rows, area_m, crs)
        # Codes in sorted name order, not the rows' order: the same seed draws the
        # same people however the rows come (a query engine may return them in any).
        names = rows.column("person")
        unique = pc.unique(names)
        self.names = pc.take(unique, pc.sort_indices(unique))
        person = self.codes(names)
        squares, area = np.unique(np.stack([sx, sy], 1)[inside], axis=0, return_inverse=True)
        triples = np.unique(np.stack([person[inside], day[inside], area.ravel()], 1), axis=0)
        self.person, self.day, self.area = (np.ascontiguousarray(c) for c in triples.T)
        self.n_persons, self.n_days, self.n_areas = len(self.names), n_days, squares.shape[0]
        self.start = _csr_starts(self.person, self.n_persons)
        self.x = (squares[:, 0] + 0.5) * area_m
        self.y = (squares[:, 1] + 0.5) * area_m
        by_area = np.argsort(self.area, kind="stable")
        self.area_start = _csr_starts(self.area[by_area], self.n_areas)
        self.area_person = np.ascontiguousarray(self.person[by_area])
        self.area_day = np.ascontiguousarray(self.day[by_area])
        # Distinct people per day and per area-day (the areas' presence sizes the circles).
        person_days = np.unique(self.person * n_days + self.day)
        self.day_presence = np.bincount(person_days % n_days, minlength=n_days).astype(float)
        self.area_person_days = np.bincount(self.area, minlength=self.n_areas)

    @property
    def with_rows(self) -> np.ndarray:
        """The people with at least one row in the period (those a replication draws)."""
        return np.flatnonzero(np.diff(self.start) > 0)

    def codes(self, names: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Each name's person code; -1 for a name without rows."""
        codes = pc.index_in(names, value_set=self.names)
        return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _csr_starts(sorted_keys: np.ndarray, n: int) -> np.ndarray:
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_keys, minlength=n), out=start[1:])
    return start


def scan_relabelled(
    rows: pa.Table,
    cases: pa.Table,
    params: ScanParams | None = None,
    *,
    area_m: float = AREA_M,
    min_radius_m: float = MIN_RADIUS_M,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
    first_day: dt.date,
    last_day: dt.date,
    slot_hours: int = 24,
    max_slots: int | None = None,
) -> HotspotScan:
    """Space-time scan of the cases among the people present, p-values by
    relabelling people (module docstring).

    ``slot_hours`` (24: days) cuts each day into time slots of that many
    hours from local midnight (a divisor of 24): a gathering is a place at
    a time of day, and a church circle's people from 9 to 12 on a Sunday
    are its worshippers, not everyone who passes by that day. Windows then
    span up to ``max_slots`` slots (default ``params.max_days`` days' worth); a
    case's days are all their slots.

    ``rows``: person, lat, lon, ts: where each person was (any number of
    rows; located in ``area_m`` squares and local days). ``cases``: person,
    first_day, last_day: each case's days, inclusive, a person once. Cases
    without rows on their days add nothing and are not drawn for;
    ``HotspotScan.n_cases`` counts the others. ``params`` (``ScanParams``):
    circles hold at most ``params.max_share_of_population`` of all
    person-days present (as areas count them) and reach at least
    ``min_radius_m``; windows last up to ``params.max_days``; retrospective
    and unadjusted only (``ValueError`` otherwise). Clusters as in
    ``scan_hotspots``, most likely first, then those sharing no area with a
    more likely one; ``Cluster.cases`` counts case-days, ``expected``
    likewise, ``locations`` are area indices."""
    if params is None:
        params = ScanParams()
    params.require_retrospective_unadjusted("scan_relabelled")
    check_columns(cases, ("person", "first_day", "last_day"), "cases")
    n_days = (last_day - first_day).days + 1
    if n_days < 1:
        raise ValueError(f"study period ends ({last_day}) before it starts ({first_day})")
    if not (1 <= slot_hours <= 24 and 24 % slot_hours == 0):
        raise ValueError(f"slot_hours must divide 24, got {slot_hours}")
    if max_slots is not None and max_slots < 1:
        raise ValueError(f"max_slots must be at least 1, got {max_slots}")
    people = PersonRows(
        rows,
        area_m=area_m,
        crs=crs,
        tz=tz,
        first_day=first_day,
        n_days=n_days,
        slot_hours=slot_hours,
    )
    window = max_slots if max_slots is not None else params.max_days * people.slots_per_day
    case_person, case_first, case_last = case_day_ordinals(cases, people, tz, first_day)
    if case_person.size == 0:
        return HotspotScan([], np.empty(0), 0, tz)
    circles = candidate_circles(
        np.column_stack([people.x, people.y]),
        np.column_stack([people.x, people.y]),
        people.area_person_days,
        max_radius_m=params.max_radius_m,
        max_cases=int(np.floor(params.max_share_of_population * people.area_person_days.sum())),
    )
    usable = circles.closes_step & (circles.distance_m >= min_radius_m)
    present = circle_presence(
        circles.start,
        circles.location,
        people.area_start,
        people.area_person,
        people.area_day,
        people.n_persons,
        people.n_days,
    )
    scan = _Scan(people, circles, usable, present, min(window, people.n_days), params.min_cases)
    best = scan.best_per_centre(case_person, case_first, case_last)
    maxima = scan.replicated_maxima(
        case_person, case_first, case_last, params.replications, params.seed
    )
    clusters = _clusters(
        best, circles, people, maxima, first_day, crs, params.max_clusters, slot_hours
    )
    return PeopleScan(
        clusters,
        maxima,
        int(case_person.size),
        tz,
        cluster_cases=_cluster_cases(clusters, best, people, case_person, case_first, case_last),
    )


@dataclass(frozen=True)
class PeopleScan(HotspotScan):
    """A ``scan_relabelled`` result: also, per cluster (most likely first), the
    people it counts as cases, in the order of the cases given."""

    cluster_cases: list[list[str]] = field(default_factory=list)


def _cluster_cases(
    clusters: list[Cluster],
    best: tuple,
    people: PersonRows,
    case_person: np.ndarray,
    case_first: np.ndarray,
    case_last: np.ndarray,
) -> list[list[str]]:
    """Each cluster's cases: a row in its areas and slots, on one of their days."""
    case_of = np.full(people.n_persons, case_person.size)  # past the last case: none
    case_of[case_person] = np.arange(case_person.size)
    k = case_of[people.person]
    first = np.append(case_first, 1)  # the "none" case's days are empty
    last = np.append(case_last, 0)
    on_own_days = (people.day >= first[k]) & (people.day <= last[k])
    names = people.names.to_pylist()
    out = []
    for cluster in clusters:
        c = cluster.centre  # centres are the areas, in order
        inside = on_own_days & np.isin(people.area, cluster.locations)
        inside &= (people.day >= best[2][c]) & (people.day <= best[3][c])
        out.append([names[case_person[i]] for i in np.unique(k[inside])])
    return out


class _Scan:
    """What every scan of one set of rows shares: the circles and their presence."""

    def __init__(
        self,
        people: PersonRows,
        circles: Circles,
        usable: np.ndarray,
        present: np.ndarray,
        max_days: int,
        min_cases: int,
    ) -> None:
        self.people, self.circles, self.usable, self.present = people, circles, usable, present
        self.max_days, self.min_cases = max_days, min_cases

    def _setup(self) -> tuple:
        """What ``scan_cases`` needs besides the cases, as it takes it."""
        p, c = self.people, self.circles
        rows = (p.start, p.day, p.area, p.n_areas, p.day_presence)
        return rows, (c.start, c.location, self.usable, self.present), self.max_days, self.min_cases

    def best_per_centre(self, person: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple:
        return scan_cases((person, first, last), self._setup())

    def replicated_maxima(
        self,
        person: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        replications: int,
        seed: int,
    ) -> np.ndarray:
        rng = np.random.default_rng(seed)
        universe = self.people.with_rows
        block = max(1, DRAW_BLOCK_VALUES // person.size)
        maxima = []
        for done in range(0, replications, block):
            drawn = np.stack(
                [
                    rng.choice(universe, size=person.size, replace=False)
                    for _ in range(min(block, replications - done))
                ]
            )
            maxima.append(max_llr_of_relabelled(drawn, first, last, self._setup()))
        return np.concatenate(maxima) if maxima else np.empty(0)


def case_day_ordinals(
    cases: pa.Table, people: PersonRows, tz: str, first_day: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cases with rows: person codes and first and last study days (clipped
    to the period); ``ValueError`` for a person listed twice or days reversed."""
    names = cases.column("person")
    if names.null_count:
        raise ValueError(f"{names.null_count} case(s) have no person")
    if pc.count_distinct(names).as_py() != cases.num_rows:
        raise ValueError("a person is listed as a case more than once")
    first = local_day_ordinals(cases.column("first_day"), tz, "first_day")
    last = local_day_ordinals(cases.column("last_day"), tz, "last_day")
    if (last < first).any():
        raise ValueError("a case's last_day comes before its first_day")
    code = people.codes(names)
    per_day = people.slots_per_day
    first = np.maximum((first - first_day.toordinal()) * per_day, 0)
    last = np.minimum((last - first_day.toordinal() + 1) * per_day - 1, people.n_days - 1)
    keep = (code >= 0) & (first <= last)
    return code[keep], first[keep].astype(np.int64), last[keep].astype(np.int64)


# --- the compiled scan ---------------------------------------------------


@njit(parallel=True, cache=True)
def circle_presence(
    circle_start: np.ndarray,
    circle_location: np.ndarray,
    area_start: np.ndarray,
    area_person: np.ndarray,
    area_day: np.ndarray,
    n_persons: int,
    n_days: int,
) -> np.ndarray:
    """Distinct people per circle entry (each centre's circle grown to that
    entry) and day: float64[entries, days]."""
    out = np.zeros((circle_location.size, n_days))
    for c in prange(circle_start.size - 1):
        seen = np.zeros(n_persons * n_days, dtype=np.bool_)
        present = np.zeros(n_days)
        for entry in range(circle_start[c], circle_start[c + 1]):
            area = circle_location[entry]
            for i in range(area_start[area], area_start[area + 1]):
                key = area_person[i] * n_days + area_day[i]
                if not seen[key]:
                    seen[key] = True
                    present[area_day[i]] += 1.0
            out[entry] = present
    return out


@njit(cache=True)
def _case_rows(cases: tuple, rows: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Case k's rows on its days, grouped by area: (area starts, case, day) and
    the day's active cases (cases with a row that day). ``cases`` and
    ``rows`` as ``scan_cases`` takes them."""
    person, first, last = cases
    row_start, row_day, row_area, n_areas, day_presence = rows
    n_days = day_presence.size
    count = np.zeros(n_areas + 1, dtype=np.int64)
    active = np.zeros(n_days)
    for k in range(person.size):
        p, previous = person[k], -1
        for i in range(row_start[p], row_start[p + 1]):
            if first[k] <= row_day[i] <= last[k]:
                count[row_area[i] + 1] += 1
                if row_day[i] != previous:  # rows are sorted by day within a person
                    active[row_day[i]] += 1.0
                    previous = row_day[i]
    start = np.cumsum(count)
    fill = start[:-1].copy()
    case = np.empty(start[-1], dtype=np.int64)
    day = np.empty(start[-1], dtype=np.int64)
    for k in range(person.size):
        p = person[k]
        for i in range(row_start[p], row_start[p + 1]):
            if first[k] <= row_day[i] <= last[k]:
                slot = fill[row_area[i]]
                case[slot], day[slot] = k, row_day[i]
                fill[row_area[i]] += 1
    return start, case, day, active


@njit(cache=True)
def scan_cases(cases: tuple, setup: tuple) -> tuple:
    """Each centre's best cylinder for these cases: (llr, entry, first day,
    last day, cases, expected) per centre, and the number of active cases.

    ``cases``: (person, first, last), each case's person code and first and
    last slot. ``setup`` (``_Scan._setup``): the rows (each person's first
    row, the rows' slots and areas, the number of areas, the people present
    per slot), the circles (each centre's first entry, the entries' areas,
    whether an entry closes a usable circle, the people present per entry
    and slot), the longest window and the fewest cases."""
    rows, circles, max_days, min_cases = setup
    day_presence = rows[4]
    circle_start, circle_location, usable, present = circles
    n_days = day_presence.size
    person = cases[0]
    start, case, day, active = _case_rows(cases, rows)
    rate = np.zeros(n_days)  # active cases per person present, by day
    for d in range(n_days):
        if day_presence[d] > 0:
            rate[d] = active[d] / day_presence[d]
    total = active.sum()
    n_centres = circle_start.size - 1
    llr = np.zeros(n_centres)
    best_entry = np.full(n_centres, -1, dtype=np.int64)
    best_first = np.full(n_centres, -1, dtype=np.int64)
    best_last = np.full(n_centres, -1, dtype=np.int64)
    best_cases = np.zeros(n_centres)
    best_expected = np.zeros(n_centres)
    seen = np.zeros(person.size * n_days, dtype=np.int64)  # stamp: centre + 1
    cases_on = np.zeros(n_days)
    for c in range(n_centres):
        cases_on[:] = 0.0
        inside = 0.0
        for entry in range(circle_start[c], circle_start[c + 1]):
            area = circle_location[entry]
            for i in range(start[area], start[area + 1]):
                key = case[i] * n_days + day[i]
                if seen[key] != c + 1:
                    seen[key] = c + 1
                    cases_on[day[i]] += 1.0
                    inside += 1.0
            if not usable[entry] or inside < min_cases:
                continue
            for lo in range(n_days):
                if cases_on[lo] == 0.0:
                    continue  # a best window starts (and ends) in a slot with cases
                cases, expected = 0.0, 0.0
                for hi in range(lo, min(n_days, lo + max_days)):
                    cases += cases_on[hi]
                    expected += rate[hi] * present[entry, hi]
                    if cases < min_cases or cases_on[hi] == 0.0:
                        continue
                    value = poisson_llr(cases, expected, total)
                    if value > llr[c]:
                        llr[c], best_entry[c], best_first[c], best_last[c] = value, entry, lo, hi
                        best_cases[c], best_expected[c] = cases, expected
    return llr, best_entry, best_first, best_last, best_cases, best_expected, total


@njit(parallel=True, cache=True)
def max_llr_of_relabelled(
    drawn: np.ndarray, first: np.ndarray, last: np.ndarray, setup: tuple
) -> np.ndarray:
    """The maximum LLR of each replication: row r of ``drawn`` are the people
    given the cases' days (in order), scanned as the cases are (``setup``:
    ``scan_cases``'s)."""
    maxima = np.zeros(drawn.shape[0])
    rows, circles, max_days, min_cases = setup  # a parallel loop takes the parts
    for r in prange(drawn.shape[0]):
        llr = scan_cases((drawn[r], first, last), (rows, circles, max_days, min_cases))[0]
        maxima[r] = llr.max() if llr.size else 0.0
    return maxima


# --- from centres to clusters -------------------------------------------


def _clusters(
    best: tuple,
    circles: Circles,
    people: PersonRows,
    maxima: np.ndarray,
    first_day: dt.date,
    crs: str,
    max_clusters: int,
    slot_hours: int,
) -> list[Cluster]:
    """Each centre's best cylinder, most likely first, skipping any that shares
    an area with a more likely one."""
    llr, entry, first, last, cases, expected, _ = best
    per_day = people.slots_per_day
    lat, lon = projected_to_degrees(people.x, people.y, crs)
    taken = np.zeros(people.n_areas, dtype=bool)
    clusters: list[Cluster] = []
    for c in np.argsort(-llr, kind="stable"):
        if len(clusters) >= max_clusters or llr[c] <= 0:
            break
        inside = circles.location[circles.start[c] : entry[c] + 1]
        if taken[inside].any():
            continue
        taken[inside] = True
        as_extreme = np.count_nonzero(maxima >= llr[c] - LLR_TIE_TOLERANCE * max(1.0, llr[c]))
        clusters.append(
            Cluster(
                centre=int(c),
                lat=float(lat[c]),
                lon=float(lon[c]),
                radius_m=float(circles.distance_m[entry[c]]),
                first_day=first_day + dt.timedelta(days=int(first[c]) // per_day),
                last_day=first_day + dt.timedelta(days=int(last[c]) // per_day),
                cases=int(cases[c]),
                expected=float(expected[c]),
                llr=float(llr[c]),
                p_value=(1 + as_extreme) / (maxima.size + 1),
                locations=inside,
                start_hour=int(first[c]) % per_day * slot_hours,
                end_hour=(int(last[c]) % per_day + 1) * slot_hours,
            )
        )
    return clusters
