"""The scan over cases with several places each (``case_column``): a case counts
once per cylinder, and the replications permute days among cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from local_metres import degrees

from epitrace.analysis.hotspots import scan_hotspots
from epitrace.analysis.hotspots.cells import case_cells
from epitrace.analysis.hotspots.circles import candidate_circles
from epitrace.analysis.hotspots.clusters import _ScanSetup, permute_within_strata
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.scan import log_likelihood_ratio, max_llr_of_replications

FIRST_DAY = dt.date(2020, 3, 1)


def places_of_cases(
    rng: np.random.Generator,
    n_cases: int = 60,
    places: int = 40,
    days: int = 20,
    places_per_case: int = 5,
) -> pa.Table:
    """Null data: each case visits a few places near its home (its own cluster
    in space) and is dated once; days are independent of places."""
    place_north = rng.uniform(-5000, 5000, places)
    place_east = rng.uniform(-5000, 5000, places)
    rows: dict[str, list] = {"lat": [], "lon": [], "day": [], "case_id": []}
    for case in range(n_cases):
        home = rng.integers(0, places)
        near = np.argsort(np.hypot(place_north - place_north[home], place_east - place_east[home]))
        visited = rng.choice(near[:8], size=places_per_case, replace=False)
        lat, lon = degrees(place_north[visited], place_east[visited])
        day = FIRST_DAY + dt.timedelta(days=int(rng.integers(0, days)))
        rows["lat"] += lat.tolist()
        rows["lon"] += lon.tolist()
        rows["day"] += [day] * places_per_case
        rows["case_id"] += [f"C{case}"] * places_per_case
    return pa.table({**rows, "day": pa.array(rows["day"], pa.date32())})


def brute_force_case_best(cells, circles, max_days: int, day_of_case: np.ndarray) -> np.ndarray:
    """Each centre's best LLR counting each case once per cylinder, no pruning."""
    n, n_days = day_of_case.size, cells.n_days
    day_totals = np.bincount(day_of_case, minlength=n_days)
    best = np.zeros(circles.n_centres)
    for centre in range(circles.n_centres):
        inside: set[int] = set()
        for entry in range(circles.start[centre], circles.start[centre + 1]):
            loc = circles.location[entry]
            rows = slice(cells.case_start[loc], cells.case_start[loc + 1])
            inside.update(cells.row_case[rows].tolist())
            if not circles.closes_step[entry]:
                continue
            days_inside = day_of_case[sorted(inside)]
            for first in range(n_days):
                for last in range(first, min(first + max_days, n_days)):
                    c = np.count_nonzero((days_inside >= first) & (days_inside <= last))
                    if c < 2:
                        continue
                    mu = days_inside.size * day_totals[first : last + 1].sum() / n
                    best[centre] = max(best[centre], log_likelihood_ratio(float(c), mu, float(n)))
    return best


@pytest.mark.parametrize("max_radius_m", [1500.0, None])
def test_each_case_counts_once_per_cylinder_as_brute_force(max_radius_m: float | None) -> None:
    rng = np.random.default_rng(21)
    cells = case_cells(places_of_cases(rng, n_cases=40, places=25, days=12), case_column="case_id")
    assert cells.n_cases == 40 and cells.n_rows == 200
    xy = np.column_stack([cells.x, cells.y])
    circles = candidate_circles(
        xy, xy, cells.location_totals, max_radius_m=max_radius_m, max_cases=cells.n_rows // 2
    )
    setup = _ScanSetup.of(cells, circles, 5, False, 2)
    best = setup.best_per_centre(cells.days_of_cases)
    brute = brute_force_case_best(cells, circles, 5, cells.days_of_cases)
    np.testing.assert_allclose(best.llr, brute, atol=1e-9)
    assert brute.max() > 0
    # Replications: a permutation of the cases' days, every row following its case.
    permuted = np.stack([rng.permutation(cells.days_of_cases) for _ in range(3)])
    maxima = max_llr_of_replications(permuted, *setup._arguments())
    expected = [brute_force_case_best(cells, circles, 5, days).max() for days in permuted]
    np.testing.assert_allclose(maxima, expected, atol=1e-9)


def test_one_case_with_many_places_together_is_not_a_cluster() -> None:
    rng = np.random.default_rng(3)
    background = places_of_cases(rng, n_cases=80, places=50, days=20, places_per_case=1)
    # One case went to 12 places within 150 m of each other, dated day 7.
    lat, lon = degrees(rng.uniform(-150, 150, 12), rng.uniform(-150, 150, 12))
    one_case = pa.table(
        {
            "lat": lat,
            "lon": lon,
            "day": pa.array([FIRST_DAY + dt.timedelta(days=7)] * 12, pa.date32()),
            "case_id": ["alone"] * 12,
        }
    )
    cases = pa.concat_tables([background, one_case])
    as_one_case = scan_hotspots(cases, ScanParams(replications=99, seed=1), case_column="case_id")
    assert all(c.cases >= 2 for c in as_one_case.clusters)
    near = [c for c in as_one_case.clusters if c.first_day <= FIRST_DAY + dt.timedelta(7)]
    assert not any(c.p_value < 0.05 for c in near)
    # Read as 12 separate cases, the same rows are a certain cluster.
    as_rows = scan_hotspots(cases.drop_columns(["case_id"]), ScanParams(replications=99, seed=1))
    assert as_rows.clusters[0].cases >= 12 and as_rows.clusters[0].p_value <= 0.01


