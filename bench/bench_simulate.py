"""Benchmark of the simulator: wall time, peak memory, rows per second, bytes on disk.

    .venv/bin/python bench/bench_simulate.py                 # 100,000 residents x 14 days
    .venv/bin/python bench/bench_simulate.py --residents 20000 --days 7
    .venv/bin/python bench/bench_simulate.py --update-docs   # rewrite docs/benchmarks.md#simulator

Each run simulates in a fresh child process, so its peak resident memory
(``ru_maxrss`` of the child) is the simulator's alone. The machine is shared:
CPU time is reported next to wall time so a busy machine shows as a low CPU share.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
GIB = 1024**3

CHILD = """
import sys
from pathlib import Path
from epitrace.simulate import SimulationConfig, simulate_city
residents, days, seed = (int(a) for a in sys.argv[1:4])
config = SimulationConfig(residents=residents, days=days, seed=seed)
simulate_city(config, Path(sys.argv[4]), fmt=sys.argv[5])
"""


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    rows: dict[str, int]
    bytes_on_disk: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_on_disk.values())


def run_once(residents: int, days: int, seed: int, fmt: str, out: Path) -> Run:
    """One simulation in a child process; its own peak memory and CPU time."""
    if out.exists():
        shutil.rmtree(out)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CHILD, str(residents), str(days), str(seed), str(out), fmt],
        check=True,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far (KiB on Linux).
    peak = after.ru_maxrss * 1024
    manifest = json.loads((out / "manifest.json").read_text())
    rows = {name: t["rows"] for name, t in manifest["tables"].items()}
    sizes = {name: (out / t["file"]).stat().st_size for name, t in manifest["tables"].items()}
    return Run(wall, cpu, peak, rows, sizes)


def _machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def report(runs: list[Run], residents: int, days: int, fmt: str, command: str) -> str:
    wall = statistics.median(r.wall_s for r in runs)
    cpu = statistics.median(r.cpu_s for r in runs)
    peak = max(r.peak_rss_bytes for r in runs)
    last = runs[-1]
    lines = [
        f"Command: `{command}`",
        "",
        f"{residents:,} residents x {days} days as {fmt}; {len(runs)} run(s), median shown; "
        f"machine: {_machine()}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {wall:.1f} s (budget: 300 s) |",
        f"| CPU time (user + system) | {cpu:.1f} s ({cpu / wall:.0%} of one core's wall time) |",
        f"| peak resident memory | {peak / GIB:.2f} GiB (budget: 8 GiB) |",
        f"| rows written | {last.total_rows:,} |",
        f"| rows per second (wall) | {last.total_rows / wall:,.0f} |",
        f"| bytes on disk | {last.total_bytes / 1024**2:,.1f} MiB |",
        "",
        "| table | rows | MiB on disk | bytes per row |",
        "|---|---:|---:|---:|",
    ]
    for name in sorted(last.rows, key=lambda n: -last.bytes_on_disk[n]):
        rows, size = last.rows[name], last.bytes_on_disk[name]
        per_row = f"{size / rows:.1f}" if rows else "-"
        lines.append(f"| {name} | {rows:,} | {size / 1024**2:,.2f} | {per_row} |")
    return "\n".join(lines) + "\n"


def update_docs(section: str) -> None:
    """Replace the body of '## Simulator' in docs/benchmarks.md, leaving the rest alone."""
    text = DOC.read_text()
    head = "## Simulator\n"
    start = text.index(head) + len(head)
    end = text.find("\n## ", start)
    end = len(text) if end < 0 else end + 1
    DOC.write_text(text[:start] + "\n" + section + "\n" + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="fmt", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the dataset here")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite docs/benchmarks.md#simulator"
    )
    args = parser.parse_args()

    scratch = None if args.out else Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    out = args.out or scratch / "city"
    try:
        runs = [
            run_once(args.residents, args.days, args.seed, args.fmt, out)
            for _ in range(args.repeats)
        ]
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    command = (
        ".venv/bin/python bench/bench_simulate.py"
        + (f" --residents {args.residents}" if args.residents != 100_000 else "")
        + (f" --days {args.days}" if args.days != 14 else "")
        + (f" --repeats {args.repeats}" if args.repeats != 1 else "")
    )
    text = report(runs, args.residents, args.days, args.fmt, command)
    print(text)
    if args.update_docs:
        update_docs(text)
        print(f"updated {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
