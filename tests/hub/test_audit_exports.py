"""The auditor's page: filters, paging, CSV and FHIR R4 AuditEvent exports (audited,
with a reason), the monthly review; nobody else gets in, nothing edits the log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit import exports
from epitrace.hub.audit.chain import record, verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.notes import NOT_KEPT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def auditor(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> Client:
    return signed_in(make_account(Role.AUDITOR, "alice"))


def some_entries() -> None:
    for n in range(60):
        record(
            "bob",
            "case.view",
            role="national_investigator",
            object_type="case",
            object_id=f"C{n:05d}",
            detail={"allowed": True, "status": 200, "ip": "10.0.0.7"},
        )
    record("carol", "case.search", role="regional_investigator", detail={"allowed": False})


def test_filters_and_paging(auditor: Client) -> None:
    some_entries()
    page = auditor.get("/audit", {"actor": "bob"}).content.decode()
    assert "60 entries matching" in page and "page 1 of 2" in page and "carol" not in page
    second = auditor.get("/audit", {"actor": "bob", "page": 2}).content.decode()
    assert "page 2 of 2" in second
    assert "1 entry matching" in auditor.get("/audit", {"action": "case.se"}).content.decode()
    one = auditor.get("/audit", {"object": "case:C00007"}).content.decode()
    assert "1 entry matching" in one and "C00007" in one
    # Days are the hub's local days (Asia/Seoul), as the page shows the times.
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    later = (today + dt.timedelta(days=1)).isoformat()
    assert "0 entries matching" in auditor.get("/audit", {"date_from": later}).content.decode()
    inside = auditor.get("/audit", {"actor": "bob", "date_from": today, "date_to": today})
    assert "60 entries matching" in inside.content.decode()


def test_csv_export_needs_a_reason_and_is_audited(auditor: Client) -> None:
    some_entries()
    refused = auditor.post("/audit/export.csv", {"actor": "bob"})
    assert refused.status_code == 400
    assert not AuditEntry.objects.filter(action="audit.export").exists()
    answer = auditor.post("/audit/export.csv", {"actor": "bob", "reason": "monthly check"})
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    assert answer.content.startswith("\ufeff".encode())  # Excel then reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert next(iter(rows[0])) == "seq"
    assert len(rows) == 60 and {r["actor"] for r in rows} == {"bob"}
    assert rows[0]["ip"] == "10.0.0.7"
    export = AuditEntry.objects.get(action="audit.export")
    assert export.actor == "alice" and export.role == "auditor"
    # An export concerns no case: its reason (free text) is not kept (docs/security.md).
    assert export.detail["reason"] == NOT_KEPT and export.detail["rows"] == 60
    assert export.detail["filters"] == {"actor": "bob"} and export.detail["format"] == "csv"
    assert verify_chain().ok


FHIR_OUTCOMES = {"0", "4", "8", "12"}


def check_audit_event(event: dict[str, Any]) -> None:
    """The elements FHIR R4 requires of an AuditEvent (hl7.org/fhir/R4/auditevent.html)."""
    assert event["resourceType"] == "AuditEvent"
    assert {"system", "code"} <= set(event["type"])  # type 1..1 Coding
    dt.datetime.fromisoformat(event["recorded"])  # recorded 1..1 instant, with offset
    assert event["recorded"].endswith("+00:00")
    assert event["action"] in {"C", "R", "U", "D", "E"}
    assert event["outcome"] in FHIR_OUTCOMES
    assert event["agent"], "agent 1..*"
    for agent in event["agent"]:
        assert isinstance(agent["requestor"], bool)  # requestor 1..1
        assert agent["who"]["identifier"]["value"]
        if "network" in agent:
            assert agent["network"]["type"] in {"1", "2", "3", "4", "5"}
    assert event["source"]["observer"]  # source 1..1 with observer 1..1
    for entity in event.get("entity", []):
        assert "what" not in entity or entity["what"]["identifier"]["value"]


def test_fhir_bundle(auditor: Client) -> None:
    some_entries()
    answer = auditor.post("/audit/export.fhir", {"reason": "send to the health ministry"})
    assert answer["Content-Type"].startswith("application/fhir+json")
    bundle = json.loads(answer.content)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)  # the served export, against the R4B models
    events = [e["resource"] for e in bundle["entry"]]
    assert len(events) == AuditEntry.objects.count() - 1  # all but the export's own entry
    for event in events:
        check_audit_event(event)
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    view = next(e for e in events if e["subtype"][0]["code"] == "case.view")
    assert view["agent"][0]["who"]["identifier"]["value"] == "bob"
    assert view["agent"][0]["role"][0]["coding"][0]["code"] == "national_investigator"
    assert view["agent"][0]["network"] == {"address": "10.0.0.7", "type": "2"}
    assert view["entity"][0]["what"]["identifier"]["value"].startswith("C")
    assert view["action"] == "R" and view["outcome"] == "0"
    denied = next(e for e in events if e["subtype"][0]["code"] == "case.search")
    assert denied["outcome"] == "4"
    export = AuditEntry.objects.get(action="audit.export")
    assert export.detail["format"] == "fhir"


@pytest.mark.parametrize("role", [r for r in Role if r != Role.AUDITOR])
def test_only_auditors(
    role: Role, make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(role))
    for page in ["/audit", "/audit/review"]:
        assert client.get(page).status_code == 403
    for export in ["/audit/export.csv", "/audit/export.fhir"]:
        assert client.post(export, {"reason": "curious"}).status_code == 403
    assert not AuditEntry.objects.filter(action="audit.export").exists()


def test_nothing_edits_or_deletes_entries(auditor: Client) -> None:
    some_entries()
    before = AuditEntry.objects.count()
    for page in ["/audit", "/audit/review", "/api/audit/entries"]:
        for method in ("put", "patch", "delete"):
            assert getattr(auditor, method)(page).status_code == 405
    assert auditor.post("/audit").status_code == 405
    assert AuditEntry.objects.count() >= before and verify_chain().ok


def at(hour_utc: int, day: int = 10) -> Any:
    return mock.patch(
        "epitrace.hub.audit.chain.timezone.now",
        return_value=dt.datetime(2026, 3, day, hour_utc, 30, tzinfo=dt.UTC),
    )


def test_monthly_review(auditor: Client) -> None:
    # Office hours in Seoul (UTC+9): 01:30 UTC is 10:30 there; 17:30 UTC is 02:30.
    with at(1):
        for user in ("ann", "ben", "cat", "dan"):
            for n in range(12):
                record(user, "case.view", object_type="case", object_id=str(n))
        for n in range(200):
            record("eve", "case.view", object_type="case", object_id=str(n))
        record("ann", "login.verified")  # sign-in steps are not access
    with at(17):
        record("ben", "case.search")
    with at(2):
        record("cat", "audit.export", detail={"reason": "check"})
    with at(2, day=31):  # 31 March 11:30 in Seoul, still in the month
        record("dan", "case.view")
    review = exports.monthly_review(
        AuditEntry.objects.filter(at__year=2026, at__month=3), "2026-03", "Asia/Seoul"
    )
    assert review.outliers == [("eve", 200)]
    assert [(e.actor, e.action) for e in review.off_hours] == [("ben", "case.search")]
    assert [e.actor for e in review.exports] == ["cat"]
    page = auditor.get("/audit/review", {"month": "2026-03"}).content.decode()
    assert "eve" in page and "case.search" in page and "check" in page


def test_volume_outliers_need_a_real_excess() -> None:
    assert exports.volume_outliers({"a": 5, "b": 6, "c": 7})[0] == []
    assert exports.volume_outliers({"a": 1, "b": 1, "c": 9})[0] == []  # too few to matter
    assert exports.volume_outliers({"a": 10, "b": 10, "c": 10, "d": 50})[0] == [("d", 50)]
    assert exports.month_bounds("2026-12")[1] == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_finding_7_audit_csv_carries_no_live_formula() -> None:
    """Issue #17, finding 7: a failed login with the username ``=HYPERLINK(...)`` ended
    up as a live formula in the CSV the auditor opens. Text cells beginning with = + - @
    tab or carriage return get a leading quote (OWASP)."""
    record('=HYPERLINK("http://evil.example","x")', "login.failed", detail={"ip": "@1"})
    body = exports.to_csv(AuditEntry.objects.order_by("seq"))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


# --- issue #19: every export is valid FHIR (R4B models of fhir.resources) ---

ACTION_FAMILIES = (
    "account", "agency", "agent", "audit", "case", "dashboard", "disclosure", "export",
    "interview", "login", "purge", "region", "request", "result", "retention", "role",
    "role_history", "settings", "user",
)  # fmt: skip
# Actions whose name the hub builds at run time (f-strings), spelled out.
BUILT_ACTIONS = {
    "role.grant", "role.change", "role.revoke", "purge.raw_results", "purge.analysis_results",
    "purge.public_disclosures", "export.case", "export.request", "logout",
}  # fmt: skip


def recorded_actions() -> set[str]:
    """Every action name the hub's source spells out, plus those it builds."""
    import re
    from pathlib import Path

    import epitrace.hub
    from epitrace.hub.policy import RULES

    families = "|".join(ACTION_FAMILIES)
    pattern = re.compile(rf'"((?:{families})\.[a-z_]+(?:\.[a-z_]+)*)"')
    found = set(RULES) | BUILT_ACTIONS
    for path in Path(epitrace.hub.__file__).parent.rglob("*.py"):
        if "migrations" not in path.parts:
            found |= set(pattern.findall(path.read_text()))
    return found


