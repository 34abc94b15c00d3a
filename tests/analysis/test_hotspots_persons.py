"""The scan of cases among the people present, p-values by relabelling people
(``persons.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from local_metres import METRES_PER_DEGREE_LAT, degrees

from epitrace.analysis.hotspots.cells import project
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.persons import scan_relabelled
from epitrace.analysis.hotspots.population import poisson_llr

FIRST_DAY = dt.date(2020, 3, 2)  # a Monday
DAYS = 10
KST = dt.timezone(dt.timedelta(hours=9))
AREA_M = 250.0


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime.combine(FIRST_DAY + dt.timedelta(days=day), dt.time(hour), tzinfo=KST)


def people_rows(
    rng: np.random.Generator, persons: int, *, ping_pong_m: float = 300.0
) -> dict[str, list]:
    """Every person's hourly rows, 08-20 h: at home (a few squares around it,
    as a phone between towers) except three hours at one of 12 places."""
    home = rng.uniform(-2500, 2500, (persons, 2))
    places = rng.uniform(-2500, 2500, (12, 2))
    rows: dict[str, list] = {"person": [], "north": [], "east": [], "ts": []}
    for p in range(persons):
        for day in range(DAYS):
            away = int(rng.integers(0, 12))
            out_from = int(rng.integers(9, 17))
            for hour in range(8, 21):
                spot = places[away] if out_from <= hour < out_from + 3 else home[p]
                north, east = spot + rng.normal(0, ping_pong_m, 2)
                rows["person"].append(f"P{p:04d}")
                rows["north"].append(north)
                rows["east"].append(east)
                rows["ts"].append(at(day, hour))
    return rows


def as_table(rows: dict[str, list]) -> pa.Table:
    lat, lon = degrees(np.array(rows["north"]), np.array(rows["east"]))
    return pa.table({
        "person": rows["person"], "lat": lat, "lon": lon,
        "ts": pa.array(rows["ts"], pa.timestamp("us", "UTC")),
    })  # fmt: skip


def random_cases(rng: np.random.Generator, persons: int, n: int, days: int = 4) -> pa.Table:
    chosen = rng.choice(persons, n, replace=False)
    first = rng.integers(0, DAYS - days + 1, n)
    return pa.table({
        "person": [f"P{p:04d}" for p in chosen],
        "first_day": [FIRST_DAY + dt.timedelta(days=int(d)) for d in first],
        "last_day": [FIRST_DAY + dt.timedelta(days=int(d) + days - 1) for d in first],
    })  # fmt: skip


def scan(
    rows: pa.Table,
    cases: pa.Table,
    *,
    slot_hours: int = 24,
    max_slots: int | None = None,
    **settings: Any,
) -> object:
    params = ScanParams(**{"replications": 99, "seed": 1, "max_days": 1, **settings})
    return scan_relabelled(
        rows,
        cases,
        params,
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
        slot_hours=slot_hours,
        max_slots=max_slots,
    )


def brute_force_best(rows: pa.Table, cases: pa.Table, max_radius_m: float) -> tuple[float, int]:
    """The best one-day cylinder by direct counting: (LLR, its case count)."""
    x, y = project(rows["lat"].to_numpy(), rows["lon"].to_numpy(), "EPSG:5179")
    square = np.stack([np.floor(x / AREA_M), np.floor(y / AREA_M)], 1)
    day = np.array([(t.astimezone(KST).date() - FIRST_DAY).days for t in rows["ts"].to_pylist()])
    person = np.array(rows["person"].to_pylist())
    columns = (cases[c].to_pylist() for c in ("person", "first_day", "last_day"))
    case_days = {
        p: ((f - FIRST_DAY).days, (la - FIRST_DAY).days) for p, f, la in zip(*columns, strict=True)
    }
    is_case_row = np.array([
        p in case_days and case_days[p][0] <= d <= case_days[p][1]
        for p, d in zip(person, day, strict=True)
    ])  # fmt: skip
    centres = np.unique(square, axis=0)
    present_on = [len(set(person[day == d])) for d in range(DAYS)]
    active_on = [len(set(person[(day == d) & is_case_row])) for d in range(DAYS)]
    total = sum(active_on)
    best = (0.0, 0)
    for centre in centres:
        distance = np.hypot(*(((square - centre) * AREA_M).T))
        for radius in np.unique(distance[distance <= max_radius_m]):
            if radius < AREA_M:
                continue  # the scan's circles reach at least the neighbouring areas
            inside = distance <= radius
            for d in range(DAYS):
                here = inside & (day == d)
                cases_here = len(set(person[here & is_case_row]))
                expected = active_on[d] * len(set(person[here])) / present_on[d]
                if cases_here >= 2:
                    best = max(best, (poisson_llr(cases_here, expected, total), cases_here))
    return best


def test_counts_each_person_once_per_circle_and_day_like_a_direct_count() -> None:
    rng = np.random.default_rng(3)
    rows = people_rows(rng, 40, ping_pong_m=200.0)
    # Two cases spend a day wandering round one block: many rows, two people.
    for p in (0, 1):
        for hour in range(8, 21):
            rows["person"].append(f"P{p:04d}")
            rows["north"].append(3000.0 + rng.normal(0, 150))
            rows["east"].append(3000.0 + rng.normal(0, 150))
            rows["ts"].append(at(4, hour))
    table = as_table(rows)
    cases = random_cases(rng, 40, 10).set_column(
        0, "person", pa.array(["P0000", "P0001"] + [f"P{p:04d}" for p in range(30, 38)])
    )
    result = scan(table, cases, max_radius_m=600.0, max_share_of_population=1.0)
    want_llr, want_cases = brute_force_best(table, cases, max_radius_m=600.0)
    top = result.clusters[0]
    assert top.llr == pytest.approx(want_llr, rel=1e-9)
    assert top.cases == want_cases
    assert result.n_cases == 10


def test_size_holds_when_one_person_is_in_several_areas_a_day() -> None:
    """Cases drawn at random from people whose phones move between towers:
    the relabelling replications keep each person whole, so about 5 % of
    null data sets are significant at 0.05."""
    rng = np.random.default_rng(11)
    rows = as_table(people_rows(rng, 250))
    significant = 0
    for trial in range(20):
        cases = random_cases(rng, 250, 25)
        result = scan(rows, cases, seed=trial)
        significant += bool(result.clusters) and result.clusters[0].p_value < 0.05
    # Binomial(20, 0.05) exceeds 3 with probability 1.6 %.
    assert significant <= 3


def test_finds_a_gathering_in_its_time_slot() -> None:
    rng = np.random.default_rng(5)
    rows = people_rows(rng, 250)
    # Day 6 (a Sunday), 09-11 h: 30 people at a hall 1.5 km north, 14 of them cases to be.
    attendees = rng.choice(250, 30, replace=False)
    for p in attendees:
        for hour in (9, 10, 11):
            rows["person"].append(f"P{p:04d}")
            rows["north"].append(1500.0 + rng.normal(0, 60))
            rows["east"].append(rng.normal(0, 60))
            rows["ts"].append(at(6, hour))
    table = as_table(rows)
    infected = [f"P{p:04d}" for p in attendees[:14]]
    others = [f"P{p:04d}" for p in np.setdiff1d(np.arange(250), attendees)[:6]]
    cases = pa.table({
        "person": infected + others,
        "first_day": [FIRST_DAY + dt.timedelta(days=4)] * 20,
        "last_day": [FIRST_DAY + dt.timedelta(days=8)] * 20,
    })  # fmt: skip
    result = scan(table, cases, slot_hours=3, max_slots=1)
    top = result.clusters[0]
    assert top.p_value < 0.05
    assert top.first_day == top.last_day == FIRST_DAY + dt.timedelta(days=6)
    assert (top.start_hour, top.end_hour) == (9, 12)
    north_m = (top.lat - degrees(np.array(1500.0), np.array(0.0))[0]) * METRES_PER_DEGREE_LAT
    assert abs(north_m) <= top.radius_m + AREA_M
    assert top.cases >= 12
    named = result.cluster_cases[0]  # one slot: each case counted once
    assert len(named) == top.cases and sum(p in infected for p in named) >= 12
    window = result.to_table().to_pylist()[0]
    assert (window["start"], window["end"]) == (at(6, 9), at(6, 12))


def test_the_same_seed_gives_the_same_result_whatever_the_rows_order() -> None:
    rng = np.random.default_rng(4)
    rows = as_table(people_rows(rng, 60))
    cases = random_cases(rng, 60, 8)
    shuffled = rows.take(rng.permutation(rows.num_rows))
    first, second = scan(rows, cases), scan(shuffled, cases)
    assert [(c.llr, c.p_value) for c in first.clusters] == [
        (c.llr, c.p_value) for c in second.clusters
    ]
    assert np.array_equal(first.replicated_maxima, second.replicated_maxima)


def test_bad_input_is_refused_naming_what() -> None:
    rng = np.random.default_rng(1)
    rows = as_table(people_rows(rng, 5))
    cases = random_cases(rng, 5, 2)
    with pytest.raises(ValueError, match="rows lack column"):
        scan(rows.drop_columns(["ts"]), cases)
    with pytest.raises(ValueError, match="more than once"):
        scan(rows, pa.concat_tables([cases, cases]))
    swapped = cases.rename_columns(["person", "last_day", "first_day"])
    with pytest.raises(ValueError, match="last_day comes before"):
        scan(rows, swapped)
    with pytest.raises(ValueError, match="slot_hours must divide 24"):
        scan(rows, cases, slot_hours=5)
    with pytest.raises(ValueError, match="max_share_of_population"):
        scan(rows, cases, max_share_of_population=0.0)


def test_cases_without_rows_add_nothing() -> None:
    rng = np.random.default_rng(2)
    rows = as_table(people_rows(rng, 30))
    cases = random_cases(rng, 30, 6)
    unknown = pa.table({
        "person": ["nobody"], "first_day": [FIRST_DAY], "last_day": [FIRST_DAY],
    })  # fmt: skip
    with_unknown = scan(rows, pa.concat_tables([cases, unknown]))
    assert with_unknown.n_cases == 6
    assert [c.llr for c in with_unknown.clusters] == [c.llr for c in scan(rows, cases).clusters]
