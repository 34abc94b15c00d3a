"""Quick view beside the scan: case counts on a grid per day, and Getis-Ord Gi*.

``grid_counts(cases)`` bins case events (lat, lon and ts or day) into square
or hexagonal cells of ``cell_m`` metres (in EPSG:5179 by default) and counts
them per local day: what a dashboard draws as a heat map with a day slider.

``gi_star(cases)`` sums the counts over a span of days on a full grid (empty
cells included: they are the contrast), and computes each cell's Getis-Ord
Gi* z-score with PySAL ``esda`` (binary weights: the cell and its touching
neighbours, 8 for squares and 6 for hexagons), with the normal p-value of
Getis and Ord (1992); ``permutations`` > 0 gives esda's conditional
permutation p-value instead, but its Numba kernels are compiled in every new
process, too slow for a quick view (docs/benchmarks.md, "Quick view:
Getis-Ord Gi*").
A "hot" cell is a neighbourhood with more cases than the study area's
average; unlike the space-time scan it says nothing about
time (a dense district is hot every day) and its p-values are per cell, not
corrected for the many cells tested — a view, not a test of an outbreak.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from typing import Literal

import numpy as np
import pyarrow as pa
from pyproj import Transformer

from epitrace.analysis.hotspots.cells import (
    case_day_ordinals,
    check_case_columns,
    checked_float_column,
    project,
)
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS

Shape = Literal["square", "hex"]
MAX_GRID_CELLS = 250_000  # beyond, Gi* weights take too much memory for a quick view


def _cell_index(x: np.ndarray, y: np.ndarray, cell_m: float, shape: Shape) -> np.ndarray:
    """Integer (i, j) of each point's cell: square columns/rows or hex axial (q, r)."""
    if shape == "square":
        return np.column_stack([np.floor(x / cell_m), np.floor(y / cell_m)]).astype(np.int64)
    # Pointy-top hexagons whose centres are cell_m apart; cube rounding.
    size = cell_m / math.sqrt(3)
    q = (math.sqrt(3) / 3 * x - y / 3) / size
    r = (2 / 3 * y) / size
    cube = np.column_stack([q, r, -q - r])
    rounded = np.round(cube)
    diff = np.abs(rounded - cube)
    fix_q = (diff[:, 0] > diff[:, 1]) & (diff[:, 0] > diff[:, 2])
    fix_r = ~fix_q & (diff[:, 1] > diff[:, 2])
    rounded[fix_q, 0] = -rounded[fix_q, 1] - rounded[fix_q, 2]
    rounded[fix_r, 1] = -rounded[fix_r, 0] - rounded[fix_r, 2]
    return rounded[:, :2].astype(np.int64)