def test_cases_sharing_a_place_and_dates_are_found() -> None:
    rng = np.random.default_rng(9)
    background = places_of_cases(rng, n_cases=80, places=40, days=24)
    # 12 cases went to one venue, and each to 4 other places; dated days 10-12.
    venue_lat, venue_lon = degrees(np.array([200.0]), np.array([-300.0]))
    rows: dict[str, list] = {"lat": [], "lon": [], "day": [], "case_id": []}
    for case in range(12):
        lat, lon = degrees(rng.uniform(-5000, 5000, 4), rng.uniform(-5000, 5000, 4))
        day = FIRST_DAY + dt.timedelta(days=10 + case % 3)
        rows["lat"] += [venue_lat[0], *lat.tolist()]
        rows["lon"] += [venue_lon[0], *lon.tolist()]
        rows["day"] += [day] * 5
        rows["case_id"] += [f"V{case}"] * 5
    venue = pa.table({**rows, "day": pa.array(rows["day"], pa.date32())})
    scan = scan_hotspots(
        pa.concat_tables([background, venue]),
        ScanParams(replications=199, seed=2),
        case_column="case_id",
    )
    first = scan.clusters[0]
    assert (first.lat, first.lon) == pytest.approx((venue_lat[0], venue_lon[0]))
    assert first.first_day <= FIRST_DAY + dt.timedelta(10)
    assert first.last_day >= FIRST_DAY + dt.timedelta(12)
    assert first.cases >= 12 and first.p_value <= 0.01
    assert scan.n_cases == 92


@pytest.mark.slow
def test_size_holds_when_cases_have_many_places_near_home() -> None:
    # Each case's places lie near its home and share its day: read row by row
    # they are space-time clusters of one person. Counted as cases and
    # permuted case by case, p < 0.05 should come up about 5% of the time:
    # Binomial(40, 0.05) exceeds 5 with probability about 1.4%.
    as_cases = as_rows = 0
    for seed in range(40):
        cases = places_of_cases(np.random.default_rng(3000 + seed))
        scan = scan_hotspots(cases, ScanParams(replications=99, seed=seed), case_column="case_id")
        as_cases += bool(scan.clusters) and scan.clusters[0].p_value < 0.05
        rows = scan_hotspots(
            cases.drop_columns(["case_id"]), ScanParams(replications=99, seed=seed)
        )
        as_rows += bool(rows.clusters) and rows.clusters[0].p_value < 0.05
    assert as_cases <= 5
    # The same data permuted row by row: the dependence shows (9 of 40 when
    # written; Binomial(40, 0.05) reaches 8 with probability below 0.1%).
    assert as_rows >= 8


def test_rows_of_one_case_on_two_days_are_refused() -> None:
    cases = pa.table(
        {
            "lat": [37.5, 37.51, 37.52],
            "lon": [127.0, 127.0, 127.01],
            "day": pa.array([FIRST_DAY, FIRST_DAY + dt.timedelta(1), FIRST_DAY], pa.date32()),
            "case_id": ["A", "A", "B"],
        }
    )
    with pytest.raises(ValueError, match="1 case\\(s\\) have rows on different days"):
        scan_hotspots(cases, ScanParams(replications=9), case_column="case_id")
    with pytest.raises(ValueError, match="case_id"):
        scan_hotspots(
            cases.drop_columns(["case_id"]), ScanParams(replications=9), case_column="case_id"
        )


def test_permutations_keep_each_weekday_count_and_each_case_whole() -> None:
    rng = np.random.default_rng(4)
    cells = case_cells(places_of_cases(rng, days=21), case_column="case_id")
    days = cells.days_of_cases
    weekday = (cells.first_day.weekday() + days.astype(np.int64)) % 7
    permuted = permute_within_strata(days, weekday, 50, rng)
    for row in permuted:
        new_weekday = (cells.first_day.weekday() + row.astype(np.int64)) % 7
        np.testing.assert_array_equal(new_weekday, weekday)  # each case keeps its weekday
        np.testing.assert_array_equal(np.sort(row), np.sort(days))  # every day keeps its cases
    assert (permuted != days).any()
    # A case's rows all carry its day, whatever day the case is given.
    row_days = permuted[:, cells.row_case]
    for case in range(cells.n_cases):
        mine = row_days[:, cells.row_case == case]
        assert (mine == mine[:, :1]).all()
