"""Benchmark of provider stores: build time and memory, then the three query kinds warm.

    .venv/bin/python bench/bench_stores.py                  # the 100,000 x 14-day city
    .venv/bin/python bench/bench_stores.py --stores /tmp/stores100k --no-build
    .venv/bin/python bench/bench_stores.py --update-docs    # rewrite its docs/benchmarks.md section

The dataset is ``/tmp/city100k`` (simulated first if missing: ``epitrace simulate
--residents 100000 --days 14 --seed 1 --format parquet --out /tmp/city100k``).
The build runs in a fresh child process so its peak resident memory is its
own; a second build over the finished stores shows what a restart costs.
Each query runs once to warm up (file metadata, Spark's planning), then
``--repeats`` times; the median is reported. The same queries then run on a
local Spark session (2 cores) beside DuckDB. The machine is shared: the load
average at start is printed with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Provider stores and queries\n"
GIB = 1024**3
KST = dt.timezone(dt.timedelta(hours=9))

BUILD = """
import sys
from epitrace.providers.store import build_stores
build_stores(sys.argv[1], sys.argv[2])
"""


def ensure_dataset(folder: Path) -> None:
    if (folder / "manifest.json").is_file():
        return
    command = "simulate --residents 100000 --days 14 --seed 1 --format parquet --out"
    subprocess.run([str(ROOT / ".venv/bin/epitrace"), *command.split(), str(folder)], check=True)


def timed_build(dataset: Path, stores: Path) -> tuple[float, float, int]:
    """Wall time, CPU time and peak RSS of one build in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", BUILD, str(dataset), str(stores)], check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss * 1024


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """(first run, median of the warm runs, last answer)."""
    began = time.perf_counter()
    answer = run()
    first = time.perf_counter() - began
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        answer = run()
        times.append(time.perf_counter() - began)
    return first, statistics.median(times), answer


def _rows(answer: Any) -> int:
    if isinstance(answer, dict):
        return sum(t.num_rows for t in answer.values())
    return answer.num_rows


def the_queries(stores: Path) -> list[tuple[str, str, Any]]:
    """(label, store folder, query): fixed parameters, each with a non-trivial answer."""
    from epitrace.providers.queries import (
        Circle,
        DailyWindow,
        MerchantTime,
        PlaceTimePresence,
        ProviderStore,
        SubjectExtract,
    )

    start = dt.datetime(2020, 2, 10, tzinfo=KST)
    end = dt.datetime(2020, 2, 24, tzinfo=KST)
    centre = Circle(35.8714, 128.6014, 300.0)  # Daegu, Jung-gu: the densest cells
    skt = ProviderStore(stores / "skt")
    t = skt._table("subscribers")
    subscriber = skt._run(t.select("subscriber").order_by("subscriber").limit(1)).column(0)[0]
    day = dt.datetime(2020, 2, 17, tzinfo=KST)
    return [
        (
            "place-time presence, 300 m, 2 h on one day, dwell ≥ 15 min",
            "skt",
            PlaceTimePresence(
                (centre,),
                day + dt.timedelta(hours=12),
                day + dt.timedelta(hours=14),
                min_dwell_min=15,
            ),
        ),
        (
            "place-time presence, 300 m, 00:00-05:00 every night for 14 days, dwell ≥ 30 min",
            "skt",
            PlaceTimePresence(
                (centre,), start, end, daily=DailyWindow(dt.time(0), dt.time(5)), min_dwell_min=30
            ),
        ),
        (
            "subject extract, one subscriber, 14 days",
            "skt",
            SubjectExtract(subscriber.as_py(), start, end),
        ),
        (
            "merchant-time, merchants within 500 m, 3 h ± 30 min",
            "shinhan",
            MerchantTime(
                day + dt.timedelta(hours=11),
                day + dt.timedelta(hours=14),
                near=Circle(centre.lat, centre.lon, 500.0),
                margin_min=30,
            ),
        ),
    ]


def measure_queries(stores: Path, engine: Any, repeats: int) -> list[tuple[str, float, float, int]]:
    from epitrace.providers.queries import ProviderStore

    results = []
    for label, folder, query in the_queries(stores):
        store = ProviderStore(stores / folder, engine)
        first, warm, answer = median_seconds(lambda s=store, q=query: s.run(q), repeats)
        results.append((label, first, warm, _rows(answer)))
        print(f"  {engine.name:<7} {label}: first {first:.3f} s, warm {warm:.3f} s", flush=True)
    return results


def subscriber_copy_gain(stores: Path, repeats: int) -> tuple[float, float]:
    """Subject extract warm on the subscriber-sorted copy vs on the cell-sorted one."""
    from epitrace.providers.queries import ProviderStore

    _, folder, query = the_queries(stores)[2]
    store = ProviderStore(stores / folder)
    _, by_subscriber, _ = median_seconds(
        lambda: store._records("telecom_by_subscriber", "telecom_records", "subscriber", query),
        repeats,
    )
    _, by_cell, _ = median_seconds(
        lambda: store._records("telecom_records", "telecom_records", "subscriber", query), repeats
    )
    return by_subscriber, by_cell


def _machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )


