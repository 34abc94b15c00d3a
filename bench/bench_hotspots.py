"""Speed of the space-time permutation scan (``find_hotspots``).

    .venv/bin/python bench/bench_hotspots.py [--quick]

The data: cases at distinct points spread uniformly over a 25 km × 25 km
square (Seoul is 605 km²), days uniform over 60 days: the null hypothesis
and the worst case for the scan, as every case is its own location and
centre. The main figure is 10,000 cases with 999 replications and the
default parameters (1 km, 7 days, retrospective), unadjusted and adjusted
for space by day-of-week interaction; then how time grows with
cases, with centres and with replications, and with the radius. Each figure
is the median of ``--repeats`` runs after a warm-up that compiles the loops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots import find_hotspots
from epitrace.analysis.hotspots.params import ScanParams

SEOUL = (37.5665, 126.9780)
SIDE_M = 25_000.0
DAYS = 60
TARGET_S = 30.0


def city_cases(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    metres_per_degree = 111_320.0
    lat = SEOUL[0] + rng.uniform(-0.5, 0.5, n) * SIDE_M / metres_per_degree
    lon = SEOUL[1] + rng.uniform(-0.5, 0.5, n) * SIDE_M / (
        metres_per_degree * math.cos(math.radians(SEOUL[0]))
    )
    first = dt.date(2020, 3, 1)
    days = [first + dt.timedelta(days=int(d)) for d in rng.integers(0, DAYS, n)]
    return pa.table({"lat": lat, "lon": lon, "day": pa.array(days, pa.date32())})


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU (all threads) seconds of ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def row(label: str, seconds: tuple[float, float], note: str = "") -> str:
    wall, cpu = seconds
    return f"| {label} | {wall:.2f} | {cpu:.2f} | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer points, one repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    find_hotspots(
        city_cases(500), ScanParams(replications=9)
    )  # compile (cached on disk afterwards)
    cases = city_cases(10_000)
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    print("\n| run | wall s | CPU s | note |\n|---|---|---|---|")

    main_s = median_seconds(lambda: find_hotspots(cases, ScanParams(replications=999)), repeats)
    verdict = "meets" if main_s[0] < TARGET_S else f"misses by {main_s[0] - TARGET_S:.1f} s"
    print(row("10,000 cases, 999 replications, defaults", main_s, f"{verdict} the 30 s target"))
    adjusted_s = median_seconds(
        lambda: find_hotspots(cases, ScanParams(replications=999, adjust_weekday=True)), repeats
    )
    print(row("10,000 cases, 999 replications, weekday-adjusted", adjusted_s, "adjust_weekday"))

    for n in [2_500, 5_000, 10_000] if args.quick else [2_500, 5_000, 10_000, 20_000]:
        some = city_cases(n)
        seconds = median_seconds(
            lambda some=some: find_hotspots(some, ScanParams(replications=99)), repeats
        )
        print(row(f"{n:,} cases, 99 replications", seconds, "cases (and centres) grow"))

    for n_centres in [1_000, 2_500, 5_000, 10_000]:
        centres = cases.select(["lat", "lon"]).slice(0, n_centres)
        seconds = median_seconds(
            lambda c=centres: find_hotspots(cases, ScanParams(replications=99), centres=c), repeats
        )
        print(row(f"10,000 cases, {n_centres:,} centres, 99 replications", seconds, "centres grow"))

    for replications in [0, 99, 299, 599]:
        seconds = median_seconds(
            lambda r=replications: find_hotspots(cases, ScanParams(replications=r)), repeats
        )
        print(row(f"10,000 cases, {replications} replications", seconds, "replications grow"))

    for radius in [500.0, 1000.0, 2000.0]:
        seconds = median_seconds(
            lambda r=radius: find_hotspots(cases, ScanParams(replications=99, max_radius_m=r)),
            repeats,
        )
        print(row(f"10,000 cases, radius {radius:.0f} m, 99 replications", seconds, "radius"))

    for max_days, prospective in [(14, False), (7, True)]:
        seconds = median_seconds(
            lambda d=max_days, p=prospective: find_hotspots(
                cases, ScanParams(replications=99, max_days=d, prospective=p)
            ),
            repeats,
        )
        kind = "prospective" if prospective else "retrospective"
        print(row(f"10,000 cases, {max_days} days {kind}, 99 replications", seconds, "windows"))


if __name__ == "__main__":
    main()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
