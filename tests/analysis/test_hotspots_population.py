"""The space-time Poisson scan against people present (``population.py``)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from local_metres import METRES_PER_DEGREE_LAT, SEOUL_LAT, degrees

from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.population import (
    area_days,
    poisson_llr,
    replicate_counts,
    scan_population,
)

FIRST_DAY = dt.date(2020, 3, 2)  # a Monday
DAYS = 14
AREA_M = 250.0


def city(rng: np.random.Generator, places: int = 60) -> dict[str, np.ndarray]:
    """Places with daily visitors; place 0 is a church full on Sundays only."""
    north = rng.uniform(-3000, 3000, places)
    east = rng.uniform(-3000, 3000, places)
    weekday = (FIRST_DAY.weekday() + np.arange(DAYS)) % 7
    persons = rng.integers(20, 200, (places, 1)) * np.ones((1, DAYS))
    persons[0] = np.where(weekday == 6, 400, 5)
    return {"north": north, "east": east, "persons": persons}


def presence_table(town: dict[str, np.ndarray]) -> pa.Table:
    places, days = town["persons"].shape
    lat, lon = degrees(town["north"], town["east"])
    day = [FIRST_DAY + dt.timedelta(days=int(d)) for d in np.tile(np.arange(days), places)]
    return pa.table(
        {
            "lat": np.repeat(lat, days),
            "lon": np.repeat(lon, days),
            "day": pa.array(day, pa.date32()),
            "persons": town["persons"].ravel().astype(np.int64),
        }
    )


def events_table(town: dict[str, np.ndarray], counts: np.ndarray) -> pa.Table:
    """One event per count at each place and day, at noon KST."""
    place, day = np.nonzero(counts)
    repeat = counts[place, day]
    lat, lon = degrees(town["north"][place], town["east"][place])
    noon = dt.time(3)  # 12:00 KST in UTC
    ts = [dt.datetime.combine(FIRST_DAY + dt.timedelta(days=int(d)), noon, dt.UTC) for d in day]
    each = np.repeat(np.array(ts, dtype=object), repeat).tolist()
    return pa.table(
        {
            "lat": np.repeat(lat, repeat),
            "lon": np.repeat(lon, repeat),
            "ts": pa.array(each, pa.timestamp("us", tz="UTC")),
        }
    )


def null_counts(rng: np.random.Generator, town: dict[str, np.ndarray], rate: float) -> np.ndarray:
    """Each day's events over the places in proportion to the people present."""
    return rng.poisson(town["persons"] * rate)


def scan(town: dict[str, np.ndarray], counts: np.ndarray, replications: int, **options):
    return scan_population(
        events_table(town, counts),
        presence_table(town),
        ScanParams(replications=replications, **options),
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
    )


def brute_force_best(town: dict[str, np.ndarray], counts: np.ndarray, max_days: int) -> float:
    """The best LLR over every circle (centre at an area with events, radius at an
    area's distance, 250 m to 1 km) and window, recomputed from scratch."""
    areas = area_days(
        events_table(town, counts),
        presence_table(town),
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
    )
    expected = areas.expected
    total = float(areas.events.sum())
    best = 0.0
    for centre in np.flatnonzero(areas.events.sum(axis=1) > 0):
        distance = np.hypot(areas.x - areas.x[centre], areas.y - areas.y[centre])
        for radius in np.unique(distance[(distance >= AREA_M) & (distance <= 1000.0)]):
            inside = distance <= radius
            for first in range(DAYS):
                for last in range(first, min(DAYS, first + max_days)):
                    cases = float(areas.events[inside, first : last + 1].sum())
                    if cases < 2:
                        continue
                    e = float(expected[inside, first : last + 1].sum())
                    best = max(best, poisson_llr(cases, e, total))
    return best


def test_poisson_llr_is_kulldorffs_and_zero_without_excess() -> None:
    cases, expected, total = 12.0, 4.0, 100.0
    want = cases * math.log(cases / expected) + (total - cases) * math.log(
        (total - cases) / (total - expected)
    )
    assert poisson_llr(cases, expected, total) == pytest.approx(want)
    assert poisson_llr(3.0, 4.0, total) == 0.0


def test_expected_events_follow_each_days_presence_and_sum_to_the_events() -> None:
    rng = np.random.default_rng(1)
    town = city(rng)
    counts = null_counts(rng, town, 0.02)
    areas = area_days(
        events_table(town, counts),
        presence_table(town),
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
    )
    np.testing.assert_allclose(areas.expected.sum(axis=0), counts.sum(axis=0))
    day = 3
    shares = areas.presence[:, day] / areas.presence[:, day].sum()
    np.testing.assert_allclose(areas.expected[:, day], shares * counts[:, day].sum())


