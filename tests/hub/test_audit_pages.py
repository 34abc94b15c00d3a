"""The auditor's screens (issue #19): one name for a case in the log, a filter that finds
every entry about it, readable details, the zone of the times said, and the chain's
verification as a button for auditors only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from hub_seed import make_case

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import record, verify_chain
from epitrace.hub.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> Client:
    client = signed_in(make_account(Role.AUDITOR, "alice"))
    client.post("/preferences", {"language": "en", "time_zone": ""})
    return client


def count_shown(page: str) -> int:
    return int(re.search(r'id="entry-count">(\d+) entr', page).group(1))


def test_a_case_is_named_by_its_number_wherever_it_is_recorded(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    investigator.get(f"/cases/{case.case_id}")  # the case page: case.view, result.view
    investigator.get(f"/cases/{case.case_id}/exports")
    about_case = AuditEntry.objects.filter(object_type="case")
    assert about_case.count() >= 2
    assert {e.object_id for e in about_case} == {case.case_id}


def test_the_filter_finds_a_case_by_number_or_id_in_old_and_new_entries(
    places: dict[str, Any], auditor: Client
) -> None:
    case = make_case(places["seoul"])
    other = make_case(places["seoul"], person_ref="P000002")
    # Entries written before cases were named by number carry the row id.
    record("bob", "case.view", object_type="case", object_id=str(case.pk))
    record("bob", "result.view", object_type="case", object_id=case.case_id)
    record("bob", "interview.attach", object_type="case", object_id=case.case_id)
    record("bob", "request.submit", object_type="datarequest", object_id="R00001",
           detail={"case": case.case_id})  # fmt: skip
    record("bob", "case.view", object_type="case", object_id=other.case_id)
    # By number or by id, with or without the kind: the three entries about the case,
    # and the request's that names it in its detail.
    for typed in (case.case_id, f"case:{case.case_id}", case.case_id.lower(), f"case:{case.pk}"):
        page = auditor.get("/audit", {"object": typed}).content.decode()
        assert count_shown(page) == 4, typed
        assert other.case_id not in page, typed
    requests = auditor.get("/audit", {"object": "datarequest"}).content.decode()
    assert count_shown(requests) == 1


def test_details_are_labelled_text_and_times_say_their_zone(auditor: Client) -> None:
    detail = {"allowed": True, "status": 200, "ip": "10.0.0.7"}
    record("bob", "case.view", role="national_investigator", object_type="case",
           object_id="C00001", detail=detail)  # fmt: skip
    page = auditor.get("/audit").content.decode()
    assert "{&#x27;" not in page and "{'" not in page  # no Python dictionary
    assert "<dt>Allowed</dt><dd>yes</dd>" in page and "<dt>IP address</dt><dd>10.0.0.7</dd>" in page
    assert "Time (KST, UTC+09:00)" in page and "Time (UTC)" not in page
    assert "National investigator" in page and "viewing a case&#x27;s personal details" in page
    entry = AuditEntry.objects.get(actor="bob")
    local = entry.at.astimezone(ZoneInfo("Asia/Seoul"))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in page


def test_details_are_korean_on_a_korean_page(auditor: Client) -> None:
    auditor.post("/preferences", {"language": "ko", "time_zone": ""})
    record("bob", "case.view", role="police_approver", object_type="case",
           object_id="C00001", detail={"allowed": False, "status": 403})  # fmt: skip
    page = auditor.get("/audit").content.decode()
    assert "<dt>허용</dt><dd>아니오</dd>" in page and "시각 (KST, UTC+09:00)" in page
    assert "경찰 승인 담당자" in page and "확진자 인적 사항 열람" in page


def test_the_verification_button_checks_the_chain_and_is_recorded(
    auditor: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the anchor follows commits
        record("bob", "case.view", object_type="case", object_id="C00001")
    page = auditor.get("/audit").content.decode()
    assert 'action="/audit/verify"' in page and 'id="verify-chain"' in page
    answer = auditor.post("/audit/verify")
    assert answer.status_code == 200
    shown = answer.content.decode()
    assert 'data-ok="true"' in shown and "The audit log is intact" in shown
    entry = AuditEntry.objects.get(action="audit.verify")
    assert entry.actor == "alice" and entry.role == "auditor"
    assert entry.detail["ok"] is True and entry.detail["entries"] == verify_chain().entries - 1


def test_the_verification_button_warns_of_a_chain_without_anchor(auditor: Client) -> None:
    record("bob", "case.view", object_type="case", object_id="C00001")  # never committed
    shown = auditor.post("/audit/verify").content.decode()
    assert 'data-ok="false"' in shown and "Not anchored" in shown
    assert AuditEntry.objects.get(action="audit.verify").detail["ok"] is False


def test_the_verification_button_names_the_first_broken_entry(auditor: Client) -> None:
    auditor.post("/preferences", {"language": "ko", "time_zone": ""})
    for n in range(3):
        record("bob", "case.view", object_type="case", object_id=f"C0000{n}")
    second = AuditEntry.objects.get(object_id="C00001")
    AuditEntry.objects.filter(pk=second.pk).update(actor="mallory")
    shown = auditor.post("/audit/verify").content.decode()
    assert 'data-ok="false"' in shown
    assert f"감사 기록이 {second.seq}번 항목에서 손상되었습니다: 내용이 변경되었습니다" in shown
    entry = AuditEntry.objects.get(action="audit.verify")
    assert entry.detail["ok"] is False and entry.detail["first_bad"] == second.seq
    assert entry.detail["problem"] == "its content was altered"


def test_the_verification_needs_its_csrf_token(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(Role.AUDITOR, "alice"))
    client.handler.enforce_csrf_checks = True
    assert client.post("/audit/verify").status_code == 403
    assert client.get("/audit/verify").status_code == 405
    assert not AuditEntry.objects.filter(action="audit.verify").exists()


@pytest.mark.parametrize("role", [r for r in Role if r != Role.AUDITOR])
def test_only_auditors_may_verify(
    role: Role, make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(role))
    client.post("/preferences", {"language": "ko", "time_zone": ""})
    answer = client.post("/audit/verify")
    assert answer.status_code == 403
    assert not AuditEntry.objects.filter(action="audit.verify").exists()
    # Said as a sentence, not the policy's code.
    assert "audit.verify" not in answer.content.decode()
    assert "감사 기록 무결성 검증을(를) 할 수 없습니다" in answer.content.decode()


def test_nobody_signed_in_is_sent_to_sign_in(client: Client) -> None:
    assert client.post("/audit/verify")["Location"] == "/login"
