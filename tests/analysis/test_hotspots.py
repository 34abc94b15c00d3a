"""Space-time permutation scan: formula, exact search, clusters, inputs, power and size."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from epitrace.analysis.hotspots import find_hotspots, scan_hotspots
from epitrace.analysis.hotspots.cells import case_cells
from epitrace.analysis.hotspots.circles import candidate_circles
from epitrace.analysis.hotspots.clusters import _ScanSetup, permute_within_strata
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.scan import (
    expected_cases,
    log_likelihood_ratio,
    max_llr_of_replications,
    weekday_adjusted_expected,
)
from epitrace.formats.schemas import table

NYC_FEVER = Path(__file__).resolve().parents[3] / "shared" / "data" / "satscan_nycfever"
FIRST_DAY = dt.date(2020, 3, 1)
SEOUL = (37.5665, 126.9780)
METRES_PER_DEGREE_LAT = 111_320.0


def offset(north_m: np.ndarray, east_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points north/east of central Seoul, in degrees."""
    lat = SEOUL[0] + np.asarray(north_m) / METRES_PER_DEGREE_LAT
    lon = SEOUL[1] + np.asarray(east_m) / (METRES_PER_DEGREE_LAT * math.cos(math.radians(SEOUL[0])))
    return lat, lon


def cases_at(lat: np.ndarray, lon: np.ndarray, day_numbers: np.ndarray) -> pa.Table:
    days = [FIRST_DAY + dt.timedelta(days=int(d)) for d in day_numbers]
    return pa.table({"lat": lat, "lon": lon, "day": pa.array(days, pa.date32())})


def null_cases(
    rng: np.random.Generator, n: int = 200, places: int = 40, days: int = 30
) -> pa.Table:
    """Cases whose places and days are independent: the null hypothesis."""
    lat, lon = offset(rng.uniform(-5000, 5000, places), rng.uniform(-5000, 5000, places))
    where = rng.integers(0, places, n)
    return cases_at(lat[where], lon[where], rng.integers(0, days, n))


def with_outbreak(background: pa.Table, lat: float, lon: float, days: list[int]) -> pa.Table:
    return pa.concat_tables(
        [background, cases_at(np.full(len(days), lat), np.full(len(days), lon), np.array(days))]
    )


# --- the statistic -----------------------------------------------------------


def test_log_likelihood_ratio_matches_hand_computation() -> None:
    # 6 cases where 2 were expected, 20 in all:
    # 6 ln(6/2) + 14 ln(14/18) = 6.591674 - 3.518402 = 3.073271
    assert log_likelihood_ratio(6.0, 2.0, 20.0) == pytest.approx(3.0732712, abs=1e-6)
    assert log_likelihood_ratio(2.0, 2.0, 20.0) == 0.0  # not above expectation
    assert log_likelihood_ratio(1.0, 3.0, 20.0) == 0.0  # low rates are not scanned
    assert log_likelihood_ratio(20.0, 10.0, 20.0) == pytest.approx(20 * math.log(2))


def test_expected_cases_over_all_cells_sum_to_the_total() -> None:
    cells = case_cells(null_cases(np.random.default_rng(3)))
    expected = expected_cases(
        cells.location_totals[:, None], cells.day_totals[None, :], cells.n_cases
    )
    assert expected.sum() == pytest.approx(cells.n_cases)
    # ...and each location's row to its own total: the permutation model keeps both margins.
    np.testing.assert_allclose(expected.sum(axis=1), cells.location_totals)
    np.testing.assert_allclose(expected.sum(axis=0), cells.day_totals)


def cell_expected(cells, case_day: np.ndarray, adjusted: bool) -> np.ndarray:
    """Expected cases of every (location, day) cell, from the definitions:
    n_z · n_d / N, or adjusted for weekday n_z,w(d) · n_d / n_w(d)."""
    location = np.repeat(np.arange(cells.n_locations), cells.location_totals)
    counts = np.zeros((cells.n_locations, cells.n_days))
    np.add.at(counts, (location, case_day), 1)
    n_d = counts.sum(axis=0)
    if not adjusted:
        return counts.sum(axis=1)[:, None] * n_d[None, :] / cells.n_cases
    weekday = (cells.first_day.weekday() + np.arange(cells.n_days)) % 7
    expected = np.zeros_like(counts)
    for w in range(7):
        days = weekday == w
        n_w = n_d[days].sum()
        if n_w:
            n_zw = counts[:, days].sum(axis=1)
            expected[:, days] = n_zw[:, None] * n_d[days][None, :] / n_w
    return expected