@pytest.mark.parametrize("max_days", [1, 3])
def test_the_best_cylinder_is_the_brute_force_best(max_days: int) -> None:
    rng = np.random.default_rng(2)
    town = city(rng, places=25)
    counts = null_counts(rng, town, 0.01)
    counts[5, 4] += 6
    result = scan(town, counts, 0, max_days=max_days)
    assert result.clusters[0].llr == pytest.approx(brute_force_best(town, counts, max_days))


def test_replications_keep_each_days_events() -> None:
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(8), size=5)  # 5 days × 8 areas
    day_events = np.array([0, 3, 10, 1, 7])
    drawn = replicate_counts(day_events, shares, 50, rng)
    assert drawn.shape == (50, 8, 5)
    assert (drawn.sum(axis=1) == day_events).all()


def test_a_church_full_on_sundays_is_no_cluster_against_its_presence() -> None:
    """Null data: events in proportion to the people present, the church's
    Sunday crowd included; at most 2 of 15 at p < 0.05 (Binomial(15, 0.05)
    exceeds 2 with probability 3.6 %)."""
    alarms = 0
    for seed in range(15):
        rng = np.random.default_rng(100 + seed)
        town = city(rng)
        alarms += scan(town, null_counts(rng, town, 0.01), 99, seed=seed).clusters[0].p_value < 0.05
    assert alarms <= 2


def test_a_sunday_service_with_many_cases_is_the_most_likely_cluster() -> None:
    rng = np.random.default_rng(4)
    town = city(rng)
    counts = null_counts(rng, town, 0.01)
    sunday = 6  # 2020-03-08
    counts[0, sunday] += 15
    top = scan(town, counts, 199, seed=4).clusters[0]
    north, east = town["north"][0], town["east"][0]
    lat, lon = degrees(np.array(north), np.array(east))
    metres = math.hypot(
        (float(lat) - top.lat) * METRES_PER_DEGREE_LAT,
        (float(lon) - top.lon) * METRES_PER_DEGREE_LAT * math.cos(math.radians(top.lat)),
    )
    assert metres <= top.radius_m + AREA_M
    assert top.first_day <= FIRST_DAY + dt.timedelta(days=sunday) <= top.last_day
    assert top.p_value < 0.05


def test_secondary_clusters_share_no_area_with_a_more_likely_one() -> None:
    rng = np.random.default_rng(5)
    town = city(rng)
    counts = null_counts(rng, town, 0.01)
    counts[0, 6] += 15
    counts[10, 2] += 8
    clusters = scan(town, counts, 19, seed=5).clusters
    assert len(clusters) >= 2
    seen: set[int] = set()
    for cluster in clusters:
        assert not seen & set(cluster.locations.tolist())
        seen |= set(cluster.locations.tolist())


def test_bad_input_is_refused_with_the_reason() -> None:
    rng = np.random.default_rng(6)
    town = city(rng)
    events = events_table(town, null_counts(rng, town, 0.01))
    presence = presence_table(town)
    last = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    with pytest.raises(ValueError, match="presence lack column"):
        scan_population(events, presence.drop(["persons"]), ScanParams(replications=0))
    with pytest.raises(ValueError, match="outside the study period"):
        later = FIRST_DAY + dt.timedelta(days=3)
        scan_population(
            events, presence, ScanParams(replications=0), first_day=later, last_day=last
        )
    negative = presence.set_column(3, "persons", pa.array(np.full(presence.num_rows, -1)))
    with pytest.raises(ValueError, match="null or negative"):
        scan_population(events, negative, ScanParams(replications=0))
    with pytest.raises(ValueError, match="max_share_of_population must be in"):
        scan_population(events, presence, ScanParams(max_share_of_population=1.5))
    with pytest.raises(ValueError, match="area_m must be positive"):
        scan_population(events, presence, area_m=0.0)
    assert scan_population(events.slice(0, 0), presence, ScanParams(replications=9)).clusters == []


def test_events_where_nobody_is_counted_count_only_with_their_neighbours() -> None:
    """A traced stay may fall in a square the presence does not reach: the scan
    keeps it, and a circle of that square alone (no presence) is no cluster."""
    rng = np.random.default_rng(7)
    town = city(rng)
    counts = null_counts(rng, town, 0.01)
    events = events_table(town, counts)
    lat, lon = degrees(np.array([9000.0, 9000.0, 9000.0]), np.array([9000.0, 9000.0, 9000.0]))
    stray = pa.table(
        {
            "lat": lat,
            "lon": lon,
            "ts": pa.array([dt.datetime(2020, 3, 4, 3, tzinfo=dt.UTC)] * 3, events["ts"].type),
        }
    )
    result = scan_population(
        pa.concat_tables([events, stray]),
        presence_table(town),
        ScanParams(replications=19),
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + dt.timedelta(days=DAYS - 1),
    )
    far_away = [c for c in result.clusters if c.lat > SEOUL_LAT + 0.07]
    assert far_away == []
