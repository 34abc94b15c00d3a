"""From the police approval to the path on screen, through the whole exchange.

    .venv/bin/python bench/bench_exchange.py [--residents 5000] [--days 14] [--cases 5]
                                             [--burst 20] [--record]

Sets up what ``epitrace demo`` runs — a simulated city, each agency's store, the hub
on SQLite served by waitress with its job runner, one agent per agency as a thread
polling every 2 s over HTTP — then, case by case, an investigator asks for telecom,
card, transit and check-in data and a contact search, a police approver approves,
and the clock runs until the analysis is stored (what the case page shows). Then
``--burst`` cases are requested and approved at once. Reports the median and worst
turnaround, the rounds and tasks per request, and checks that the audit log holds
every step and still verifies. The issue's target: under 60 s per case.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Request to path: the exchange end to end"
KINDS = ["telecom", "cards", "transit", "checkins", "contacts"]
STEPS = (
    "request.submit",
    "request.approve",
    "request.route",
    "request.deliver",
    "request.answer",
    "request.analysed",
)


def prepare(home: Path, residents: int, days: int) -> tuple[Path, Path]:
    from epitrace.providers.store import build_stores
    from epitrace.simulate import SimulationConfig, simulate_city

    city, stores = home / "city", home / "stores"
    print(f"simulating {residents:,} residents x {days} days ...", flush=True)
    simulate_city(SimulationConfig(residents=residents, days=days, seed=20200218), city, "csv")
    print("building the agencies' stores ...", flush=True)
    build_stores(city, stores)
    return city, stores


def start_hub(port: int) -> None:
    from waitress import create_server

    from epitrace.hub.exchange.jobs import start_worker_thread
    from epitrace.hub.serving import migrate
    from epitrace.hub.wsgi import application

    migrate(lambda _: None)
    server = create_server(application, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    start_worker_thread(poll_seconds=0.5)


def accounts() -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model

    from epitrace.hub.accounts.roles import assign_role

    made = []
    for name, role in (("inv", "national_investigator"), ("cop", "police_approver")):
        user = get_user_model().objects.create(username=name)
        assign_role(user, role, by="bench", reason="benchmark")
        user.is_verified = lambda: True  # as if signed in with TOTP
        made.append(user)
    return made[0], made[1]


def wait_analysed(request_ids: list[int], timeout: float = 600.0) -> dict[int, float]:
    from epitrace.hub.exchange.models import DataRequest, Status

    done: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(request_ids) and time.monotonic() < deadline:
        finished = DataRequest.objects.filter(
            pk__in=request_ids, status__in=(Status.ANALYSED, Status.FAILED)
        ).values_list("pk", "status")
        for pk, status in finished:
            if pk not in done:
                if status != Status.ANALYSED:
                    raise SystemExit(f"request {pk} failed")
                done[pk] = time.monotonic()
        time.sleep(0.2)
    if len(done) < len(request_ids):
        raise SystemExit(f"only {len(done)} of {len(request_ids)} analysed in {timeout:.0f} s")
    return done


def ask_and_approve(investigator: Any, police: Any, cases: list[Any]) -> tuple[list[int], float]:
    from epitrace.hub.exchange.workflow import create_request, decide_request

    asked = [create_request(investigator, c, KINDS, "benchmark: trace the case") for c in cases]
    approved_at = time.monotonic()
    for request in asked:
        decide_request(police, request, approve=True)
    return [r.pk for r in asked], approved_at


def shape(request_pk: int) -> tuple[int, int]:
    from epitrace.hub.exchange.models import AgencyTask

    tasks = AgencyTask.objects.filter(request_id=request_pk)
    return max(t.round for t in tasks), tasks.count()


def audit_complete(request_pks: list[int]) -> bool:
    from epitrace.hub.audit.chain import verify_chain
    from epitrace.hub.audit.models import AuditEntry
    from epitrace.hub.exchange.models import DataRequest

    for request in DataRequest.objects.filter(pk__in=request_pks):
        entries = AuditEntry.objects.filter(detail__request=request.request_id)
        actions = set(entries.values_list("action", flat=True)) | set(
            AuditEntry.objects.filter(object_id=request.request_id).values_list("action", flat=True)
        )
        if not set(STEPS) <= actions:
            print(f"{request}: missing {sorted(set(STEPS) - actions)}")
            return False
    return verify_chain().ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # the agents' polls queue
    home = Path(tempfile.mkdtemp(prefix="epitrace-bench-exchange-"))
    os.environ.update(EPITRACE_HOME=str(home / "var"), EPITRACE_SSL_REDIRECT="0")
    os.environ.pop("DATABASE_URL", None)
    city, stores = prepare(home, args.residents, args.days)

    from epitrace.hub import setup

    setup()
    from epitrace.formats.readers import read_dataset_table
    from epitrace.hub.exchange.agents_local import fresh_tokens, start_local_agents
    from epitrace.hub.exchange.provisioning import register_dataset_cases, register_store_agencies
    from epitrace.simulate.run import cases_confirmed_last

    start_hub(args.port)
    agencies = register_store_agencies(stores)
    agents = start_local_agents(
        agencies, fresh_tokens(agencies, by="bench"), "127.0.0.1", args.port, interval=2.0
    )
    loaded = read_dataset_table(city, "cases")
    assert loaded is not None
    refs = cases_confirmed_last(loaded.table, args.cases + args.burst)
    cases = register_dataset_cases(city, refs)
    investigator, police = accounts()
    time.sleep(3)  # the agents say hello

    one_by_one, shapes = [], []
    for case in cases[: args.cases]:
        pks, approved_at = ask_and_approve(investigator, police, [case])
        finished = wait_analysed(pks)
        one_by_one.append(finished[pks[0]] - approved_at)
        shapes.append(shape(pks[0]))
        print(f"{case}: {one_by_one[-1]:.1f} s, rounds/tasks {shapes[-1]}", flush=True)
    burst_cases = cases[args.cases : args.cases + args.burst]
    burst_pks, approved_at = ask_and_approve(investigator, police, burst_cases)
    finished = wait_analysed(burst_pks)
    burst = [t - approved_at for t in finished.values()] or [float("nan")]
    audit_ok = audit_complete([*burst_pks])
    agents.stop()

    body = "\n".join(
        [
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"city {args.residents:,} residents x {args.days} days; SQLite; "
            f"{len(agencies)} agents polling every 2 s over HTTP; job runner in the hub.",
            "",
            "| | cases | median s | worst s |",
            "|---|---|---|---|",
            f"| one case at a time, approval to stored path | {len(one_by_one)} | "
            f"{statistics.median(one_by_one):.1f} | {max(one_by_one):.1f} |",
            f"| {len(burst)} cases approved at once | {len(burst)} | "
            f"{statistics.median(burst):.1f} | {max(burst):.1f} |",
            "",
            f"Rounds per request (median): {statistics.median(r for r, _ in shapes):.0f}; "
            f"agency tasks per request (median): {statistics.median(t for _, t in shapes):.0f}. "
            f"Audit log holds every step of each request and verifies: {audit_ok}.",
        ]
    )
    print(body)
    if args.record:
        sys.path.insert(0, str(Path(__file__).parent))
        from docs_block import write_block

        write_block(ROOT / "docs" / "benchmarks.md", "bench_exchange", body, SECTION)
    return 0 if audit_ok and max(one_by_one) < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