def brute_force_best(
    cells, circles, max_days: int, prospective: bool, case_day=None, adjusted: bool = False
) -> np.ndarray:
    """Each centre's best LLR over every circle and every window, no pruning."""
    case_day = cells.case_day if case_day is None else case_day
    n, n_days = cells.n_cases, cells.n_days
    mu_cells = cell_expected(cells, case_day, adjusted)
    best = np.zeros(circles.n_centres)
    for centre in range(circles.n_centres):
        in_circle = np.zeros(n_days, dtype=int)
        mu_circle = np.zeros(n_days)
        for entry in range(circles.start[centre], circles.start[centre + 1]):
            loc = circles.location[entry]
            np.add.at(in_circle, case_day[cells.case_start[loc] : cells.case_start[loc + 1]], 1)
            mu_circle += mu_cells[loc]
            if not circles.closes_step[entry]:
                continue
            for first in range(n_days):
                for last in range(first, min(first + max_days, n_days)):
                    if prospective and last != n_days - 1:
                        continue
                    c = in_circle[first : last + 1].sum()
                    if c < 2:
                        continue
                    mu = mu_circle[first : last + 1].sum()
                    best[centre] = max(best[centre], log_likelihood_ratio(float(c), mu, float(n)))
    return best


@pytest.mark.parametrize("prospective", [False, True])
@pytest.mark.parametrize("max_radius_m", [2500.0, None])
def test_pruned_search_finds_the_same_maxima_as_brute_force(
    prospective: bool, max_radius_m: float | None
) -> None:
    rng = np.random.default_rng(11)
    background = null_cases(rng, n=150, places=30, days=20)
    lat, lon = offset(np.array([0.0]), np.array([0.0]))
    cells = case_cells(with_outbreak(background, lat[0], lon[0], [15, 16, 17, 18, 19]))
    xy = np.column_stack([cells.x, cells.y])
    circles = candidate_circles(
        xy, xy, cells.location_totals, max_radius_m=max_radius_m, max_cases=cells.n_cases // 2
    )
    setup = _ScanSetup.of(cells, circles, 7, prospective, 2)
    best = setup.best_per_centre(cells.case_day)
    np.testing.assert_allclose(
        best.llr, brute_force_best(cells, circles, 7, prospective), atol=1e-9
    )
    # Replications prune against the running maximum instead: same maxima.
    permuted = np.stack([rng.permutation(cells.case_day) for _ in range(3)])
    maxima = max_llr_of_replications(permuted, *setup._arguments())
    expected = [brute_force_best(cells, circles, 7, prospective, days).max() for days in permuted]
    np.testing.assert_allclose(maxima, expected, atol=1e-9)


def weekly_cases(rng: np.random.Generator, weeks: int = 3) -> pa.Table:
    """Null background plus places with weekly schedules: a 'church' with cases on
    Sundays only, a 'club' on Fridays and Saturdays (day 0, 2020-03-01, is a Sunday)."""
    background = null_cases(rng, n=120, places=25, days=7 * weeks)
    church_lat, church_lon = offset(np.array([300.0, 2000.0]), np.array([-400.0, 1500.0]))
    sundays = rng.integers(0, weeks, 20) * 7
    weekends = rng.integers(0, weeks, 12) * 7 + rng.integers(5, 7, 12)
    church = cases_at(np.full(20, church_lat[0]), np.full(20, church_lon[0]), sundays)
    club = cases_at(np.full(12, church_lat[1]), np.full(12, church_lon[1]), weekends)
    return pa.concat_tables([background, church, club])


@pytest.mark.parametrize("prospective", [False, True])
@pytest.mark.parametrize("max_radius_m", [2500.0, None])
def test_weekday_adjusted_search_finds_the_same_maxima_as_brute_force(
    prospective: bool, max_radius_m: float | None
) -> None:
    rng = np.random.default_rng(12)
    lat, lon = offset(np.array([0.0]), np.array([0.0]))
    cells = case_cells(with_outbreak(weekly_cases(rng), lat[0], lon[0], [15, 16, 17, 18, 20]))
    xy = np.column_stack([cells.x, cells.y])
    circles = candidate_circles(
        xy, xy, cells.location_totals, max_radius_m=max_radius_m, max_cases=cells.n_cases // 2
    )
    for max_days in (3, 7):
        setup = _ScanSetup.of(cells, circles, max_days, prospective, 2, adjusted=True)
        best = setup.best_per_centre(cells.case_day)
        brute = brute_force_best(cells, circles, max_days, prospective, adjusted=True)
        np.testing.assert_allclose(best.llr, brute, atol=1e-9)
        assert brute.max() > 0
        # Replications keep each case's weekday: same maxima as brute force.
        weekday = (cells.first_day.weekday() + cells.case_day.astype(np.int64)) % 7
        permuted = permute_within_strata(cells.case_day, weekday, 3, rng)
        maxima = max_llr_of_replications(permuted, *setup._arguments())
        expected = [
            brute_force_best(cells, circles, max_days, prospective, days, adjusted=True).max()
            for days in permuted
        ]
        np.testing.assert_allclose(maxima, expected, atol=1e-9)


