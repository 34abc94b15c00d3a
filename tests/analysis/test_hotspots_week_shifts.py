"""Replications that move whole cases by whole weeks (``week_shifts``): traced
case events on their own days, each case with an anchor (its likely day of
infection), places with weekly schedules."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from local_metres import METRES_PER_DEGREE_LAT, degrees

from epitrace.analysis.hotspots import scan_hotspots
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.shifts import week_shifts

FIRST_DAY = dt.date(2020, 3, 1)  # a Sunday
DAYS = 35
CHURCHES = 6


def routine_events(
    rng: np.random.Generator,
    n_cases: int = 70,
    planted: int = 0,
    planted_day: int = 14,
) -> pa.Table:
    """Cases with weekly routines: each goes to a few places near home on fixed
    weekdays and a third of them to one of a few churches on Sundays; a case's
    event at a place is its visit nearest its anchor (likely infection), as the
    tracing gives. The null: anchors independent of places. ``planted`` more
    cases all go to church 0 and have anchors within two days of the Sunday
    ``planted_day`` (their infection there)."""
    church_north = rng.uniform(-4000, 4000, CHURCHES)
    church_east = rng.uniform(-4000, 4000, CHURCHES)
    rows: dict[str, list] = {
        "lat": [], "lon": [], "day": [], "case_id": [], "anchor": [], "church": []
    }  # fmt: skip
    for case in range(n_cases + planted):
        in_event = case >= n_cases
        anchor = planted_day + int(rng.integers(-2, 3)) if in_event else int(rng.integers(0, DAYS))
        home = rng.uniform(-5000, 5000, 2)
        places = [(home + rng.normal(0, 300, 2), int(w), -1) for w in rng.integers(0, 7, 4)]
        church = 0 if in_event else (int(rng.integers(0, CHURCHES)) if rng.random() < 0.3 else -1)
        if church >= 0:
            places.append((np.array([church_north[church], church_east[church]]), 6, church))
        for (north, east), weekday, which in places:
            # Visits on that weekday every week; keep the one nearest the anchor.
            visits = np.arange(DAYS)[(FIRST_DAY.weekday() + np.arange(DAYS)) % 7 == weekday]
            day = int(visits[np.argmin(np.abs(visits - anchor))])
            if abs(day - anchor) > 9:  # before the case's traced window
                continue
            lat, lon = degrees(north, east)
            rows["lat"].append(float(lat))
            rows["lon"].append(float(lon))
            rows["day"].append(FIRST_DAY + dt.timedelta(days=day))
            rows["case_id"].append(f"C{case}")
            rows["anchor"].append(FIRST_DAY + dt.timedelta(days=anchor))
            rows["church"].append(which)
    return pa.table(
        {
            **rows,
            "day": pa.array(rows["day"], pa.date32()),
            "anchor": pa.array(rows["anchor"], pa.date32()),
        }
    )


def scan(events: pa.Table, replications: int, seed: int, shifted: bool):
    return scan_hotspots(
        events if shifted else events.select(["lat", "lon", "day"]),
        ScanParams(replications=replications, seed=seed),
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
        week_shifts=("case_id", "anchor") if shifted else None,
    )


def test_shifts_permute_anchors_within_their_weekday() -> None:
    rng = np.random.default_rng(1)
    anchor = FIRST_DAY.toordinal() + rng.integers(0, 35, 50)
    shifts = week_shifts(anchor, 30, rng)
    assert shifts.shape == (30, 50)
    assert (shifts % 7 == 0).all()
    moved = anchor + shifts
    for row in moved:
        for weekday in range(7):
            mine = anchor % 7 == weekday
            assert sorted(row[mine]) == sorted(anchor[mine])
    assert (shifts != 0).any()


def test_a_replication_that_moves_nothing_has_the_observed_maximum() -> None:
    """Every case's anchor on its own weekday: nothing can move, so each
    replication rebuilds the observed data and its tables (p = 1)."""
    rng = np.random.default_rng(2)
    events = routine_events(rng, n_cases=7)
    cases = sorted(set(events["case_id"].to_pylist()))
    anchors = {case: FIRST_DAY + dt.timedelta(days=i) for i, case in enumerate(cases)}
    events = events.set_column(
        events.schema.get_field_index("anchor"),
        "anchor",
        pa.array([anchors[c] for c in events["case_id"].to_pylist()], pa.date32()),
    )
    result = scan(events, 9, 0, shifted=True)
    assert result.clusters
    np.testing.assert_allclose(result.replicated_maxima, result.clusters[0].llr, rtol=1e-9)
    assert result.clusters[0].p_value == 1.0


def test_weekly_schedules_and_cases_places_make_no_cluster_when_cases_move_by_weeks() -> None:
    """Null data with Sunday churches and several places per case: the plain
    permutation calls many significant; moving whole cases by whole weeks keeps
    the test's size (at most 5 of 30 at p < 0.05: Binomial(30, 0.05) exceeds
    5 with probability 0.8 %)."""
    plain = shifted = 0
    for seed in range(30):
        events = routine_events(np.random.default_rng(100 + seed))
        plain += scan(events, 99, seed, shifted=False).clusters[0].p_value < 0.05
        shifted += scan(events, 99, seed, shifted=True).clusters[0].p_value < 0.05
    assert shifted <= 5
    assert plain > shifted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_sunday_event_is_the_most_likely_cluster(seed: int) -> None:
    events = routine_events(np.random.default_rng(seed), planted=12)
    top = scan(events, 199, seed, shifted=True).clusters[0]
    church = events.filter(pa.compute.equal(events["church"], 0)).to_pylist()[0]
    north_m = (church["lat"] - top.lat) * METRES_PER_DEGREE_LAT
    east_m = (church["lon"] - top.lon) * METRES_PER_DEGREE_LAT * math.cos(math.radians(top.lat))
    assert math.hypot(north_m, east_m) <= top.radius_m + 1.0
    assert top.first_day <= FIRST_DAY + dt.timedelta(days=14) <= top.last_day
    assert top.p_value < 0.05


def test_a_case_with_two_anchors_is_refused() -> None:
    events = routine_events(np.random.default_rng(4))
    anchors = events["anchor"].to_pylist()
    anchors[0] = anchors[0] + dt.timedelta(days=1)
    broken = events.set_column(
        events.schema.get_field_index("anchor"), "anchor", pa.array(anchors, pa.date32())
    )
    with pytest.raises(ValueError, match="different anchor days"):
        scan(broken, 9, 0, shifted=True)


def test_week_shifts_do_not_combine_with_cases_counted_once() -> None:
    events = routine_events(np.random.default_rng(5))
    with pytest.raises(ValueError, match="week_shifts"):
        scan_hotspots(
            events,
            ScanParams(replications=9),
            case_column="case_id",
            week_shifts=("case_id", "anchor"),
        )


def test_cases_outside_the_movable_mask_keep_their_days_and_lend_no_anchor() -> None:
    rng = np.random.default_rng(3)
    anchor = FIRST_DAY.toordinal() + rng.integers(0, DAYS, 60)
    movable = anchor >= FIRST_DAY.toordinal() + 9
    shifts = week_shifts(anchor, 20, rng, movable)
    assert (shifts[:, ~movable] == 0).all()
    for row in anchor + shifts:
        for weekday in range(7):
            mine = movable & (anchor % 7 == weekday)
            assert sorted(row[mine]) == sorted(anchor[mine])
    assert (shifts[:, movable] != 0).any()


def with_anchors(events: pa.Table, days: list[int]) -> pa.Table:
    """The events with case i's anchor on day ``days[i % len(days)]`` of the period."""
    cases = sorted(set(events["case_id"].to_pylist()))
    anchors = {c: FIRST_DAY + dt.timedelta(days=days[i % len(days)]) for i, c in enumerate(cases)}
    return events.set_column(
        events.schema.get_field_index("anchor"),
        "anchor",
        pa.array([anchors[c] for c in events["case_id"].to_pylist()], pa.date32()),
    )


