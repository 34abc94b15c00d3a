"""Speed of the link proposal (``analysis.links.propose_links`` and ``chains_of``).

    .venv/bin/python bench/bench_links.py [--sizes 1000 3000 10000] [--repeats 3] [--record]

The data: N cases over 60 days in a Daegu-sized city, each with 20 days of
stays (the span a case's links need: 14 days before onset to confirmation):
a night at home (homes ~ exp(-d / 3 km) from the centre, telecom radius
150-600 m), a day at an unnamed workplace, and one or two visits a day to
named places (1 per 100 cases of restaurants, cafes, bars, gyms, churches),
so cases share places as an outbreak's do. Times are medians of
``--repeats`` runs after a warm-up that compiles the loops. Tracing the
cases out of the agencies' records is measured separately
(``bench/accuracy_links.py`` reports it per city; docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from docs_block import write_block
from epitrace.analysis.links import chains_of, propose_links

DAEGU = (35.8714, 128.6014)
KST = dt.timezone(dt.timedelta(hours=9))
FIRST = dt.datetime(2020, 2, 1, tzinfo=KST)
KINDS = ("restaurant", "cafe", "bar", "gym", "church")
TARGET_S = 10.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def around(rng: np.random.Generator, n: int, scale_m: float) -> tuple[np.ndarray, np.ndarray]:
    distance = rng.exponential(scale_m, n)
    angle = rng.uniform(0, 2 * math.pi, n)
    lat = DAEGU[0] + distance * np.sin(angle) / 111_320.0
    lon = DAEGU[1] + distance * np.cos(angle) / (111_320.0 * math.cos(math.radians(DAEGU[0])))
    return lat, lon


def synthetic(n: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """(stays, cases) of ``n`` cases (see the module docstring)."""
    rng = np.random.default_rng(seed)
    places = max(20, n // 100)
    place_lat, place_lon = around(rng, places, 2500.0)
    place_kind = rng.choice(KINDS, places)
    home_lat, home_lon = around(rng, n, 3000.0)
    work_lat, work_lon = around(rng, n, 2500.0)
    onset_day = rng.integers(15, 60, n)
    names = ("person_ref", "start", "end", "lat", "lon", "radius_m", "place_name", "sources")
    columns: dict[str, list] = {k: [] for k in (*names, "kind")}
    hour = dt.timedelta(hours=1)
    for case in range(n):
        ref = f"P{case:06d}"
        radius = float(rng.uniform(150, 600))
        for day in range(int(onset_day[case]) - 15, int(onset_day[case]) + 5):
            midnight = FIRST + dt.timedelta(days=day)
            rows = [
                (midnight - 5 * hour, midnight + 8 * hour, home_lat[case], home_lon[case],
                 radius, None, "telecom", None),
                (midnight + 9 * hour, midnight + 18 * hour, work_lat[case], work_lon[case],
                 radius, None, "telecom", None),
            ]  # fmt: skip
            for _ in range(int(rng.integers(1, 3))):
                p = int(rng.integers(places))
                begin = midnight + dt.timedelta(hours=float(rng.uniform(11, 22)))
                rows.append((begin, begin + dt.timedelta(minutes=float(rng.uniform(20, 120))),
                             place_lat[p], place_lon[p], 30.0, f"{place_kind[p]} {p}",
                             "card+telecom", str(place_kind[p])))  # fmt: skip
            for row in rows:
                for key, value in zip(columns, (ref, *row), strict=True):
                    columns[key].append(value)
    stays = pa.table(columns)
    onsets = [FIRST.date() + dt.timedelta(days=int(d)) for d in onset_day]
    cases = pa.table(
        {
            "case_id": [f"C{c:06d}" for c in range(n)],
            "person_ref": [f"P{c:06d}" for c in range(n)],
            "confirmed_date": [d + dt.timedelta(days=3) for d in onsets],
            "onset_date": onsets,
        }
    )
    return stays, cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    warm_stays, warm_cases = synthetic(200, seed=99)
    chains_of(propose_links(warm_stays, warm_cases).links, warm_cases)
    lines = [
        "| cases | stays | links | chains | propose (median) | + chains (median) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in args.sizes:
        stays, cases = synthetic(n)
        proposing, chaining = [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            proposal = propose_links(stays, cases)
            middle = time.perf_counter()
            chains = chains_of(proposal.links, cases)
            chaining.append(time.perf_counter() - middle)
            proposing.append(middle - began)
        lines.append(
            f"| {n:,} | {stays.num_rows:,} | {proposal.links.num_rows:,} | "
            f"{chains.summary.num_rows:,} | {statistics.median(proposing):.2f} s | "
            f"{statistics.median(chaining):.2f} s |"
        )
    load = os.getloadavg()
    text = "\n".join(lines) + (
        f"\n\nTarget: under {TARGET_S:.0f} s at 10,000 cases. Load average at the end: "
        f"{load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}."
    )
    print(text)
    if args.record:
        sizes = " ".join(str(s) for s in args.sizes)
        write_block(
            Path(ROOT) / "docs" / "benchmarks.md",
            "links-speed",
            f"Command: `PYTHONPATH=src .venv/bin/python bench/bench_links.py --sizes {sizes} "
            f"--repeats {args.repeats} --record`\n\n{text}",
            "## Links between cases",
        )


if __name__ == "__main__":
    main()
