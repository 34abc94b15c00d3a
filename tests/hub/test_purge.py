"""The purge leaves nothing personal behind (issue 9's must-show, SQLite and PostgreSQL).

A case with known identifiers is registered through records.py, files are written in
its folder, its detail is viewed (audit entries and log lines), then the purge runs
with its retention ended. Afterwards the database's bytes (SQLite: the whole file
image, free pages included; PostgreSQL: every table's COPY dump and, where readable,
the raw relation files), the hub's files and every log line hold none of its
identifiers in any encoding, nor its ciphertexts, wrapped key or blind-index digests;
the aggregates still match; the audit chain verifies and holds the destruction.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from purge_cases import (
    KEPT_PERSON,
    NOW,
    OLD,
    PERSON,
    RECENT,
    Planted,
    database_bytes,
    files_bytes,
    find_in,
    plant_case,
    with_exchange_data,
    with_link,
)

from epitrace.hub import crypto
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import BlindIndex, Case, CaseKey
from epitrace.hub.cases.records import cases_matching, identifiers_of
from epitrace.hub.cases.storage import case_folder, cases_root
from epitrace.hub.chains.models import ProposedLink
from epitrace.hub.retention import aggregates
from epitrace.hub.retention.models import PurgedCaseCount, PurgeRecord
from epitrace.hub.retention.purge import run_purge
from epitrace.hub.retention.rules import Kind

# VACUUM cannot run inside the transaction a plain django_db test wraps around it.
pytestmark = pytest.mark.django_db(transaction=True)
KEY_FILES = ("secret_key", "audit_key", "master_key", "index_key")


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    settings.HOME.mkdir()
    return settings.HOME


@pytest.fixture
def log_file(tmp_path: Path) -> Any:
    """Every log record of every logger at DEBUG, written to a file as a service would."""
    path = tmp_path / "hub.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


def view_detail(client: Any, case: Case) -> None:
    answer = client.get(f"/api/cases/{case.case_id}?purpose=contact tracing")
    assert answer.status_code == 200 and answer.json()["identifiers"]["name"] == PERSON.name


def test_nothing_of_a_purged_case_remains_anywhere(
    home: Path,
    log_file: Path,
    caplog: Any,
    places: dict[str, Any],
    make_account: Any,
    signed_in: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    purged = plant_case(places["seoul"], PERSON, OLD)
    with_exchange_data(purged)  # a provider answer file and an analysis result
    kept = plant_case(places["busan"], KEPT_PERSON, RECENT)
    with_link(purged, kept.case)  # a confirmed link to a case that stays
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    view_detail(national, purged.case)
    national.get("/api/cases/C99999?purpose=contact tracing")  # a 404 log line
    logging.getLogger("epitrace.hub").info("case %s viewed", purged.case.case_id)

    needles = purged.needles()
    # The scanners can see what they look for: before the purge, the case is there.
    before = database_bytes()
    if connection.vendor == "postgresql":  # the test account is a superuser: files readable
        assert "postgres relation files" in before
    for name, data in before.items():
        assert find_in(data, needles), f"the {name} scan finds nothing even before the purge"
    assert find_in(b"".join(files_bytes(cases_root()).values()), needles)
    counts_before = aggregates.cases_by_day_and_region()
    onset_before = aggregates.cases_by_day_and_region("onset")

    report = run_purge(now=NOW)

    # Its answers and results first, each by its own rule, then the whole case.
    assert [(d.kind, d.case_number) for d in report.destroyed] == [
        (Kind.RAW_RESULTS, purged.case.case_id),
        (Kind.ANALYSIS_RESULTS, purged.case.case_id),
        (Kind.IDENTIFIERS, purged.case.case_id),
    ]
    assert report.ok and report.vacuumed
    assert_case_gone(purged)
    assert_untouched(kept)
    assert not ProposedLink.objects.exists()  # links go with either of their cases
    for name, data in database_bytes().items():
        assert find_in(data, needles) == [], f"found in the {name}"
    leftovers = files_bytes(home, skip=KEY_FILES)
    for path, data in leftovers.items():
        assert find_in(data, needles) == [], f"found in {path}"
    logged = (
        log_file.read_bytes()
        + "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records).encode()
    )
    assert b"purge: destroyed" in logged and b"Not Found" in logged  # the capture saw it all
    assert find_in(logged, needles) == [], "found in the logs"
    # The statistics do not move; the chain verifies and records the destruction.
    assert aggregates.cases_by_day_and_region() == counts_before
    assert aggregates.cases_by_day_and_region("onset") == onset_before
    assert PurgedCaseCount.objects.get().cases == 1
    assert verify_chain().ok
    assert AuditEntry.objects.filter(action__startswith="purge.").count() == 4  # + purge.run
    run = AuditEntry.objects.get(action="purge.run").detail
    assert run["destroyed"] == {"raw_results": 1, "analysis_results": 1, "identifiers": 1}
    entry = AuditEntry.objects.get(action="purge.case")
    assert entry.actor == "system" and entry.object_id == purged.case.case_id
    assert entry.detail["case"] == purged.case.case_id
    assert entry.detail["kind"] == Kind.IDENTIFIERS
    assert (
        entry.detail["rule"]
        == "identifiers: 90 days after confirmation (or registration, if later)"
    )
    assert entry.detail["expired_on"] == "2026-04-05"


def assert_case_gone(planted: Planted) -> None:
    case = planted.case
    assert not Case.objects.filter(pk=case.pk).exists()
    assert not CaseKey.objects.filter(case_id=case.pk).exists()
    assert not BlindIndex.objects.filter(case_id=case.pk).exists()
    assert not case_folder(case).exists()
    assert cases_matching("phone", PERSON.phones[0]) == []
    record = PurgeRecord.objects.get(case_uid=case.uid, target="cases")
    assert record.done and record.vacuumed_at is not None and record.steps_done == 3


def assert_untouched(planted: Planted) -> None:
    case = Case.objects.get(pk=planted.case.pk)
    assert identifiers_of(case) == KEPT_PERSON
    assert (case_folder(case) / "uploads" / "interview.txt").exists()


def test_a_second_run_destroys_nothing_more(home: Path, places: dict[str, Any]) -> None:
    plant_case(places["seoul"], PERSON, OLD)
    assert len(run_purge(now=NOW).destroyed) == 1
    again = run_purge(now=NOW)
    assert again.destroyed == [] and again.resumed == [] and again.vacuumed == []
    assert AuditEntry.objects.filter(action="purge.case").count() == 1
    assert aggregates.total_cases() == 1


def test_the_purged_keys_ciphertexts_can_never_be_read_again(
    home: Path, places: dict[str, Any]
) -> None:
    planted = plant_case(places["seoul"], PERSON, OLD)
    copy = Case.objects.get(pk=planted.case.pk)  # a row as a backup would hold it
    run_purge(now=NOW)
    with pytest.raises(crypto.KeyDestroyed):
        identifiers_of(copy)


def test_the_vacuum_is_what_clears_free_pages(home: Path, places: dict[str, Any]) -> None:
    """Without secure_delete (a build-time default) SQLite keeps deleted rows in free
    space: the scan sees them. The purge's VACUUM clears what an earlier deletion left."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's free pages; PostgreSQL is checked through its relation files")
    planted = plant_case(places["seoul"], PERSON, OLD)
    digests = {d.encode() for d in BlindIndex.objects.values_list("digest", flat=True)}
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete = OFF")
    BlindIndex.objects.all().delete()
    image = database_bytes()["sqlite file image"]
    assert any(d in image for d in digests), "deleted rows are expected in free pages"
    run_purge(now=NOW)
    image = database_bytes()["sqlite file image"]
    assert not any(d in image for d in digests)
    assert not Case.objects.filter(pk=planted.case.pk).exists()