def test_adjusted_expected_sums_to_every_location_weekday_and_day_total() -> None:
    cells = case_cells(weekly_cases(np.random.default_rng(3)))
    expected = cell_expected(cells, cells.case_day, adjusted=True)
    np.testing.assert_allclose(expected.sum(axis=1), cells.location_totals)
    np.testing.assert_allclose(expected.sum(axis=0), cells.day_totals)
    # The cluster's reported figure is the same sum over its cells.
    locations = np.array([0, 3, 5])
    inside = np.concatenate(
        [cells.case_day[cells.case_start[z] : cells.case_start[z + 1]] for z in locations]
    )
    assert weekday_adjusted_expected(inside, cells.case_day, 4, 9, cells.first_day) == (
        pytest.approx(expected[locations, 4:10].sum())
    )


def test_weekday_adjustment_explains_a_sunday_church() -> None:
    # A church whose cases all worship on Sundays is the top plain cluster;
    # adjusted, its Sundays are expected and it is no longer significant.
    rng = np.random.default_rng(0)
    weeks = 3
    church = offset(np.array([300.0]), np.array([-400.0]))
    sundays = rng.integers(0, weeks, 30) * 7  # day 0 is a Sunday
    cases = pa.concat_tables(
        [
            null_cases(rng, n=120, places=25, days=7 * weeks),
            cases_at(np.full(30, church[0][0]), np.full(30, church[1][0]), sundays),
        ]
    )
    plain = scan_hotspots(cases, ScanParams(max_radius_m=1000.0, replications=99, seed=1))
    adjusted = scan_hotspots(
        cases, ScanParams(max_radius_m=1000.0, replications=99, seed=1, adjust_weekday=True)
    )
    top = plain.clusters[0]
    assert (top.lat, top.lon) == pytest.approx((church[0][0], church[1][0]))
    assert top.p_value < 0.05
    assert not adjusted.clusters or adjusted.clusters[0].p_value > 0.05


# --- clusters ----------------------------------------------------------------


def grid_background() -> pa.Table:
    """5 × 5 places 2 km apart, 300 cases spread evenly over 30 days."""
    north, east = np.meshgrid(np.arange(5) * 2000.0, np.arange(5) * 2000.0)
    lat, lon = offset(north.ravel(), east.ravel())
    rng = np.random.default_rng(5)
    where = np.arange(300) % 25
    days = rng.permutation(np.arange(300) % 30)
    return cases_at(lat[where], lon[where], days)


def test_planted_outbreak_is_the_most_likely_cluster_with_exact_place_and_days() -> None:
    background = grid_background()
    lat, lon = offset(np.array([4000.0]), np.array([4000.0]))  # the centre of the grid
    outbreak = with_outbreak(background, lat[0], lon[0], [10] * 5 + [11] * 5 + [12] * 5)
    hotspots = find_hotspots(outbreak, ScanParams(max_radius_m=1000.0, replications=199, seed=1))
    first = hotspots.slice(0, 1).to_pylist()[0]
    assert first["cluster_id"] == 1
    assert (first["lat"], first["lon"]) == pytest.approx((lat[0], lon[0]))
    assert first["radius_m"] == 0.0
    kst = dt.timezone(dt.timedelta(hours=9))
    assert first["start"] == dt.datetime(2020, 3, 11, tzinfo=kst)
    assert first["end"] == dt.datetime(2020, 3, 14, tzinfo=kst)  # after the last day, 13 March
    assert first["cases"] >= 15
    assert first["p_value"] <= 0.01


