"""The police approver's screens (issue #19): the decision page says who asks and under
which provision of law, the outcome says approved or refused, by whom and when; the
queue holds only what needed the police; refusals and notifications in Korean."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from hub_seed import ask, make_case

from epitrace.hub.accounts.models import Role
from epitrace.hub.exchange.models import DataRequest, Notification, Status
from epitrace.hub.exchange.workflow import legal_basis

pytestmark = pytest.mark.django_db
LAW = "감염병의 예방 및 관리에 관한 법률 제76조의2"


@pytest.fixture
def people(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> dict[str, Any]:
    investigator = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "inv"))
    police = signed_in(make_account(Role.POLICE_APPROVER, "cop"))
    for client in (investigator, police):
        client.post("/preferences", {"language": "ko", "time_zone": ""})
    return {"investigator": investigator, "police": police}


def test_the_legal_basis_follows_the_kinds_asked() -> None:
    assert legal_basis(["cards"]) == ["IDCPA-76-2-1"]
    assert legal_basis(["telecom"]) == ["IDCPA-76-2-2"]
    assert legal_basis(["cards", "contacts", "transit"]) == ["IDCPA-76-2-1", "IDCPA-76-2-2"]


def test_the_decision_page_names_the_organisation_and_the_law(
    places: dict[str, Any], people: dict[str, Any]
) -> None:
    case = make_case(places["seoul"])
    request = ask(people["investigator"], case, ["telecom", "cards"])
    assert request.legal_basis == ["IDCPA-76-2-1", "IDCPA-76-2-2"]
    page = people["police"].get(f"/requests/{request.request_id}").content.decode()
    region = case.region.name  # a 시군구 or a 시도: the region's own authority asks
    assert f'id="organisation">{region} (지역 역학조사)<' in page
    assert f"{LAW} 제1항" in page and f"{LAW} 제2항: 경찰관서를 통한 위치정보" in page
    assert "요청 사유" in page and 'name="decision" value="approve"' in page


@pytest.mark.parametrize("approve", [True, False])
def test_after_the_decision_the_page_says_which_by_whom_and_when(
    places: dict[str, Any], people: dict[str, Any], approve: bool
) -> None:
    case = make_case(places["seoul"])
    request = ask(people["investigator"], case, ["telecom"])
    decision = (
        {"decision": "approve"} if approve else {"decision": "refuse", "reason": "비례성 부족"}
    )
    people["police"].post(f"/requests/{request.request_id}/decision", decision)
    request.refresh_from_db()
    when = request.decided_at.astimezone(ZoneInfo("Asia/Seoul"))
    page = people["investigator"].get(f"/requests/{request.request_id}").content.decode()
    verb = "승인했습니다" if approve else "거부했습니다"
    assert f"경찰 승인 담당자 cop이(가) {when:%Y-%m-%d %H:%M}에 {verb}." in page
    assert f'data-decision="{"approved" if approve else "refused"}"' in page
    notification = Notification.objects.get(username="inv")
    notes = people["investigator"].get("/notifications").content.decode()
    outcome = "승인되었습니다" if approve else "거부되었습니다"
    assert f"{case.case_id}에 대한 {request.request_id} 요청이 {outcome}" in notes
    assert notification.params == {"request": request.request_id, "case": case.case_id}
    # The JSON API keeps its English sentence, fields filled.
    listed = people["investigator"].get("/api/notifications").json()["notifications"]
    verdict = "approved" if approve else "refused"
    assert listed[0]["message"] == f"{request.request_id} for {case.case_id} was {verdict}"


def test_the_queue_lists_only_requests_that_needed_the_police(
    places: dict[str, Any], people: dict[str, Any]
) -> None:
    case = make_case(places["seoul"])
    cards = ask(people["investigator"], case, ["cards"])
    telecom = ask(people["investigator"], case, ["telecom"])
    assert not cards.needs_approval and cards.status == Status.IN_PROGRESS
    queue = people["police"].get("/requests").content.decode()
    assert telecom.request_id in queue and cards.request_id not in queue
    assert "기지국" in queue and "telecom" not in queue  # kinds by name, not code
    # The investigator's own list keeps both, and says the cards needed no approval.
    mine = people["investigator"].get("/requests").content.decode()
    assert cards.request_id in mine and telecom.request_id in mine
    page = people["investigator"].get(f"/requests/{cards.request_id}").content.decode()
    assert "경찰 승인이 필요 없는 요청입니다" in page


def test_refusals_of_a_decision_are_korean(places: dict[str, Any], people: dict[str, Any]) -> None:
    case = make_case(places["seoul"])
    request = ask(people["investigator"], case, ["telecom"])
    url = f"/requests/{request.request_id}/decision"
    no_reason = people["police"].post(url, {"decision": "refuse", "reason": ""})
    assert no_reason.status_code == 400
    assert "거부하려면 사유가 필요합니다" in no_reason.content.decode()
    people["police"].post(url, {"decision": "approve"})
    again = people["police"].post(url, {"decision": "refuse", "reason": "비례성 부족"})
    assert again.status_code == 400
    assert f"{request.request_id}은(는) 이미 처리되었습니다 (진행 중)" in again.content.decode()
    assert DataRequest.objects.get(pk=request.pk).status == Status.IN_PROGRESS


def test_the_request_forms_refusals_are_korean(
    places: dict[str, Any], people: dict[str, Any]
) -> None:
    case = make_case(places["seoul"])
    url = f"/cases/{case.case_id}/request"
    none = people["investigator"].post(url, {"kinds": [], "justification": "확진자 동선 확인"})
    assert none.status_code == 400 and "자료 종류를 하나 이상 고르십시오" in none.content.decode()
    wide = people["investigator"].post(
        url,
        {"kinds": ["cards"], "first": "2026-10-20", "last": "2026-11-05",
         "justification": "확진자 동선 확인"},
    )  # fmt: skip
    assert "지침상 기간은 2026-11-01부터 2026-11-05까지입니다" in wide.content.decode()
