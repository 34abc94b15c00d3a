"""One rule for every written purpose, justification and reason (epitrace.hub.reasons),
used by every form and API that takes one; a look-up by identifier needs a purpose and
its audit entry names the cases found."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from epitrace.hub import reasons
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.notes import shown_detail
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "meaningful"),
    [
        ("tracing", True),
        ("역학조사", True),
        ("confirmed case: trace the infectious period", True),
        (".", False),
        ("", False),
        ("x", False),
        ("확인", False),
        ("aaaaaaaa", False),
        ("12345678", False),
        ("!!! ... ???", False),
    ],
)
def test_the_rule(text: str, meaningful: bool) -> None:
    assert reasons.is_meaningful(text) is meaningful


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_finding_10_lookups_need_a_purpose_and_name_the_cases_found(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    """Issue #17, finding 10 (and the '.' justification of finding 14)."""
    ids = Identifiers("Han Jiwoo", dt.date(1985, 1, 2), "850102-1", "addr", "REF-7", ["0107770000"])
    day = dt.date(2026, 3, 2)
    case = register_case(places["seoul"], CaseDates(day, day, day, day), ids, by="setup")
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    auditor = signed_in(make_account(Role.AUDITOR, username="aud"))
    admin = signed_in(make_account(Role.ADMINISTRATOR, username="adm"))

    for purpose in (None, "", ".", "x"):
        body = {"phone": "010-777-0000", **({"purpose": purpose} if purpose is not None else {})}
        refused = _post(national, "/api/cases/search", body)
        assert refused.status_code == 400, purpose
        assert "purpose must say why" in refused.json()["error"]
    assert not AuditEntry.objects.filter(action="case.searched").exists()
    # A search by region or dates looks nobody up: no purpose needed.
    assert _post(national, "/api/cases/search", {"region": "11140"}).status_code == 200

    found = _post(national, "/api/cases/search", {"phone": "01077700 00", "purpose": "역학조사"})
    assert [c["case_id"] for c in found.json()["cases"]] == [case.case_id]
    searched = AuditEntry.objects.filter(action="case.searched").last()
    assert searched.detail["cases"] == [case.case_id] and searched.detail["matches"] == 1
    assert shown_detail(searched.detail)["purpose"] == "역학조사"

    url = f"/api/cases/{case.case_id}"
    refusals = {
        "case detail": national.get(url, {"purpose": "."}),
        "analysis": national.get(f"{url}/analysis", {"purpose": "."}),
        "request": _post(national, f"{url}/requests", {"kinds": ["cards"], "justification": "."}),
        "export": national.post(f"/cases/{case.case_id}/exports/stays.csv", {"reason": "."}),
        "audit export": auditor.post("/audit/export.csv", {"reason": "."}),
        "retention": _post(admin, "/api/retention", {"identifiers_days": "60", "reason": "."}),
    }
    assert {name: r.status_code for name, r in refusals.items()} == dict.fromkeys(refusals, 400)
    assert not AuditEntry.objects.filter(action__in=["audit.export", "retention.change"]).exists()