def test_secondary_clusters_share_no_location_with_more_likely_ones() -> None:
    background = grid_background()
    lat, lon = offset(np.array([0.0, 8000.0, 4000.0]), np.array([0.0, 8000.0, 2000.0]))
    outbreaks = with_outbreak(background, lat[0], lon[0], [3, 3, 4, 4, 5, 5])
    outbreaks = with_outbreak(outbreaks, lat[1], lon[1], [20, 20, 21, 21, 22])
    outbreaks = with_outbreak(outbreaks, lat[2], lon[2], [25, 25, 26, 26])
    scan = scan_hotspots(outbreaks, ScanParams(max_radius_m=5000.0, replications=99))
    assert len(scan.clusters) >= 3
    seen: set[int] = set()
    for cluster in scan.clusters:
        assert seen.isdisjoint(cluster.locations.tolist())
        seen.update(cluster.locations.tolist())
    llrs = [c.llr for c in scan.clusters]
    assert llrs == sorted(llrs, reverse=True)
    assert [c.p_value for c in scan.clusters] == sorted(c.p_value for c in scan.clusters)


def test_same_seed_gives_the_same_table() -> None:
    cases = null_cases(np.random.default_rng(8))
    first = find_hotspots(cases, ScanParams(replications=99, seed=42))
    assert first.equals(find_hotspots(cases, ScanParams(replications=99, seed=42)))
    assert first.num_rows > 0


def test_output_conforms_to_the_hotspots_contract() -> None:
    result = find_hotspots(null_cases(np.random.default_rng(2)), ScanParams(replications=19))
    assert result.schema == table("hotspots").arrow_schema
    rows = result.to_pylist()
    assert [r["cluster_id"] for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row["start"] < row["end"]
        assert 0 < row["p_value"] <= 1 and row["expected"] >= 0 and row["radius_m"] >= 0


def test_days_of_timestamps_are_local_calendar_days() -> None:
    kst = dt.timezone(dt.timedelta(hours=9))
    # 23:30 in Seoul is still 14:30 UTC of the same day; 00:30 is the previous UTC day.
    instants = [
        dt.datetime(2020, 3, 5, 23, 30, tzinfo=kst),
        dt.datetime(2020, 3, 6, 0, 30, tzinfo=kst),
    ]
    cases = pa.table(
        {
            "lat": [37.5, 37.5],
            "lon": [127.0, 127.0],
            "ts": pa.array(instants, pa.timestamp("us", tz="UTC")),
        }
    )
    cells = case_cells(cases)
    assert cells.first_day == dt.date(2020, 3, 5) and cells.n_days == 2


# --- bad input ---------------------------------------------------------------


def test_empty_table_gives_an_empty_result() -> None:
    empty = pa.table(
        {
            "lat": pa.array([], pa.float64()),
            "lon": pa.array([], pa.float64()),
            "day": pa.array([], pa.date32()),
        }
    )
    result = find_hotspots(empty)
    assert result.num_rows == 0 and result.schema == table("hotspots").arrow_schema


def test_a_single_case_gives_no_cluster() -> None:
    assert find_hotspots(cases_at(np.array([37.5]), np.array([127.0]), np.array([0]))).num_rows == 0


def test_all_cases_at_one_place_give_no_cluster() -> None:
    # Every circle would hold all cases (more than half): nothing to compare with.
    cases = cases_at(np.full(30, 37.5), np.full(30, 127.0), np.arange(30) % 5)
    assert find_hotspots(cases, ScanParams(replications=9)).num_rows == 0


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"lat": [37.5, None], "lon": [127.0, 127.0]}, r"1 case\(s\) have no lat"),
        ({"lat": [37.5, 37.5], "lon": [127.0, float("nan")]}, "lon outside"),
        ({"lat": [37.5, 95.0], "lon": [127.0, 127.0]}, "lat outside"),
        ({"lon": [127.0, 127.0]}, r"lack column\(s\): lat"),
    ],
)
def test_bad_coordinates_are_refused_clearly(columns: dict, message: str) -> None:
    cases = pa.table({**columns, "day": pa.array([FIRST_DAY, FIRST_DAY], pa.date32())})
    with pytest.raises(ValueError, match=message):
        find_hotspots(cases)


def test_naive_timestamps_and_cases_outside_the_period_are_refused() -> None:
    naive = pa.table(
        {
            "lat": [37.5],
            "lon": [127.0],
            "ts": pa.array([dt.datetime(2020, 3, 1)], pa.timestamp("us")),
        }
    )
    with pytest.raises(ValueError, match="time zone"):
        find_hotspots(naive)
    cases = cases_at(np.array([37.5, 37.6]), np.array([127.0, 127.0]), np.array([0, 9]))
    with pytest.raises(ValueError, match=r"1 case\(s\) fall outside the study period"):
        find_hotspots(cases, last_day=FIRST_DAY + dt.timedelta(days=5))
    with pytest.raises(ValueError, match="max_share_of_cases"):
        find_hotspots(cases, ScanParams(max_share_of_cases=0.0))


