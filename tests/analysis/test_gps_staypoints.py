"""GPS stay points: the same staypoints as trackintel 1.4.2 ``generate_staypoints("sliding")``."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from epitrace.analysis.gps_staypoints import (
    DEG_TO_RAD,
    STAYPOINT_SCHEMA,
    _beyond,
    _h_bounds,
    _minutes_to_nanos,
    detect_gps_staypoints,
)
from epitrace.formats.geolife import read_geolife
from epitrace.formats.schemas import table

GEOLIFE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "geolife"
GEOLIFE_LONG = GEOLIFE / "geolife_long_10_MB"
GEOLIFE_SMALL = GEOLIFE / "geolife_small"
T0 = dt.datetime(2020, 3, 2, 8, 0, tzinfo=dt.UTC)

needs_geolife = pytest.mark.skipif(not GEOLIFE_LONG.is_dir(), reason="shared GeoLife data absent")


# --- helpers ---


def gps(rows: list[tuple[str, float, float, float]]) -> pa.Table:
    """A gps_points table from (person_ref, minutes after T0, lat, lon) rows."""
    return pa.Table.from_pylist(
        [
            {
                "person_ref": p,
                "ts": T0 + dt.timedelta(minutes=m),
                "lat": lat,
                "lon": lon,
                "accuracy_m": None,
            }
            for p, m, lat, lon in rows
        ],
        schema=table("gps_points").arrow_schema,
    )


def north(metres: float) -> float:
    """Degrees of latitude for a distance north (sphere of 6,371 km)."""
    return metres / 6_371_000.0 / DEG_TO_RAD


def rows_of(staypoints: pa.Table) -> list[tuple]:
    """(person_ref, start, end, lat, lon) rows, coordinates to 1e-9 degrees.

    (trackintel's circular mean turns a longitude of 127.0 into 127.00000000000001.)
    """
    return [
        (p, start, end, round(lat, 9), round(lon, 9))
        for p, start, end, lat, lon in zip(
            *(staypoints[c].to_pylist() for c in ("person_ref", "start", "end", "lat", "lon")),
            strict=True,
        )
    ]


def trackintel_staypoints(points: pa.Table, **params) -> pa.Table:
    """trackintel's staypoints of the same fixes, in our output schema."""
    import geopandas as gpd
    import pandas as pd
    import trackintel as ti

    frame = pd.DataFrame(
        {
            "user_id": points["person_ref"].to_pylist(),
            "tracked_at": points["ts"].to_pandas(),
        }
    )
    geometry = gpd.points_from_xy(points["lon"].to_numpy(), points["lat"].to_numpy())
    pfs = ti.Positionfixes(gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"))
    return _from_trackintel(pfs, **params)


def _from_trackintel(
    pfs,
    dist_threshold_m: float = 100.0,
    time_threshold_min: float = 5.0,
    gap_threshold_min: float = 15.0,
    include_last: bool = False,
) -> pa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no staypoints", "duplicates dropped"
        pfs, sp = pfs.generate_staypoints(
            method="sliding",
            dist_threshold=dist_threshold_m,
            time_threshold=time_threshold_min,
            gap_threshold=gap_threshold_min,
            include_last=include_last,
        )
    n_fixes = pfs["staypoint_id"].value_counts().reindex(sp.index, fill_value=0)
    return pa.Table.from_arrays(
        [
            pa.array(_person_refs(sp["user_id"], numeric=pfs["user_id"].dtype.kind == "i")),
            pa.array(sp["started_at"].dt.as_unit("us")).cast(pa.timestamp("us", tz="UTC")),
            pa.array(sp["finished_at"].dt.as_unit("us")).cast(pa.timestamp("us", tz="UTC")),
            pa.array(sp.geometry.y.to_numpy(), pa.float64()),
            pa.array(sp.geometry.x.to_numpy(), pa.float64()),
            pa.array(n_fixes.to_numpy(), pa.int64()),
        ],
        schema=STAYPOINT_SCHEMA,
    )


def _person_refs(user_ids, numeric: bool) -> list[str]:
    # trackintel's read_geolife turns folder "003" into user 3; our reader keeps "003".
    return [f"{u:03d}" if numeric else str(u) for u in user_ids]


def assert_identical(ours: pa.Table, theirs: pa.Table) -> None:
    assert ours.num_rows == theirs.num_rows
    for name in ("person_ref", "start", "end", "n_fixes"):
        assert ours[name].to_pylist() == theirs[name].to_pylist(), name
    for name in ("lat", "lon"):  # bit-identical in practice; the contract is 1e-9 degrees
        ours_deg, theirs_deg = ours[name].to_numpy(), theirs[name].to_numpy()
        np.testing.assert_allclose(ours_deg, theirs_deg, rtol=0, atol=1e-9)


# --- against trackintel on real GeoLife data ---


@pytest.fixture(scope="module")
def geolife_long() -> pa.Table:
    return read_geolife(GEOLIFE_LONG)


@pytest.fixture(scope="module")
def geolife_long_trackintel():
    """trackintel's own reading of the same folder."""
    from trackintel.io import read_geolife as ti_read_geolife

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation notes inside trackintel
        pfs, _ = ti_read_geolife(str(GEOLIFE_LONG))
    return pfs


@needs_geolife
def test_reference_figure_and_identical_to_trackintel(geolife_long, geolife_long_trackintel):
    theirs = _from_trackintel(geolife_long_trackintel)  # its reader, its detector
    ours = detect_gps_staypoints(geolife_long)  # our reader, our detector
    assert ours.num_rows == 343  # the reference figure of SOURCES.md
    assert_identical(ours, theirs)
    assert ours["lat"].to_pylist() == theirs["lat"].to_pylist()  # to the bit, even
    assert ours["lon"].to_pylist() == theirs["lon"].to_pylist()


@needs_geolife
@pytest.mark.parametrize(
    "params",
    [
        {"dist_threshold_m": 50.0, "time_threshold_min": 10.0, "gap_threshold_min": 30.0},
        {"include_last": True},
        {"dist_threshold_m": 200.0, "time_threshold_min": 1 / 3, "gap_threshold_min": 2 / 3},
        {"dist_threshold_m": 30.0, "time_threshold_min": 2.0, "gap_threshold_min": 5.0},
    ],
    ids=["50m-10min-30min", "include_last", "odd-minutes", "30m-2min-5min"],
)
def test_other_parameters_identical_to_trackintel(geolife_long, geolife_long_trackintel, params):
    ours = detect_gps_staypoints(geolife_long, **params)
    assert ours.num_rows > 0
    assert_identical(ours, _from_trackintel(geolife_long_trackintel, **params))


@needs_geolife
def test_shuffled_input_gives_the_same_staypoints(geolife_long):
    order = np.random.default_rng(3).permutation(geolife_long.num_rows)
    shuffled = geolife_long.take(pa.array(order))
    # Ties in time keep input order (as trackintel); shuffling changes that order for
    # the few fixes sharing a timestamp, so compare with trackintel on the same rows.
    assert_identical(detect_gps_staypoints(shuffled), trackintel_staypoints(shuffled))


# --- the reader ---


@pytest.mark.skipif(not GEOLIFE_SMALL.is_dir(), reason="shared GeoLife data absent")
def test_reader_matches_trackintel_on_geolife_small():
    from trackintel.io import read_geolife as ti_read_geolife

    ours = read_geolife(GEOLIFE_SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pfs, _ = ti_read_geolife(str(GEOLIFE_SMALL))
    assert ours.schema == table("gps_points").arrow_schema
    assert ours.num_rows == len(pfs) > 0
    assert ours["accuracy_m"].null_count == ours.num_rows
    # Same fixes, in the same order (one user, one file here).
    assert ours["person_ref"].to_pylist() == [f"{u:03d}" for u in pfs["user_id"]]
    assert ours["ts"].to_pylist() == list(pfs["tracked_at"].dt.to_pydatetime())
    assert ours["lat"].to_pylist() == list(pfs.geometry.y)
    assert ours["lon"].to_pylist() == list(pfs.geometry.x)


@needs_geolife
def test_reader_reads_the_same_fixes_as_trackintel(geolife_long, geolife_long_trackintel):
    pfs = geolife_long_trackintel
    theirs = sorted(
        zip(
            (f"{u:03d}" for u in pfs["user_id"]),
            pfs["tracked_at"].dt.to_pydatetime(),
            pfs.geometry.y,
            pfs.geometry.x,
            strict=True,
        )
    )
    columns = (geolife_long[c].to_pylist() for c in ("person_ref", "ts", "lat", "lon"))
    ours = sorted(zip(*columns, strict=True))
    assert geolife_long.num_rows == 164_531
    assert ours == theirs


def test_reader_rejects_a_folder_without_users(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        read_geolife(tmp_path)


# --- small cases that pin the behaviour (each also checked against trackintel) ---


def stay(person: str, minutes: range | list, lat: float = 37.5, lon: float = 127.0) -> list:
    return [(person, m, lat, lon) for m in minutes]


def test_a_stay_then_a_move():
    points = gps([*stay("P1", range(0, 10)), ("P1", 10, 37.5 + north(150), 127.0)])
    ours = detect_gps_staypoints(points)
    assert rows_of(ours) == [("P1", T0, T0 + dt.timedelta(minutes=10), 37.5, 127.0)]
    assert ours["n_fixes"].to_pylist() == [10]  # the fix outside it is not part of it
    assert_identical(ours, trackintel_staypoints(points))


def test_a_gap_longer_than_the_threshold_drops_the_stay_in_progress():
    points = gps(
        [
            *stay("P1", range(0, 11)),  # 10 minutes here ...
            *stay("P1", range(31, 41)),  # ... silent for 20 minutes, still here
            ("P1", 41, 37.5 + north(150), 127.0),
        ]
    )
    ours = detect_gps_staypoints(points, gap_threshold_min=15.0)
    # Only the part after the gap is a stay; with a longer gap threshold, all of it.
    assert rows_of(ours) == [
        ("P1", T0 + dt.timedelta(minutes=31), T0 + dt.timedelta(minutes=41), 37.5, 127.0)
    ]
    assert_identical(ours, trackintel_staypoints(points, gap_threshold_min=15.0))
    whole = detect_gps_staypoints(points, gap_threshold_min=30.0)
    assert rows_of(whole) == [("P1", T0, T0 + dt.timedelta(minutes=41), 37.5, 127.0)]
    assert_identical(whole, trackintel_staypoints(points, gap_threshold_min=30.0))


def test_a_stay_at_the_very_end_needs_include_last():
    points = gps([("P1", 0, 37.4, 127.0), *stay("P1", range(1, 12))])
    assert detect_gps_staypoints(points).num_rows == 0
    last = detect_gps_staypoints(points, include_last=True)
    assert rows_of(last) == [
        ("P1", T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=11), 37.5, 127.0)
    ]
    assert last["n_fixes"].to_pylist() == [11]  # includes the last fix
    assert_identical(last, trackintel_staypoints(points, include_last=True))


def test_the_location_is_the_mean_of_distinct_positions():
    # Three fixes at A and one at B: trackintel averages the *distinct* points A, B.
    a, b = (37.5, 127.0), (37.5 + north(20), 127.0002)
    points = gps(
        [("P1", 0, *a), ("P1", 2, *a), ("P1", 4, *a), ("P1", 6, *b), ("P1", 8, 37.6, 127.0)]
    )
    ours = detect_gps_staypoints(points)
    assert ours["lat"][0].as_py() == pytest.approx((a[0] + b[0]) / 2, abs=1e-12)
    assert ours["lon"][0].as_py() == pytest.approx((a[1] + b[1]) / 2, abs=1e-9)
    assert_identical(ours, trackintel_staypoints(points))


def test_a_single_point():
    points = gps([("P1", 0, 37.5, 127.0)])
    assert detect_gps_staypoints(points, include_last=True).num_rows == 0
    # A zero-length window counts only when zero minutes are enough (as trackintel).
    zero = detect_gps_staypoints(points, time_threshold_min=0.0, include_last=True)
    assert rows_of(zero) == [("P1", T0, T0, 37.5, 127.0)]
    assert_identical(zero, trackintel_staypoints(points, time_threshold_min=0.0, include_last=True))


def test_an_empty_table():
    ours = detect_gps_staypoints(table("gps_points").arrow_schema.empty_table())
    assert ours.schema == STAYPOINT_SCHEMA
    assert ours.num_rows == 0


def test_unsorted_input_is_sorted_by_time():
    rows = [*stay("P1", range(0, 10)), ("P1", 10, 37.6, 127.0), *stay("P1", range(11, 30), 37.6)]
    rows.append(("P1", 30, 37.7, 127.0))
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    expected = rows_of(detect_gps_staypoints(gps(rows)))
    assert rows_of(detect_gps_staypoints(gps(shuffled))) == expected
    assert detect_gps_staypoints(gps(rows)).num_rows == 2


def test_two_persons_interleaved():
    p1 = [*stay("P1", range(0, 10)), ("P1", 10, 37.6, 127.0)]
    p2 = [*stay("P2", range(0, 20), 35.1, 129.0), ("P2", 20, 35.2, 129.0)]
    interleaved = [r for pair in zip(p2, p1, strict=False) for r in pair] + p2[len(p1) :]
    ours = detect_gps_staypoints(gps(interleaved))
    assert ours["person_ref"].to_pylist() == ["P1", "P2"]  # sorted by person
    assert rows_of(ours) == rows_of(detect_gps_staypoints(gps(p1))) + rows_of(
        detect_gps_staypoints(gps(p2))
    )
    assert_identical(ours, trackintel_staypoints(gps(interleaved)))


def test_dictionary_encoded_persons_give_the_same_staypoints():
    p1 = [*stay("P1", range(0, 10)), ("P1", 10, 37.6, 127.0)]
    p2 = [*stay("P2", range(0, 20), 35.1, 129.0), ("P2", 20, 35.2, 129.0)]
    points = gps(p2 + p1)  # P2 first: a dictionary in first-seen order is not sorted
    encoded = points.set_column(0, "person_ref", points["person_ref"].dictionary_encode())
    assert detect_gps_staypoints(encoded).equals(detect_gps_staypoints(points))
    assert detect_gps_staypoints(encoded)["person_ref"].to_pylist() == ["P1", "P2"]


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_any_timestamp_unit_and_time_zone(unit):
    points = gps([*stay("P1", range(0, 10)), ("P1", 10, 37.6, 127.0)])
    seoul = pa.timestamp(unit, tz="Asia/Seoul")
    other = points.set_column(1, "ts", points["ts"].cast(seoul))
    assert detect_gps_staypoints(other).equals(detect_gps_staypoints(points))


def test_exact_duplicate_fixes_are_dropped():
    rows = [*stay("P1", range(0, 10)), ("P1", 10, 37.6, 127.0)]
    doubled = rows + rows[:4]  # same person, time and position again
    ours = detect_gps_staypoints(gps(doubled))
    assert ours["n_fixes"].to_pylist() == [10]
    assert_identical(ours, trackintel_staypoints(gps(doubled)))


def test_a_duplicate_after_a_move_within_one_timestamp_is_still_dropped():
    # A, B and A again at the same instant: the second A is a duplicate even though
    # the window restarted at B in between; with it gone, nothing happens at B.
    a, b = (37.5, 127.0), (37.6, 127.0)
    rows = [("P1", 0, *a), ("P1", 5, *a), ("P1", 5, *b), ("P1", 5, *a), ("P1", 9, *b)]
    params = {"time_threshold_min": 0.0, "include_last": True}
    ours = detect_gps_staypoints(gps(rows), **params)
    assert ours.num_rows == 2  # A..B, then B to the end (4 with the duplicate kept)
    assert_identical(ours, trackintel_staypoints(gps(rows), **params))


def test_bad_input_is_refused():
    points = gps(stay("P1", range(3)))
    with pytest.raises(ValueError, match="missing columns lat"):
        detect_gps_staypoints(points.drop(["lat"]))
    naive = points.set_column(1, "ts", points["ts"].cast(pa.timestamp("us")))
    with pytest.raises(ValueError, match="time zone"):
        detect_gps_staypoints(naive)
    far_north = points.set_column(2, "lat", pa.array([91.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="lat"):
        detect_gps_staypoints(far_north)
    with pytest.raises(ValueError, match="dist_threshold_m"):
        detect_gps_staypoints(points, dist_threshold_m=-1.0)


# --- the distance test: bounds first, exact formula only near the threshold ---


def trackintel_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from trackintel.geogr import point_haversine_dist

    return point_haversine_dist(lon1, lat1, lon2, lat2, float_flag=True)


@pytest.mark.parametrize("dist_m", [0.0, 1.0, 100.0, 2_000.0, 5_000_000.0])
def test_distance_decision_equals_trackintel_near_and_far_from_the_threshold(dist_m):
    rng = np.random.default_rng(int(dist_m))
    near, far = _h_bounds(dist_m)
    for _ in range(3000):
        lat1 = rng.uniform(-89.9, 89.9)
        lon1 = rng.uniform(-180, 180)
        bearing = rng.uniform(0, 2 * math.pi)
        # distances on a log scale around the threshold, some within a nanometre of it
        d = (dist_m or 1.0) * (1 + rng.choice([1e-12, 1e-7, 1e-3, 0.5]) * rng.uniform(-1, 1))
        ang = d / 6_371_000.0
        lat2 = math.degrees(
            math.asin(
                math.sin(math.radians(lat1)) * math.cos(ang)
                + math.cos(math.radians(lat1)) * math.sin(ang) * math.cos(bearing)
            )
        )
        lon2 = lon1 + rng.choice([0.0, 1.0]) * math.degrees(
            math.atan2(
                math.sin(bearing) * math.sin(ang) * math.cos(math.radians(lat1)),
                math.cos(ang) - math.sin(math.radians(lat1)) * math.sin(math.radians(lat2)),
            )
        )
        lon2 = (lon2 + 180) % 360 - 180
        expected = trackintel_distance(lat1, lon1, lat2, lon2) >= dist_m
        la1, lo1 = lat1 * DEG_TO_RAD, lon1 * DEG_TO_RAD
        got = _beyond(
            la1, lo1, math.cos(la1), lat2 * DEG_TO_RAD, lon2 * DEG_TO_RAD, near, far, dist_m
        )
        assert got == expected, (lat1, lon1, lat2, lon2, dist_m)


def test_minutes_round_like_pandas_timedelta():
    pd = pytest.importorskip("pandas")
    for minutes in (15.0, 5.0, 0.1, 1 / 3, 2 / 3, 7.77, 0.123456789123, 1e-9):
        assert _minutes_to_nanos(minutes) == pd.Timedelta(minutes, unit="minutes").value
