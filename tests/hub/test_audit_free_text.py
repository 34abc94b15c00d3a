"""Free text in the audit log: purposes, justifications and reasons are kept with the case
they concern (sealed under its key), shown to auditors while the case exists, and gone
with the case after the purge, while the chain still verifies. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import CaseNote
from epitrace.hub.cases.notes import DESTROYED, NOT_KEPT
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.retention.purge import run_purge

pytestmark = pytest.mark.django_db

PURPOSE = "calling Kim Minji back on 010-5555-1234 about her sister"
JUSTIFICATION = "Kim Minji named a karaoke room; her phone 010-5555-1234 shows where"


def _stored_details() -> str:
    """Every audit entry's detail as stored, as one text."""
    return json.dumps(
        [e.detail for e in AuditEntry.objects.order_by("seq")], ensure_ascii=False
    ) + "".join(json.dumps(e.detail) for e in AuditEntry.objects.all())


def _shown(auditor: Any, action: str) -> list[dict[str, Any]]:
    entries = auditor.get("/api/audit/entries", {"action": action}).json()["entries"]
    return [e["detail"] for e in entries]


def test_finding_9_free_text_is_kept_with_the_case_and_destroyed_with_it(
    make_account: Any, signed_in: Any, places: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    """Issue #17, finding 9."""
    settings.HOME = tmp_path / "home"
    ids = Identifiers("Kim Minji", dt.date(1990, 5, 5), "900505-2", "addr", "REF-9", ["0105551234"])
    today = timezone.localdate()
    case = register_case(places["seoul"], CaseDates(today, today, today, today), ids, by="setup")
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    auditor = signed_in(make_account(Role.AUDITOR, username="aud"))

    assert investigator.get(f"/api/cases/{case.case_id}", {"purpose": PURPOSE}).status_code == 200
    asked = investigator.post(
        f"/api/cases/{case.case_id}/requests",
        json.dumps({"kinds": ["cards"], "justification": JUSTIFICATION}),
        content_type="application/json",
    )
    assert asked.status_code == 201, asked.content
    # A look-up that finds no case: the purpose concerns no case, and is not kept at all.
    assert investigator.get("/api/cases/C99999", {"purpose": PURPOSE}).status_code == 404

    # Stored: a reference in the entry, the text sealed with the case, never in clear.
    stored = _stored_details()
    assert "Kim Minji" not in stored and "5555-1234" not in stored
    view = AuditEntry.objects.filter(action="case.view", object_id=case.case_id).first()
    assert set(view.detail["purpose"]) == {"note"}
    assert CaseNote.objects.filter(case=case, ref=view.detail["purpose"]["note"]).exists()
    missing = AuditEntry.objects.filter(action="case.view", object_id="").get()
    assert missing.detail["purpose"] == NOT_KEPT

    # The auditor reads the texts while the case exists.
    views = _shown(auditor, "case.view")
    assert {d["purpose"] for d in views} == {PURPOSE, JUSTIFICATION, NOT_KEPT}
    assert {d["purpose"] for d in _shown(auditor, "request.create")} == {JUSTIFICATION}

    report = run_purge(now=timezone.now() + dt.timedelta(days=120))
    assert report.ok and report.destroyed, report.lines()
    assert not CaseNote.objects.exists()
    assert {d["purpose"] for d in _shown(auditor, "case.view")} == {DESTROYED, NOT_KEPT}
    assert {d["purpose"] for d in _shown(auditor, "request.create")} == {DESTROYED}
    assert verify_chain().ok, verify_chain()
