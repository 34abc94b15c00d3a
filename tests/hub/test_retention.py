"""The administrator's retention settings and forecast; the rules; the dry run; the CLI."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.core.management import call_command
from django.utils import timezone
from purge_cases import NOW, OLD, PERSON, RECENT, plant_case

from epitrace.cli import main
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.notes import NOT_KEPT
from epitrace.hub.retention.models import RetentionSettings
from epitrace.hub.retention.purge import run_purge
from epitrace.hub.retention.rules import Kind, expiry, latest_expired_anchor

pytestmark = pytest.mark.django_db
CHANGE = {"identifiers_days": "60", "raw_results_days": "7", "reason": "new guideline"}


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    return settings.HOME


@pytest.fixture
def admin(make_account: Any, signed_in: Any) -> Any:
    return signed_in(make_account(Role.ADMINISTRATOR, "admin"))


def post_json(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/retention", json.dumps(body), content_type="application/json")


# --- the rules ---


def test_retention_counts_from_the_anchor_and_the_emergency_end_cuts_it_short() -> None:
    policy = RetentionSettings()
    anchor = dt.date(2026, 3, 1)
    assert expiry(policy, Kind.IDENTIFIERS, anchor, "confirmation_date").on == dt.date(2026, 5, 30)
    policy.emergency_end = dt.date(2026, 4, 10)
    ended = expiry(policy, Kind.IDENTIFIERS, anchor, "confirmation_date")
    assert ended.on == dt.date(2026, 4, 11) and ended.rule == "emergency ended 2026-04-10"
    # Raw results expire by their own, shorter retention before the end.
    assert expiry(policy, Kind.RAW_RESULTS, anchor, "x").on == dt.date(2026, 3, 15)
    # The audit log keeps its two years whatever the emergency.
    assert expiry(policy, Kind.AUDIT_LOG, anchor, "x").on == dt.date(2028, 2, 29)  # 730 days
    assert latest_expired_anchor(policy, Kind.IDENTIFIERS, dt.date(2026, 4, 11)) == dt.date.max
    assert latest_expired_anchor(policy, Kind.IDENTIFIERS, dt.date(2026, 4, 10)) == dt.date(
        2026, 1, 10
    )


# --- the administrator's settings ---


@pytest.mark.parametrize(
    "role",
    [
        Role.NATIONAL_INVESTIGATOR,
        Role.REGIONAL_INVESTIGATOR,
        Role.POLICE_APPROVER,
        Role.PROVIDER_OPERATOR,
        Role.AUDITOR,
        None,
    ],
)
def test_only_the_administrator_sees_or_changes_retention(
    role: Role | None, make_account: Any, signed_in: Any
) -> None:
    client = signed_in(make_account(role))
    assert client.get("/api/retention").status_code == 403
    assert post_json(client, CHANGE).status_code == 403
    assert client.get("/retention").status_code == 403
    assert RetentionSettings.objects.count() == 0


def test_signed_out_or_without_the_second_factor_is_refused(
    make_account: Any, signed_in: Any
) -> None:
    from django.test import Client

    assert Client().get("/api/retention").status_code == 401
    half = signed_in(make_account(Role.ADMINISTRATOR), second_factor=False)
    assert half.get("/api/retention").status_code == 401


def test_the_forecast_counts_per_kind_and_date_and_names_no_one(
    admin: Any, home: Path, places: dict[str, Any]
) -> None:
    old = plant_case(places["seoul"], PERSON, OLD)
    plant_case(places["busan"], PERSON, RECENT)
    body = admin.get("/api/retention").json()
    assert body["settings"]["identifiers_days"] == 90
    assert body["settings"]["audit_log_days"] == 730
    cases = [row for row in body["schedule"] if row["kind"] == "identifiers"]
    assert [(row["date"], row["count"]) for row in cases] == [("2026-04-05", 1), ("2026-08-18", 1)]
    assert cases[0]["rule"] == "identifiers: 90 days after confirmation (or registration, if later)"
    assert body["due_at_next_purge"]["identifiers"] == 2  # today is after both dates
    text = json.dumps(body, ensure_ascii=False)
    for secret in (old.case.case_id, str(old.case.uid), PERSON.name, PERSON.phones[0]):
        assert secret not in text


def test_a_change_is_applied_and_audited_with_its_reason(admin: Any) -> None:
    answer = post_json(admin, {**CHANGE, "emergency_end": "2026-07-31"})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["changed"] == {
        "emergency_end": [None, "2026-07-31"],
        "raw_results_days": [14, 7],
        "identifiers_days": [90, 60],
    }
    policy = RetentionSettings.current()
    assert (policy.identifiers_days, policy.raw_results_days) == (60, 7)
    assert policy.emergency_end == dt.date(2026, 7, 31) and policy.changed_by == "admin"
    entry = AuditEntry.objects.get(action="retention.change")
    assert entry.actor == "admin" and entry.role == Role.ADMINISTRATOR
    # The change concerns no case: its reason (free text) is not kept (docs/security.md).
    assert entry.detail["reason"] == NOT_KEPT
    assert entry.detail["changes"]["identifiers_days"] == [90, 60]
    assert verify_chain().ok
    # Saving the same values again changes nothing and records nothing.
    assert post_json(admin, CHANGE).json()["changed"] == {}
    assert AuditEntry.objects.filter(action="retention.change").count() == 1


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"identifiers_days": "30"}, "reason is required"),
        ({"audit_log_days": "365", "reason": "test a wrong value"}, "at least 730"),
        (
            {"raw_results_days": "120", "reason": "test a wrong value"},
            "must not exceed identifiers_days",
        ),
        ({"identifiers_days": "ten", "reason": "test a wrong value"}, "whole number"),
        ({"identifiers_days": "0", "reason": "test a wrong value"}, "between 1 and"),
        (
            {"emergency_end": "31/07/2026", "reason": "test a wrong value"},
            "emergency_end must be a date",
        ),
    ],
)
def test_invalid_changes_are_refused(admin: Any, body: dict[str, str], complaint: str) -> None:
    answer = post_json(admin, body)
    assert answer.status_code == 400 and complaint in answer.json()["error"]
    assert not AuditEntry.objects.filter(action="retention.change").exists()
    assert RetentionSettings.current().identifiers_days == 90


def test_the_page_shows_the_settings_and_its_form_changes_them(admin: Any) -> None:
    page = admin.get("/retention")
    assert page.status_code == 200
    assert b"Retention and destruction" in page.content and b'name="reason"' in page.content
    assert b"Retention and destruction" in admin.get("/").content  # linked from home
    answer = admin.post("/retention", {"identifiers_days": "45", "reason": "shorter"})
    assert answer.status_code == 302 and answer["Location"] == "/retention?saved=1"
    assert RetentionSettings.current().identifiers_days == 45
    refused = admin.post("/retention", {"identifiers_days": "45"})
    assert refused.status_code == 400 and b"reason is required" in refused.content
    admin.post("/retention", {"emergency_end": "2026-01-31", "reason": "the emergency ended"})
    assert b"the next purge destroys every case" in admin.get("/retention").content


# --- the dry run, the command line, the emergency's end, the audit log ---


def test_a_dry_run_lists_and_destroys_nothing(home: Path, places: dict[str, Any]) -> None:
    old = plant_case(places["seoul"], PERSON, OLD)
    entries = AuditEntry.objects.count()
    report = run_purge(now=NOW, dry_run=True)
    text = report.describe()
    assert "dry run, nothing destroyed" in text and "would destroy 1" in text
    assert old.case.case_id in text and "expired 2026-04-05" in text
    assert "identifiers: 90 days after confirmation (or registration, if later)" in text
    assert Case.objects.filter(pk=old.case.pk).exists() and old.folder and old.folder.exists()
    assert AuditEntry.objects.count() == entries
    # And what the next day something expires would bring.
    recent = plant_case(places["busan"], PERSON, RECENT)
    text = run_purge(now=NOW, dry_run=True).describe()
    assert "2026-08-18  Case identifiers (the whole case): 1" in text
    both = f"{old.case.case_id}, {recent.case.case_id}"  # what is due now would still be
    assert (
        f"a purge on 2026-08-18 would destroy:\n    Case identifiers (the whole case): {both}"
        in text
    )


def test_epitrace_purge_prints_what_it_destroyed(home: Path, places: dict[str, Any]) -> None:
    old = plant_case(places["seoul"], PERSON, OLD)
    dry = CliRunner().invoke(main, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert old.case.case_id in dry.output and "would destroy" in dry.output
    assert Case.objects.filter(pk=old.case.pk).exists()
    real = CliRunner().invoke(main, ["purge"])
    assert real.exit_code == 0, real.output
    assert f"{old.case.case_id}  expired 2026-04-05" in real.output and "destroyed 1" in real.output
    assert not Case.objects.filter(pk=old.case.pk).exists()
    out = StringIO()
    call_command("purge", "--dry-run", stdout=out)
    assert "nothing has passed its retention" in out.getvalue()


def test_the_emergencys_end_destroys_every_case_at_once(home: Path, places: dict[str, Any]) -> None:
    plant_case(places["seoul"], PERSON, OLD)
    recent = plant_case(places["busan"], PERSON, RECENT)
    RetentionSettings.objects.create(id=1, emergency_end=dt.date(2026, 5, 25))
    report = run_purge(now=NOW)
    rules = {d.case_number: d.rule for d in report.destroyed}
    assert rules[recent.case.case_id] == "emergency ended 2026-05-25"
    assert Case.objects.count() == 0
    assert Kind.AUDIT_LOG not in report.counts()  # the log outlives the emergency


def test_audit_entries_past_their_retention_are_pruned_and_the_chain_verifies(
    home: Path, places: dict[str, Any]
) -> None:
    plant_case(places["seoul"], PERSON, RECENT)
    assert Kind.AUDIT_LOG not in run_purge().counts()  # today: nothing is two years old
    later = timezone.now() + dt.timedelta(days=731)
    report = run_purge(now=later)
    assert report.counts()[Kind.AUDIT_LOG] >= 1
    assert verify_chain().ok
    assert AuditEntry.objects.filter(action="audit.prune").exists()
    assert AuditEntry.objects.filter(action="purge.audit_log").exists()


# --- the statistics the dashboard reads ---


def test_case_counts_add_the_purged_to_the_live(home: Path, places: dict[str, Any]) -> None:
    from epitrace.hub.retention import aggregates

    plant_case(places["seoul"], PERSON, OLD)  # onset 2026-01-01, purged below
    plant_case(places["busan"], PERSON, RECENT)  # asymptomatic, kept
    run_purge(now=NOW)
    assert Case.objects.count() == 1
    confirmed = {OLD.confirmation_date: 1, RECENT.confirmation_date: 1}
    assert aggregates.cases_by_day() == confirmed
    assert aggregates.cases_by_day("onset") == {OLD.onset_date: 1, None: 1}
    assert aggregates.cases_by_region() == {"11140": 1, "26110": 1}
    assert aggregates.cases_by_day_and_region(start=dt.date(2026, 5, 1)) == {
        (RECENT.confirmation_date, "26110"): 1
    }
    assert aggregates.daily_series()[0] == {"date": "2026-01-05", "region": "11140", "cases": 1}
    with pytest.raises(ValueError, match="by must be"):
        aggregates.cases_by_day("specimen")  # type: ignore[arg-type]


def test_the_daily_purge_runs_once_a_day_from_its_hour(home: Path) -> None:
    from epitrace.hub.retention.purge import run_daily_purge

    night = dt.datetime(2026, 6, 1, 17, tzinfo=dt.UTC)  # 02:00 in Seoul: too early
    assert run_daily_purge(now=night) is None
    morning = night + dt.timedelta(hours=2)  # 04:00
    assert run_daily_purge(now=morning) is not None
    assert run_daily_purge(now=morning + dt.timedelta(hours=10)) is None  # same day
    assert run_daily_purge(now=morning + dt.timedelta(days=1)) is not None
    assert AuditEntry.objects.filter(action="purge.run").count() == 2