def report(
    command: str,
    machine: str,
    build: tuple[float, float, int] | None,
    rebuild_s: float | None,
    sizes: tuple[int, int],
    duck: list[tuple[str, float, float, int]],
    spark: list[tuple[str, float, float, int]] | None,
    spark_start_s: float | None,
    copy_gain: tuple[float, float],
    repeats: int,
) -> str:
    dataset_bytes, store_bytes = sizes
    lines = [f"Command: `{command}`", "", f"Machine: {machine}.", ""]
    if build is not None:
        wall, cpu, peak = build
        lines += [
            "| build (100,000 residents x 14 days, 134.7 M rows in) | value |",
            "|---|---|",
            f"| wall time | {wall:.0f} s |",
            f"| CPU time (user + system) | {cpu:.0f} s |",
            f"| peak resident memory | {peak / GIB:.2f} GiB (DuckDB memory_limit 2 GB) |",
            f"| dataset on disk | {dataset_bytes / GIB:.2f} GiB |",
            f"| stores on disk (telecom and card payments twice) | {store_bytes / GIB:.2f} GiB |",
        ]
        if rebuild_s is not None:
            lines.append(f"| rebuild over complete stores (all skipped) | {rebuild_s:.1f} s |")
        lines.append("")
    header = "| query | answer rows | DuckDB first | DuckDB warm (median) |"
    rule = "|---|---:|---:|---:|"
    if spark is not None:
        header += " Spark first | Spark warm (median) |"
        rule += "---:|---:|"
    lines += [header, rule]
    for i, (label, first, warm, rows) in enumerate(duck):
        row = f"| {label} | {rows:,} | {first:.3f} s | {warm:.3f} s |"
        if spark is not None:
            row += f" {spark[i][1]:.2f} s | {spark[i][2]:.2f} s |"
        lines.append(row)
    lines += [
        "",
        f"Warm = median of {repeats} runs after one warm-up run in the same process.",
    ]
    if spark_start_s is not None:
        lines.append(f"Spark local[2] session start: {spark_start_s:.1f} s (not in the figures).")
    by_subscriber, by_cell = copy_gain
    lines += [
        "",
        f"Subject extract on the subscriber-sorted copy: {by_subscriber:.3f} s warm; the same "
        f"expression on the cell-sorted partitions: {by_cell:.3f} s.",
        "",
        NOTES,
    ]
    return "\n".join(lines) + "\n"


NOTES = """\
- The build is dominated by the telecom records (111 M rows, written twice:
  by cell and by subscriber); one DuckDB `COPY ... ORDER BY` per carrier and
  UTC day reads about one day of the time-ordered source through row-group
  pruning, so memory stays bounded by a day's sort (DuckDB may spill).
- A rebuild over complete stores only re-counts rows per agency and day
  (one scan of each source table) and skips every partition.
- Place-time presence reads only the candidate cells' row groups of the
  window's days: well under the 1 s target on DuckDB, even for 14 nights.
- Spark local mode answers the same queries with the same rows in about
  1-2 s each: job planning and scheduling, not data, dominate at this size.
  Its first query also pays JVM warm-up and Parquet footer reads.
"""


def update_docs(section: str) -> None:
    """Replace (or append) the '## Provider stores and queries' section of docs/benchmarks.md."""
    text = DOC.read_text()
    if SECTION not in text:
        DOC.write_text(text.rstrip("\n") + "\n\n" + SECTION + "\n" + section)
        return
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    end = len(text) if end < 0 else end + 1
    DOC.write_text(text[:start] + "\n" + section + ("\n" + text[end:] if end < len(text) else ""))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=Path("/tmp/city100k"))
    parser.add_argument("--stores", type=Path, default=None, help="keep the stores here")
    parser.add_argument("--no-build", action="store_true", help="use existing --stores")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()

    machine = _machine()
    ensure_dataset(args.dataset)
    scratch = None if args.stores else Path(tempfile.mkdtemp(prefix="bench-stores-"))
    stores = args.stores or scratch / "stores"
    try:
        build = rebuild_s = None
        if not args.no_build:
            shutil.rmtree(stores, ignore_errors=True)
            build = timed_build(args.dataset, stores)
            print(f"build: {build[0]:.0f} s wall, peak {build[2] / GIB:.2f} GiB", flush=True)
            rebuild_s = timed_build(args.dataset, stores)[0]
        sizes = (_bytes_under(args.dataset), _bytes_under(stores))
        duck = measure_queries(stores, _duckdb(), args.repeats)
        copy_gain = subscriber_copy_gain(stores, args.repeats)
        spark = spark_start_s = None
        if not args.no_spark:
            began = time.perf_counter()
            engine = _spark()
            spark_start_s = time.perf_counter() - began
            spark = measure_queries(stores, engine, args.repeats)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    command = "make install && .venv/bin/python bench/bench_stores.py" + (
        f" --repeats {args.repeats}" if args.repeats != 5 else ""
    )
    text = report(
        command,
        machine,
        build,
        rebuild_s,
        sizes,
        duck,
        spark,
        spark_start_s,
        copy_gain,
        args.repeats,
    )
    print(text)
    if args.update_docs:
        update_docs(text)
        print(f"updated {DOC.relative_to(ROOT)}")


def _duckdb() -> Any:
    from epitrace.providers.queries import DuckDBEngine

    return DuckDBEngine()


def _spark() -> Any:
    from epitrace.providers.queries import SparkEngine, local_spark_session

    session = local_spark_session(cores=2, memory="2g")
    session.sparkContext.setLogLevel("ERROR")
    return SparkEngine(session)


if __name__ == "__main__":
    main()
