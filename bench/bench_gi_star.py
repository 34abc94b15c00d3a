"""Time of the quick view's Getis-Ord Gi* (``gi_star``) in a fresh process.

    .venv/bin/python bench/bench_gi_star.py

2,000 cases around central Seoul (normal, σ ≈ 3 km) over 14 days on 500 m
squares. ``gi_star`` with the normal p-value (``permutations=0``, the
default), then with esda's conditional permutation p-value
(``permutations=99``), whose Numba kernels esda compiles in every new
process: the reason the quick view defaults to the normal p-value
(``analysis/hotspots/grid.py``). The first figure includes importing esda
and libpysal.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots.grid import gi_star


def main() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    first = dt.date(2020, 3, 1)
    days = [first + dt.timedelta(days=int(d)) for d in rng.integers(0, 14, n)]
    cases = pa.table(
        {
            "lat": 37.55 + rng.normal(0, 0.03, n),
            "lon": 126.98 + rng.normal(0, 0.03, n),
            "day": pa.array(days, pa.date32()),
        }
    )
    print(f"{n:,} cases, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start")
    for permutations in (0, 99):
        began = time.perf_counter()
        table = gi_star(cases, cell_m=500.0, permutations=permutations)
        seconds = time.perf_counter() - began
        print(f"| permutations={permutations} | {seconds:.1f} s | {table.num_rows:,} cells |")
    print(f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
