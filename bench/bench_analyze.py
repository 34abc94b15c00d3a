"""One subject's investigation end to end: records read from a large city, files written.

    .venv/bin/python bench/bench_analyze.py [--city DIR] [--subjects 5] [--record]

Builds (once) a 100,000-resident x 14-day city as Parquet if DIR has none,
then times ``epitrace.investigation.investigate`` (read the subject's records,
trace stays and path, compare with the interview, write stays.csv,
path.geojson and report.html) for several confirmed cases. Reports the
median wall time of a cold first run and of warm repeats, and the share spent
reading records. ``--record`` writes the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from epitrace.analysis.trajectory import trace_subject
from epitrace.formats.readers import read_dataset_table
from epitrace.investigation import investigate
from epitrace.providers.dataset import DatasetStore
from epitrace.simulate import SimulationConfig, simulate_city

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## One subject's stays and path"


def ensure_city(folder: Path, residents: int, days: int) -> None:
    if (folder / "manifest.json").exists():
        return
    print(f"simulating {residents:,} residents x {days} days into {folder} ...", flush=True)
    simulate_city(SimulationConfig(residents=residents, days=days, seed=1), folder, fmt="parquet")


def busiest_cases(folder: Path, count: int) -> list[str]:
    """Cases confirmed last: the longest records before isolation."""
    cases = read_dataset_table(folder, "cases")
    assert cases is not None, "the city has no cases"
    latest = cases.table.sort_by([("confirmed_date", "descending"), ("case_id", "ascending")])
    return [str(p) for p in latest.column("person_ref").to_pylist()[:count]]


def time_subject(folder: Path, person: str, repeats: int) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    began = time.perf_counter()
    investigate(folder, person, out)
    cold = time.perf_counter() - began
    warm, reading = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        result = investigate(folder, person, out)
        warm.append(time.perf_counter() - began)
        began = time.perf_counter()
        records = DatasetStore(folder).subject(person)
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


def render(rows: dict[str, dict[str, float]], folder: Path, command: str) -> str:
    warm = statistics.median(r["warm"] for r in rows.values())
    cold = statistics.median(r["cold"] for r in rows.values())
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"City: {folder.name} (Parquet, as the simulator writes it); machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Each subject: read every source's records "
        "for that person (DuckDB over the dataset's Parquet files), trace stays and path, "
        "compare with the interview, write stays.csv, path.geojson and report.html.",
        "",
        "| subject | records | stays | cold s | warm s (median) | reading s | tracing s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for person, r in rows.items():
        lines.append(
            f"| {person} | {r['records']:,.0f} | {r['stays']:.0f} | {r['cold']:.2f} | "
            f"{r['warm']:.2f} | {r['read']:.2f} | {r['trace']:.3f} |"
        )
    lines += [
        "",
        f"Median over subjects: **{warm:.2f} s warm**, {cold:.2f} s cold "
        "(target: under 2 s end to end).",
        "",
    ]
    return "\n".join(lines)


def record(text: str) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    current = doc.read_text()
    if SECTION in current:
        head, _, rest = current.partition(SECTION)
        following = rest.find("\n## ")
        tail = rest[following + 1 :] if following >= 0 else ""
        current = head + text + ("\n" + tail if tail else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    doc.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, default=Path(tempfile.gettempdir()) / "city100k")
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    ensure_city(args.city, args.residents, args.days)
    rows = {}
    for person in busiest_cases(args.city, args.subjects):
        rows[person] = time_subject(args.city, person, args.repeats)
        print(person, {k: round(v, 3) for k, v in rows[person].items()}, flush=True)
    text = render(rows, args.city, "python bench/bench_analyze.py --record")
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
