"""How store building, place-time queries and contact search grow with the city.

    .venv/bin/python bench/bench_growth.py [--sizes 10000 30000 100000] [--record]

For each size: a 14-day city (simulated once into /tmp/cityNk), its provider
stores (built once, in a child process: wall time and peak memory), then, in
a fresh child process per size, the place-time presence queries of
``bench_stores`` warm on DuckDB and the full contact search of the three
cases confirmed last (warm, median), with that process's peak memory.
Stores already built (e.g. the 100k ones of ``bench_stores``) are reused and
their build figures taken from their ``store.json`` manifests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Growth with city size"


def city_folder(residents: int) -> Path:
    return Path(f"/tmp/city{residents // 1000}k")


def stores_folder(residents: int) -> Path:
    legacy = Path("/tmp/ep_bench_stores")  # where bench_stores keeps the 100k stores
    if residents == 100_000 and legacy.is_dir():
        return legacy
    return Path(f"/tmp/city{residents // 1000}k-stores")


def ensure_city(residents: int) -> None:
    folder = city_folder(residents)
    if (folder / "manifest.json").is_file():
        return
    subprocess.run(
        [
            str(ROOT / ".venv/bin/epitrace"),
            "simulate",
            "--residents",
            str(residents),
            "--days",
            "14",
            "--seed",
            "1",
            "--format",
            "parquet",
            "--out",
            str(folder),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def ensure_stores(residents: int) -> dict[str, float]:
    """Build figures: measured now, or those saved when the stores were built here."""
    from bench_stores import timed_build

    stores = stores_folder(residents)
    saved = stores / "bench_build.json"
    if stores.is_dir() and any(stores.glob("*/store.json")):
        if saved.is_file():
            return json.loads(saved.read_text())
        return {"build_s": float("nan"), "build_gib": float("nan"), "reused": 1.0}
    wall, _cpu, peak = timed_build(city_folder(residents), stores)
    figures = {"build_s": wall, "build_gib": peak / 2**30, "reused": 0.0}
    saved.write_text(json.dumps(figures))
    return figures


def measure_one(residents: int) -> dict[str, float]:
    """Queries and contact search in this (fresh) process."""
    import pyarrow.parquet as pq

    from bench_stores import measure_queries
    from epitrace.analysis.contacts import infectious_window
    from epitrace.analysis.trajectory import trace_subject
    from epitrace.providers.network import StoreNetwork
    from epitrace.providers.queries import DuckDBEngine
    from epitrace.workflows.contact_search import search_contacts

    stores = stores_folder(residents)
    queries = measure_queries(stores, DuckDBEngine(), repeats=3)
    presence = [q for q in queries if q[0].startswith("place-time presence")]
    network = StoreNetwork(stores)
    cases = pq.read_table(city_folder(residents) / "cases.parquet").to_pylist()
    chosen = sorted(cases, key=lambda c: (c["confirmed_date"], c["case_id"]))[-3:]
    searches, rows = [], []
    for case in chosen:
        window = infectious_window(case["confirmed_date"], case["onset_date"], "Asia/Seoul")
        records = network.subject(case["person_ref"], window[0] - dt.timedelta(days=1), window[1])
        trajectory = trace_subject(records)
        search_contacts(network, trajectory, records, window, "Asia/Seoul")  # warm-up
        began = time.perf_counter()
        found = search_contacts(network, trajectory, records, window, "Asia/Seoul")
        searches.append(time.perf_counter() - began)
        rows.append(found.contacts.table.num_rows)
    return {
        "presence_2h_s": presence[0][2],
        "presence_nights_s": presence[1][2],
        "contacts_s": statistics.median(searches),
        "contacts_max_s": max(searches),
        "contact_rows": statistics.median(rows),
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def render(results: dict[int, dict[str, float]]) -> str:
    lines = [
        SECTION,
        "",
        "Command: `python bench/bench_growth.py --record` (14-day cities, seed 1; each size "
        "measured in a fresh process; the machine is shared: load average "
        f"{os.getloadavg()[0]:.1f} at the end).",
        "",
        "| residents | store build s | build peak GiB | presence 2 h s | presence 14 nights s "
        "| contact search s (median of 3 cases) | slowest case s | contact rows (median) "
        "| search process peak GiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for residents, r in sorted(results.items()):
        build = "see ¹" if r["reused"] else f"{r['build_s']:.0f}"
        memory = "–" if r["build_gib"] != r["build_gib"] else f"{r['build_gib']:.2f}"
        lines.append(
            f"| {residents:,} | {build} | {memory} | {r['presence_2h_s']:.3f} | "
            f"{r['presence_nights_s']:.3f} | {r['contacts_s']:.2f} | {r['contacts_max_s']:.2f} | "
            f"{r['contact_rows']:,.0f} | {r['peak_gib']:.2f} |"
        )
    lines += [
        "",
        "¹ stores built earlier by `bench/bench_stores.py` and reused: its section "
        "above gives that build's wall time and peak memory.",
        "",
    ]
    return "\n".join(lines)


def record(text: str) -> None:
    body = text.partition("\n")[2]  # the heading stays where it is
    write_block(ROOT / "docs" / "benchmarks.md", "bench_growth", body, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.one is not None:  # the child: measure one size, print JSON
        print(json.dumps(measure_one(args.one)))
        return
    results = {}
    for residents in args.sizes:
        ensure_city(residents)
        figures = ensure_stores(residents)
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(residents)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures |= json.loads(child.stdout.strip().splitlines()[-1])
        results[residents] = figures
        print(residents, {k: round(v, 3) for k, v in figures.items()}, flush=True)
    text = render(results)
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