def test_cases_anchored_before_movable_from_stay_in_every_replication() -> None:
    """Every anchor before ``movable_from``: each replication is the observed
    data (p = 1); from the first day on, the same cases move."""
    events = routine_events(np.random.default_rng(6))
    params = ScanParams(replications=19, seed=0)
    settings = {
        "first_day": FIRST_DAY,
        "last_day": FIRST_DAY + dt.timedelta(days=DAYS - 1),
        "week_shifts": ("case_id", "anchor"),
    }
    still = scan_hotspots(
        events, params, movable_from=FIRST_DAY + dt.timedelta(days=DAYS), **settings
    )
    np.testing.assert_allclose(still.replicated_maxima, still.clusters[0].llr, rtol=1e-9)
    assert still.clusters[0].p_value == 1.0
    moving = scan_hotspots(events, params, movable_from=FIRST_DAY, **settings)
    assert not np.allclose(moving.replicated_maxima, moving.clusters[0].llr)


def test_scan_events_keeps_cases_whose_windows_the_period_cut_in_place() -> None:
    """``scan_events(week_shifts=True)``: a case anchored within 9 days of the
    period's start (its window, from 9 days before the anchor, began before
    the period) is not moved; later ones are."""
    from epitrace.analysis.hotspots.case_events import scan_events

    def as_traced(events: pa.Table) -> pa.Table:
        noon = dt.time(12, tzinfo=dt.timezone(dt.timedelta(hours=9)))
        ts = [dt.datetime.combine(d, noon) for d in events["day"].to_pylist()]
        anchors = [dt.datetime.combine(d, noon) for d in events["anchor"].to_pylist()]
        utc = pa.timestamp("us", tz="UTC")
        return pa.table({
            "lat": events["lat"], "lon": events["lon"], "case_id": events["case_id"],
            "ts": pa.array(ts, utc), "likely_infection": pa.array(anchors, utc),
        })  # fmt: skip

    base = routine_events(np.random.default_rng(7))
    early = as_traced(with_anchors(base, list(range(9))))
    first = min(early["ts"].to_pylist()).astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    assert first >= FIRST_DAY  # so every anchor is within 9 days of the period's start
    still = scan_events(early, ScanParams(replications=19), week_shifts=True)
    assert still.clusters[0].p_value == 1.0
    later = as_traced(with_anchors(base, list(range(9, DAYS))))
    moving = scan_events(later, ScanParams(replications=19), week_shifts=True)
    assert not np.allclose(moving.replicated_maxima, moving.clusters[0].llr)
