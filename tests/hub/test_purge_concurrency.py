"""Purges running at once (the daily job and an operator's `epitrace purge`) destroy
each case once, count it once and record it once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from purge_cases import NOW, OLD, PERSON, plant_case, with_exchange_data

from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import CaseDates
from epitrace.hub.retention import aggregates
from epitrace.hub.retention.models import PurgedCaseCount, PurgeRecord
from epitrace.hub.retention.purge import PurgeReport, run_purge

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 4
CASES = 6


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    return settings.HOME


def purge_in_thread(start: threading.Barrier) -> PurgeReport:
    try:
        start.wait()
        return run_purge(now=NOW)
    finally:
        connections.close_all()  # this thread's connection, before the test DB is dropped


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises writers, so there is no race",
)
def test_parallel_purges_destroy_each_case_once(home: Path, places: dict[str, Any]) -> None:
    planted = []
    for day in range(CASES):
        dates = CaseDates(
            specimen_date=OLD.specimen_date.replace(day=1 + day),
            confirmation_date=OLD.confirmation_date.replace(day=5 + day),
            isolation_date=OLD.isolation_date.replace(day=5 + day),
        )
        case = plant_case(places["seoul" if day % 2 else "busan"], PERSON, dates)
        with_exchange_data(case, task=day + 1)
        planted.append(case)
    before = aggregates.cases_by_day_and_region()

    start = threading.Barrier(RUNS)
    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        reports = list(pool.map(purge_in_thread, [start] * RUNS))
    run_purge(now=NOW)  # finishes anything a failed run left open (none expected)

    destroyed = [d.item for r in reports for d in r.destroyed if d.target == "cases"]
    assert sorted(destroyed) == sorted(str(p.case.uid) for p in planted)  # once each
    assert not Case.objects.exists()
    assert not PurgeRecord.objects.filter(finished_at__isnull=True).exists()
    for action in ("purge.case", "purge.raw_results", "purge.analysis_results"):
        assert AuditEntry.objects.filter(action=action).count() == CASES, action
    assert sum(PurgedCaseCount.objects.values_list("cases", flat=True)) == CASES
    assert aggregates.cases_by_day_and_region() == before
    assert verify_chain().ok