def test_issue_19_fhir_export_of_every_action_is_valid_r4() -> None:
    from fhir.resources.R4B.auditevent import AuditEvent
    from fhir.resources.R4B.bundle import Bundle

    actions = sorted(recorded_actions())
    assert {"purge.run", "case.view", "agent.hello", "role.approve"} <= set(actions)
    shapes = [
        {"object_type": "case", "object_id": "C00001", "detail": {"allowed": True, "ip": "::1"}},
        # purge.run's shape (issue #19): an object type without an id.
        {"object_type": "retention", "detail": {"destroyed": 0}},
        {"detail": {"allowed": False, "status": 403, "purpose": "contact tracing"}},
        {"role": "agent", "object_type": "agency", "object_id": "carrier-a"},
    ]
    for action in actions:
        for shape in shapes:
            record("" if "failed" in action else "bob", action, **shape)
    entries = list(AuditEntry.objects.order_by("seq"))
    for entry in entries:
        AuditEvent.model_validate(exports.audit_event(entry))  # raises on any violation
    bundle = exports.to_fhir_bundle(entries)
    Bundle.model_validate(bundle)
    purge_run = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["subtype"][0]["code"] == "purge.run"
        and e["resource"]["entity"][0]["type"]["code"] == "retention"
    )
    assert "what" not in purge_run["entity"][0]  # no empty identifier
    assert purge_run["entity"][0]["type"]["code"] == "retention"
