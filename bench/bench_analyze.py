"""One subject's investigation end to end: records read from a large city, files written.

    .venv/bin/python bench/bench_analyze.py [--city DIR] [--stores DIR] [--subjects 5] [--record]

Builds (once) a 100,000-resident x 14-day city as Parquet if DIR has none and
the agencies' provider stores from it, then times
``epitrace.workflows.investigation.analyze`` (ask every agency's store for the
subject's records, trace stays and path, compare with the interview, write
stays.csv, path.geojson and report.html) for several confirmed cases, and the
same reading the flat dataset files instead of the stores, side by side.
Reports the median wall time of a cold first run and of warm repeats, and the
time spent reading records. ``--record`` writes the figures into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from docs_block import write_block
from epitrace.analysis.trajectory import trace_subject
from epitrace.formats.readers import read_dataset_table
from epitrace.providers.dataset import DatasetStore
from epitrace.providers.network import StoreNetwork
from epitrace.providers.store import build_stores
from epitrace.simulate import SimulationConfig, simulate_city
from epitrace.simulate.run import cases_confirmed_last
from epitrace.workflows.investigation import analyze

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## One subject's stays and path"


def ensure_city(folder: Path, residents: int, days: int) -> None:
    if (folder / "manifest.json").exists():
        return
    print(f"simulating {residents:,} residents x {days} days into {folder} ...", flush=True)
    simulate_city(SimulationConfig(residents=residents, days=days, seed=1), folder, fmt="parquet")


def ensure_stores(city: Path, stores: Path) -> None:
    if stores.is_dir() and any(stores.iterdir()):
        return
    print(f"building the provider stores of {city} into {stores} ...", flush=True)
    build_stores(city, stores)


def busiest_cases(folder: Path, count: int) -> list[str]:
    """Cases confirmed last: the longest records before isolation."""
    cases = read_dataset_table(folder, "cases")
    assert cases is not None, "the city has no cases"
    return cases_confirmed_last(cases.table, count)


def time_subject(
    source: Path,
    person: str,
    repeats: int,
    interview: Path,
    reader: type[DatasetStore] | type[StoreNetwork],
) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    began = time.perf_counter()
    analyze(source, person, out, interview_file=interview, contacts=False)
    cold = time.perf_counter() - began
    warm, reading = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        result = analyze(source, person, out, interview_file=interview, contacts=False)
        warm.append(time.perf_counter() - began)
        began = time.perf_counter()
        records = reader(source).subject(person)
        reading.append(time.perf_counter() - began)
    began = time.perf_counter()
    trace_subject(records)
    tracing = time.perf_counter() - began
    return {
        "cold": cold,
        "warm": statistics.median(warm),
        "read": statistics.median(reading),
        "trace": tracing,
        "records": float(records.record_count),
        "stays": float(result.trajectory.stays.num_rows),
    }


def render(results: dict[str, dict[str, dict[str, float]]], folder: Path, command: str) -> str:
    rows = results["stores"]
    warm = statistics.median(r["warm"] for r in rows.values())
    cold = statistics.median(r["cold"] for r in rows.values())
    files_warm = statistics.median(r["warm"] for r in results["files"].values())
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"City: {folder.name}, 100,000 residents x 14 days; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end. Each "
        "subject: ask every agency's store for that person's records (the carriers' subscriber "
        "registries, the credit-finance association's card directory, then only the issuers "
        "holding the person's cards, the entry-log operators, the GPS store: bounded subject "
        "extracts on DuckDB), trace stays and path, compare with the interview, write "
        "stays.csv, path.geojson and report.html (the contact search has its own section). "
        "Beside it, the same reading the flat "
        "dataset files instead (a full scan of each table).",
        "",
        "| subject | source | records | stays | cold s | warm s (median) | reading s | tracing s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for source, by_person in results.items():
        for person, r in by_person.items():
            lines.append(
                f"| {person} | {source} | {r['records']:,.0f} | {r['stays']:.0f} | "
                f"{r['cold']:.2f} | {r['warm']:.2f} | {r['read']:.2f} | {r['trace']:.3f} |"
            )
    lines += [
        "",
        f"Median over subjects, from the stores: **{warm:.2f} s warm**, {cold:.2f} s cold "
        f"(target: under 2 s end to end); from the flat files: {files_warm:.2f} s warm.",
        "",
    ]
    return "\n".join(lines)


def record(text: str) -> None:
    body = text.partition("\n")[2]  # the heading stays where it is
    write_block(ROOT / "docs" / "benchmarks.md", "bench_analyze", body, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, default=Path(tempfile.gettempdir()) / "city100k")
    parser.add_argument(
        "--stores",
        type=Path,
        default=None,
        help="the city's provider stores [default: CITY-stores, built if missing]",
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    ensure_city(args.city, args.residents, args.days)
    stores = args.stores or args.city.with_name(args.city.name + "-stores")
    ensure_stores(args.city, stores)
    interview = next(args.city.glob("interview_visits.*"))
    results: dict[str, dict[str, dict[str, float]]] = {"stores": {}, "files": {}}
    for person in busiest_cases(args.city, args.subjects):
        for source, folder, reader in (
            ("stores", stores, StoreNetwork),
            ("files", args.city, DatasetStore),
        ):
            row = time_subject(folder, person, args.repeats, interview, reader)
            results[source][person] = row
            print(person, source, {k: round(v, 3) for k, v in row.items()}, flush=True)
    text = render(results, args.city, "python bench/bench_analyze.py --record")
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
