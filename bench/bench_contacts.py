"""Full contact search for one case on the 100,000-resident x 14-day city.

    .venv/bin/python bench/bench_contacts.py [--city /tmp/city100k]
        [--stores /tmp/ep_bench_stores] [--cases 5] [--record]

Reuses the city and its provider stores (built by bench_stores.py /
bench_analyze.py; this script never rebuilds them). For the cases confirmed
last: gather the subject's records from the stores and trace the stays
(not timed), then time ``epitrace.workflows.contact_search.search_contacts`` over the
infectious window from the cases table — every bounded query to every
carrier, card issuer and entry-log operator, identities named, evidence
merged and ranked — once cold and once warm. ``--record`` writes the figures
at the end of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

import pyarrow.parquet as pq

from docs_block import write_block
from epitrace.analysis.contacts import infectious_window
from epitrace.analysis.trajectory import trace_subject
from epitrace.providers.network import StoreNetwork
from epitrace.workflows.contact_search import search_contacts

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Contact search"
TZ = "Asia/Seoul"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, default=Path("/tmp/city100k"))
    parser.add_argument("--stores", type=Path, default=Path("/tmp/ep_bench_stores"))
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    network = StoreNetwork(args.stores)
    cases = pq.read_table(args.city / "cases.parquet").to_pylist()
    chosen = sorted(cases, key=lambda c: (c["confirmed_date"], c["case_id"]))[-args.cases :]
    rows = []
    for case in chosen:
        window = infectious_window(case["confirmed_date"], case["onset_date"], TZ)
        records = network.subject(case["person_ref"], window[0] - dt.timedelta(days=1), window[1])
        trajectory = trace_subject(records)
        timings = []
        for _ in range(2):  # cold, then warm
            began = time.perf_counter()
            found = search_contacts(network, trajectory, records, window, TZ)
            timings.append(time.perf_counter() - began)
        rows.append(
            (
                case["person_ref"],
                len(found.searched()),
                found.queries,
                found.contacts.table.num_rows,
                *timings,
            )
        )
        print(
            f"{case['person_ref']}: {found.describe()}; cold {timings[0]:.2f} s, "
            f"warm {timings[1]:.2f} s",
            flush=True,
        )
    text = table_text(rows)
    print(text)
    if args.record:
        record(text, args)


def table_text(rows: list[tuple]) -> str:
    lines = [
        "| case | stays searched | queries | contact rows | cold s | warm s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:,} | {r[4]:.2f} | {r[5]:.2f} |" for r in rows]
    warm = statistics.median(r[5] for r in rows)
    cold = statistics.median(r[4] for r in rows)
    lines.append(f"\nMedian: cold {cold:.2f} s, warm {warm:.2f} s per case.")
    return "\n".join(lines)


def record(text: str, args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    write_block(
        ROOT / "docs" / "benchmarks.md",
        "bench_contacts",
        f"`.venv/bin/python bench/bench_contacts.py --cases {args.cases} --record` on the "
        f"100,000-resident x 14-day city ({args.city}, stores {args.stores}); "
        f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at start. One case's "
        "full search: every stay searched in its infectious window, every carrier, card "
        "issuer (25) and entry-log operator asked on DuckDB; the trace before it is not "
        'timed (see "One subject\'s stays and path").\n\n'
        f"{text}\n",
        SECTION,
    )


if __name__ == "__main__":
    main()