# --- power and size (synthetic outbreaks, not the city simulator) --------------


def test_power_planted_outbreak_found_and_significant_in_at_least_90_percent() -> None:
    found = 0
    seeds = range(20)
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        background = null_cases(rng, n=300, places=60, days=30)
        centre_lat, centre_lon = offset(rng.uniform(-3000, 3000, 1), rng.uniform(-3000, 3000, 1))
        first_day = int(rng.integers(5, 25))
        # 10 extra cases within 300 m of one point over three days.
        near_lat, near_lon = offset(rng.uniform(-200, 200, 10), rng.uniform(-200, 200, 10))
        lat = near_lat - SEOUL[0] + centre_lat[0]
        lon = near_lon - SEOUL[1] + centre_lon[0]
        outbreak = cases_at(lat, lon, first_day + rng.integers(0, 3, 10))
        scan = scan_hotspots(
            pa.concat_tables([background, outbreak]),
            ScanParams(max_radius_m=1000.0, replications=199, seed=seed),
        )
        best = scan.clusters[0]
        distance = math.dist(offset_m(best.lat, best.lon), offset_m(centre_lat[0], centre_lon[0]))
        days = (best.first_day - FIRST_DAY).days, (best.last_day - FIRST_DAY).days
        overlaps = days[0] <= first_day + 2 and days[1] >= first_day
        found += distance < 1300 and overlaps and best.p_value < 0.05
    assert found >= 0.9 * len(seeds)


def offset_m(lat: float, lon: float) -> tuple[float, float]:
    return (
        (lat - SEOUL[0]) * METRES_PER_DEGREE_LAT,
        (lon - SEOUL[1]) * METRES_PER_DEGREE_LAT * math.cos(math.radians(SEOUL[0])),
    )


@pytest.mark.slow
def test_size_under_the_null_at_most_about_5_percent_significant() -> None:
    # 60 null data sets, 99 replications each. With a true size of 5% the count
    # of p < 0.05 is Binomial(60, 0.05): mean 3, P(count > 7) < 1%. The Monte
    # Carlo test is exact (p ~ uniform on 1/100 .. 1), so 7 of 60 (11.7%) is
    # the tolerance for Monte Carlo error, not for bias.
    significant = 0
    for seed in range(60):
        cases = null_cases(np.random.default_rng(2000 + seed))
        scan = scan_hotspots(cases, ScanParams(max_radius_m=3000.0, replications=99, seed=seed))
        significant += bool(scan.clusters) and scan.clusters[0].p_value < 0.05
    assert significant <= 7


# --- SaTScan's NYC fever sample ----------------------------------------------


@pytest.mark.realdata
@pytest.mark.skipif(not NYC_FEVER.exists(), reason="shared/data/satscan_nycfever is absent")
def test_nyc_fever_most_likely_cluster_matches_the_reference() -> None:
    from epitrace.analysis.hotspots.satscan_files import run_sample

    sample = run_sample(NYC_FEVER, seed=0)
    assert sample.arguments == {
        "prospective": True,
        "first_day": dt.date(2001, 11, 1),
        "last_day": dt.date(2001, 11, 24),
        "max_days": 7,
        "max_share_of_cases": 0.5,
        "max_radius_m": 3000.0,
        "min_cases": 2,
        "replications": 999,
    }
    best = sample.scan.clusters[0]
    assert sample.location_ids[best.centre] == "11418"
    assert sorted(sample.case_location_ids[i] for i in best.locations) == [
        "11415",
        "11417",
        "11418",
        "11421",
        "11435",
    ]
    assert best.radius_m == pytest.approx(2903, abs=1)
    assert (best.first_day, best.last_day) == (dt.date(2001, 11, 22), dt.date(2001, 11, 24))
    assert best.cases == 4
    assert best.expected == pytest.approx(0.670, abs=5e-4)
    assert best.llr == pytest.approx(3.845418, abs=1e-6)
    # Reference p ~ 0.19; 999 replications give a Monte Carlo s.e. of ~0.012.
    assert 0.14 <= best.p_value <= 0.24


def test_centres_far_from_every_case_give_no_cluster() -> None:
    cases = null_cases(np.random.default_rng(4))
    far = pa.table({"lat": [35.1], "lon": [129.0]})  # Busan, 325 km away
    assert find_hotspots(cases, ScanParams(replications=9), centres=far).num_rows == 0
    with pytest.raises(ValueError, match="centres"):
        find_hotspots(cases, centres=pa.table({"lat": [35.1]}))