def _cell_centre(index: np.ndarray, cell_m: float, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    i, j = index[:, 0].astype(float), index[:, 1].astype(float)
    if shape == "square":
        return (i + 0.5) * cell_m, (j + 0.5) * cell_m
    size = cell_m / math.sqrt(3)
    return size * math.sqrt(3) * (i + j / 2), size * 1.5 * j


def _to_latlon(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    to_degrees = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_degrees.transform(x, y)
    return np.asarray(lat), np.asarray(lon)


def _check(cell_m: float, shape: str) -> None:
    if not cell_m > 0:
        raise ValueError(f"cell_m must be positive, got {cell_m}")
    if shape not in ("square", "hex"):
        raise ValueError(f"shape must be 'square' or 'hex', got {shape!r}")


def _events(cases: pa.Table, crs: str, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    check_case_columns(cases)
    lat = checked_float_column(cases, "lat", -90.0, 90.0)
    lon = checked_float_column(cases, "lon", -180.0, 180.0)
    days = case_day_ordinals(cases, tz)
    x, y = project(lat, lon, crs)
    return x, y, days


def _cell_id(index: np.ndarray, shape: Shape) -> list[str]:
    prefix = "S" if shape == "square" else "H"
    return [f"{prefix}{i}_{j}" for i, j in index]


def grid_counts(
    cases: pa.Table,
    *,
    cell_m: float = 500.0,
    shape: Shape = "square",
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
) -> pa.Table:
    """Cases per (local day, cell): ``day``, ``cell``, ``lat``, ``lon`` (cell centre), ``cases``.

    Only cells with cases are rows; sorted by day, then most cases first.
    """
    _check(cell_m, shape)
    schema = pa.schema(
        [
            ("day", pa.date32()),
            ("cell", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("cases", pa.int64()),
        ]
    )
    if cases.num_rows == 0:
        return schema.empty_table()
    x, y, days = _events(cases, crs, tz)
    index = _cell_index(x, y, cell_m, shape)
    keys, counts = np.unique(np.column_stack([days, index]), axis=0, return_counts=True)
    cx, cy = _cell_centre(keys[:, 1:], cell_m, shape)
    lat, lon = _to_latlon(cx, cy, crs)
    table = pa.table(
        {
            "day": pa.array([dt.date.fromordinal(int(d)) for d in keys[:, 0]], pa.date32()),
            "cell": _cell_id(keys[:, 1:], shape),
            "lat": lat,
            "lon": lon,
            "cases": pa.array(counts.astype(np.int64)),
        },
        schema=schema,
    )
    return table.sort_by([("day", "ascending"), ("cases", "descending"), ("cell", "ascending")])


def _full_grid(index: np.ndarray, cell_m: float, shape: Shape) -> np.ndarray:
    """Every cell whose centre lies within the cases' bounding box widened by a cell."""
    cx, cy = _cell_centre(index, cell_m, shape)
    x_low, x_high = cx.min() - cell_m, cx.max() + cell_m
    y_low, y_high = cy.min() - cell_m, cy.max() + cell_m
    low, high = index.min(axis=0) - 1, index.max(axis=0) + 1
    if shape == "hex":  # axial q shifts with r: widen q so every row is covered
        low = low - np.array([(high[1] - low[1]) // 2 + 1, 0])
        high = high + np.array([(high[1] - low[1]) // 2 + 1, 0])
    n_candidates = int(np.prod(high - low + 1))
    if n_candidates > 2 * MAX_GRID_CELLS:
        raise ValueError(
            f"the grid would have about {n_candidates:,} cells (over {MAX_GRID_CELLS:,}): "
            "use larger cells or fewer, closer cases"
        )
    i, j = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1))
    grid = np.column_stack([i.ravel(), j.ravel()])
    gx, gy = _cell_centre(grid, cell_m, shape)
    inside = (gx >= x_low) & (gx <= x_high) & (gy >= y_low) & (gy <= y_high)
    return grid[inside]


def _neighbours(grid: np.ndarray, shape: Shape) -> dict[int, list[int]]:
    """Cells touching each cell (8 for squares, 6 for hexagons) within the grid."""
    offsets = (
        [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
        if shape == "square"
        else [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]
    )
    position = {(int(i), int(j)): k for k, (i, j) in enumerate(grid)}
    return {
        k: [
            position[(int(i) + di, int(j) + dj)]
            for di, dj in offsets
            if (int(i) + di, int(j) + dj) in position
        ]
        for k, (i, j) in enumerate(grid)
    }


def gi_star(
    cases: pa.Table,
    *,
    cell_m: float = 500.0,
    shape: Shape = "square",
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    permutations: int = 0,
    seed: int = 0,
    alpha: float = 0.05,
    crs: str = PROJECTED_CRS,
    tz: str = DEFAULT_TZ,
) -> pa.Table:
    """Getis-Ord Gi* of case counts on a grid, over ``first_day``..``last_day``.

    Returns one row per cell of the grid (empty cells included): ``cell``,
    ``lat``, ``lon``, ``cases``, ``z`` (Gi* z-score), ``p_value`` (one-sided:
    normal, or with ``permutations`` > 0 conditional permutation seeded by
    ``seed``) and
    ``hot`` (z > 0 and p < ``alpha``), hottest first.
    """
    import esda
    from libpysal.weights import W

    _check(cell_m, shape)
    x, y, days = _events(cases, crs, tz)
    keep = np.ones(days.size, dtype=bool)
    if first_day is not None:
        keep &= days >= first_day.toordinal()
    if last_day is not None:
        keep &= days <= last_day.toordinal()
    if not keep.any():
        raise ValueError("no cases in the chosen days")
    index = _cell_index(x[keep], y[keep], cell_m, shape)
    grid = _full_grid(index, cell_m, shape)
    position = {(int(i), int(j)): k for k, (i, j) in enumerate(grid)}
    counts = np.zeros(len(grid), dtype=float)
    np.add.at(counts, [position[(int(i), int(j))] for i, j in index], 1.0)
    weights = W(_neighbours(grid, shape), silence_warnings=True)
    with warnings.catch_warnings():  # esda's notice of a future default, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        local = esda.G_Local(
            counts,
            weights,
            transform="B",
            permutations=permutations,
            star=True,  # the cell itself counts with its neighbours (Gi*, not Gi)
            seed=seed,
            n_jobs=1,  # a quick view: no process pool on a shared machine
            keep_simulations=False,
        )
    z = np.asarray(local.Zs, dtype=float)
    p = np.asarray(local.p_sim if permutations else local.p_norm, dtype=float)
    cx, cy = _cell_centre(grid, cell_m, shape)
    lat, lon = _to_latlon(cx, cy, crs)
    table = pa.table(
        {
            "cell": _cell_id(grid, shape),
            "lat": lat,
            "lon": lon,
            "cases": pa.array(counts.astype(np.int64)),
            "z": z,
            "p_value": p,
            "hot": (z > 0) & (p < alpha),
        }
    )
    return table.sort_by([("z", "descending"), ("cell", "ascending")])
