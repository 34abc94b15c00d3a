"""Quick hotspot view: grid counts per day and Getis-Ord Gi* with a planted hot cell."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from epitrace.analysis.hotspots.cells import project
from epitrace.analysis.hotspots.grid import _cell_centre, _cell_index, gi_star, grid_counts

DAEGU = (35.8714, 128.6014)
FIRST = dt.date(2020, 2, 17)


def background(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[dt.date]]:
    """Cases spread uniformly over a 6 km square around Daegu's centre, over 7 days."""
    rng = np.random.default_rng(seed)
    lat = DAEGU[0] + rng.uniform(-0.027, 0.027, n)
    lon = DAEGU[1] + rng.uniform(-0.033, 0.033, n)
    days = [FIRST + dt.timedelta(days=int(d)) for d in rng.integers(0, 7, n)]
    return lat, lon, days


def planted(n_background: int = 300, n_planted: int = 25) -> pa.Table:
    lat, lon, days = background(n_background)
    rng = np.random.default_rng(1)
    hot_lat = DAEGU[0] + 0.010 + rng.normal(0, 0.0005, n_planted)  # about 50 m spread
    hot_lon = DAEGU[1] - 0.012 + rng.normal(0, 0.0005, n_planted)
    hot_days = [FIRST + dt.timedelta(days=3)] * n_planted
    return pa.table(
        {
            "lat": np.concatenate([lat, hot_lat]),
            "lon": np.concatenate([lon, hot_lon]),
            "day": pa.array(days + hot_days, pa.date32()),
        }
    )


def test_grid_counts_add_up_per_day_and_show_the_planted_cell() -> None:
    cases = planted()
    counts = grid_counts(cases, cell_m=500.0)
    assert sum(counts.column("cases").to_pylist()) == cases.num_rows
    on_day = counts.filter(pa.compute.equal(counts.column("day"), FIRST + dt.timedelta(days=3)))
    top = on_day.to_pylist()[0]
    assert top["cases"] >= 20
    assert abs(top["lat"] - (DAEGU[0] + 0.010)) < 0.005
    assert abs(top["lon"] - (DAEGU[1] - 0.012)) < 0.006


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_points_at_a_cell_centre_fall_in_that_cell(shape: str) -> None:
    index = np.array([[3, -2], [0, 0], [-5, 7]])
    x, y = _cell_centre(index, 400.0, shape)  # type: ignore[arg-type]
    assert (_cell_index(x + 1.0, y - 1.0, 400.0, shape) == index).all()  # type: ignore[arg-type]


def test_hex_cells_are_about_the_size_asked() -> None:
    lat, lon, _ = background(2000)
    x, y = project(lat, lon, "EPSG:5179")
    index = _cell_index(x, y, 500.0, "hex")
    cx, cy = _cell_centre(index, 500.0, "hex")
    # Every point lies within the circumradius (500/√3 ≈ 289 m) of its cell's centre.
    assert np.hypot(x - cx, y - cy).max() <= 500.0 / np.sqrt(3) + 1e-6


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_gi_star_finds_the_planted_hot_cell(shape: str) -> None:
    cases = planted()
    result = gi_star(cases, cell_m=500.0, shape=shape)  # type: ignore[arg-type]
    rows = result.to_pylist()
    top = rows[0]
    assert top["hot"] and top["p_value"] < 0.05 and top["z"] > 3
    assert abs(top["lat"] - (DAEGU[0] + 0.010)) < 0.008
    assert abs(top["lon"] - (DAEGU[1] - 0.012)) < 0.009
    # Few hot cells besides the planted one and its neighbours (per-cell 5 % level).
    assert sum(r["hot"] for r in rows) <= 0.1 * len(rows) + 7
    assert sum(r["cases"] for r in rows) == cases.num_rows


def test_gi_star_without_a_hot_spot_on_the_days_before() -> None:
    cases = planted()
    result = gi_star(cases, last_day=FIRST + dt.timedelta(days=2))
    near = [
        r
        for r in result.to_pylist()
        if abs(r["lat"] - (DAEGU[0] + 0.010)) < 0.003 and abs(r["lon"] - (DAEGU[1] - 0.012)) < 0.003
    ]
    assert all(r["cases"] < 10 for r in near)


def test_gi_star_errors() -> None:
    with pytest.raises(ValueError, match="no cases"):
        gi_star(planted(), first_day=dt.date(2021, 1, 1))
    with pytest.raises(ValueError, match="shape"):
        grid_counts(planted(), shape="triangle")  # type: ignore[arg-type]
