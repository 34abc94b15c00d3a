"""Korean districts of many points: ``epitrace.geography.locate`` in points per second.

    .venv/bin/python bench/bench_districts.py [--sizes 10000 100000 1000000] [--repeats 5]
        [--record]

Random points, uniform over South Korea's bounding box (about three in four at
sea or abroad) and over a city (Daegu, 35.80-35.95 N, 128.50-128.70 E: all on
land). Each size is timed warm: after a first call that reads the polygons
(timed on its own as the cold start), the median of ``--repeats`` calls on the
same points. Target: at least 100,000 points per second warm. ``--record``
writes the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from docs_block import write_block
from epitrace.geography import locate

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Districts of points (offline reverse geocoding)"
AREAS = {
    "Korea (bounding box)": ((33.0, 38.7), (124.5, 131.0)),
    "Daegu (city)": ((35.80, 35.95), (128.50, 128.70)),
}
TARGET_PER_S = 100_000


def random_points(area: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    (lat_min, lat_max), (lon_min, lon_max) = AREAS[area]
    rng = np.random.default_rng(seed)
    return rng.uniform(lat_min, lat_max, count), rng.uniform(lon_min, lon_max, count)


def cold_start() -> dict[str, float]:
    """Seconds of the first call that reads the 읍면동 polygons, then the other layers."""
    began = time.perf_counter()
    locate([35.8714], [128.6014])  # in a 읍면동: reads that layer only
    emd = time.perf_counter() - began
    began = time.perf_counter()
    locate([35.0], [125.0])  # at sea: tries and so reads every other layer
    return {"emd": emd, "others": time.perf_counter() - began}


def measure(area: str, count: int, repeats: int) -> dict[str, float]:
    lat, lon = random_points(area, count, seed=count)
    found = locate(lat, lon)  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        locate(lat, lon)
        times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    return {
        "points": count,
        "seconds": seconds,
        "per_s": count / seconds,
        "on_land": 1.0 - found.column("sido").null_count / count,
    }


def render(cold: dict[str, float], rows: dict[str, list[dict]], command: str) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work "
        f"(load average {os.getloadavg()[0]:.1f} at the end), one process. Random points; "
        "each figure is the median of warm calls (after a first call on the same points). "
        f"Cold start: {cold['emd']:.2f} s to read the 읍면동 polygons on the first call, "
        f"{cold['others']:.2f} s more for the 리, 시군구 and 시도 layers the first time a "
        "point lies in no 읍면동 (at sea).",
        "",
        "| points | area | on land | seconds (median) | points/s |",
        "|---:|---|---:|---:|---:|",
    ]
    for area, by_size in rows.items():
        for r in by_size:
            lines.append(
                f"| {r['points']:,} | {area} | {r['on_land']:.0%} | {r['seconds']:.3f} | "
                f"{r['per_s']:,.0f} |"
            )
    slowest = min(r["per_s"] for by_size in rows.values() for r in by_size)
    verdict = "met" if slowest >= TARGET_PER_S else "NOT met"
    lines += [
        "",
        f"Slowest: **{slowest:,.0f} points/s** (target {TARGET_PER_S:,}: {verdict}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    cold = cold_start()
    rows: dict[str, list[dict]] = {}
    for area in AREAS:
        for count in args.sizes:
            row = measure(area, count, args.repeats)
            rows.setdefault(area, []).append(row)
            print(area, {k: round(v, 3) for k, v in row.items()}, flush=True)
    text = render(cold, rows, "python bench/bench_districts.py --record")
    print(text)
    if args.record:
        write_block(
            ROOT / "docs" / "benchmarks.md", "bench_districts", text.partition("\n")[2], SECTION
        )


if __name__ == "__main__":
    main()
