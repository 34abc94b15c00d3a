"""The request pages: an investigator asks, the police approver decides from the queue,
the provider operator sees its agency's requests, the requester's status updates live."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.models import AgencyTask, DataRequest, Notification, Status

pytestmark = pytest.mark.django_db
JUSTIFICATION = "confirmed case: trace the infectious period"


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


def make_case(region: Any) -> Any:
    dates = CaseDates(
        specimen_date=dt.date(2026, 11, 4),
        confirmation_date=dt.date(2026, 11, 5),
        isolation_date=dt.date(2026, 11, 5),
        onset_date=dt.date(2026, 11, 3),
    )
    ids = Identifiers(
        name="Hong Gildong",
        birth_date=dt.date(1980, 1, 2),
        national_id="800102-1234567",
        address="1 Sejong-daero",
        person_ref="P000001",
        phones=["010-1234-5678"],
    )
    return register_case(region, dates, ids, by="test")


def ask(client: Client, case: Any, kinds: list[str]) -> DataRequest:
    """A request sent through the form, in the guideline's window."""
    sent = client.post(
        f"/cases/{case.case_id}/request", {"kinds": kinds, "justification": JUSTIFICATION}
    )
    assert sent.status_code == 302, sent.content
    return DataRequest.objects.get(request_id=sent["Location"].rsplit("/", 1)[-1])


@pytest.fixture
def people(make_account: Callable[..., Any]) -> dict[str, Any]:
    return {
        "investigator": make_account(Role.REGIONAL_INVESTIGATOR, "inv"),
        "police": make_account(Role.POLICE_APPROVER, "cop"),
        "operator": make_account(Role.PROVIDER_OPERATOR, "op"),
        "auditor": make_account(Role.AUDITOR, "aud"),
    }


def test_the_form_defaults_to_the_guideline_window(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    page = signed_in(people["investigator"]).get(f"/cases/{case.case_id}/request")
    assert page.status_code == 200
    text = page.content.decode()
    # Onset 11-03 minus 2 days .. isolation 11-05.
    assert 'name="first" type="date" value="2026-11-01"' in text
    assert 'name="last" type="date" value="2026-11-05"' in text
    for kind in ("telecom", "cards", "transit", "checkins", "contacts"):
        assert f'value="{kind}"' in text


def test_request_approve_and_see_the_status(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    investigator, police = signed_in(people["investigator"]), signed_in(people["police"])
    sent = investigator.post(
        f"/cases/{case.case_id}/request",
        {
            "kinds": ["telecom", "cards"],
            "first": "2026-11-01",
            "last": "2026-11-05",
            "justification": JUSTIFICATION,
        },
    )
    assert sent.status_code == 302
    request_id = sent["Location"].rsplit("/", 1)[-1]
    request = DataRequest.objects.get(request_id=request_id)
    assert request.status == Status.AWAITING_APPROVAL and request.kinds == ["cards", "telecom"]
    # The requester's page polls a small status fragment.
    page = investigator.get(f"/requests/{request_id}").content.decode()
    assert f'hx-get="/requests/{request_id}/status"' in page and "htmx.min.js" in page
    # The requester may not decide on their own request.
    assert 'action="/requests/' + request_id + '/decision"' not in page
    # The police approver's queue lists it first, and the decision approves it.
    queue = police.get("/requests").content.decode()
    assert request_id in queue and "Approval queue" in queue
    assert (
        police.post(f"/requests/{request_id}/decision", {"decision": "approve"}).status_code == 302
    )
    request.refresh_from_db()
    assert request.status == Status.IN_PROGRESS and request.decided_by == "cop"
    assert AuditEntry.objects.filter(action="request.approve", object_id=request_id).exists()
    fragment = investigator.get(f"/requests/{request_id}/status").content.decode()
    assert 'data-status="in progress"' in fragment
    # The requester was notified, and the notification page shows it.
    assert Notification.objects.filter(username="inv").exists()
    notes = investigator.get("/notifications").content.decode()
    assert f"/requests/{request_id}" in notes


def test_a_refusal_needs_a_reason_and_stops_the_polling(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    request = ask(signed_in(people["investigator"]), case, ["telecom"])
    police = signed_in(people["police"])
    url = f"/requests/{request.request_id}/decision"
    without = police.post(url, {"decision": "refuse", "reason": ""})
    assert without.status_code == 400 and b"reason" in without.content
    assert (
        police.post(url, {"decision": "refuse", "reason": "not proportionate"}).status_code == 302
    )
    fragment = signed_in(people["investigator"]).get(f"/requests/{request.request_id}/status")
    text = fragment.content.decode()
    assert 'data-status="refused"' in text and "hx-get" not in text  # settled: polling stops


def test_a_wider_window_needs_a_reason(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(people["investigator"])
    form = {
        "kinds": ["cards"],
        "first": "2026-10-25",
        "last": "2026-11-05",
        "justification": JUSTIFICATION,
    }
    refused = client.post(f"/cases/{case.case_id}/request", form)
    assert refused.status_code == 400 and b"widen_reason" in refused.content
    widened = client.post(
        f"/cases/{case.case_id}/request", {**form, "widen_reason": "exposure a week earlier"}
    )
    assert widened.status_code == 302


def test_the_operator_sees_only_its_agencys_requests(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    asked = ask(signed_in(people["investigator"]), case, ["telecom"])
    other = ask(signed_in(people["investigator"]), case, ["cards"])
    AgencyTask.objects.create(
        request=asked,
        agency=places["carrier"],
        round=1,
        status="ready",
        deadline=asked.deadline,
    )
    AgencyTask.objects.create(
        request=other, agency=places["cards"], round=1, status="ready", deadline=other.deadline
    )
    operator = signed_in(people["operator"])
    listing = operator.get("/requests").content.decode()
    assert asked.request_id in listing and other.request_id not in listing
    assert operator.get(f"/requests/{other.request_id}").status_code == 404
    detail = operator.get(f"/requests/{asked.request_id}").content.decode()
    assert "Carrier A" in detail and "Card company B" not in detail
    # Never a link to the case's results, and no decision form.
    assert f'href="/cases/{case.case_id}"' not in detail and "/decision" not in detail


@pytest.mark.parametrize("page", ["/requests", "/notifications"])
def test_pages_refuse_roles_without_requests(
    page: str, people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    answer = signed_in(people["auditor"]).get(page)
    assert answer.status_code == (403 if page == "/requests" else 200)


def test_the_status_fragment_is_not_audited_per_poll(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    request = ask(signed_in(people["investigator"]), case, ["cards"])
    client = signed_in(people["investigator"])
    before = AuditEntry.objects.count()
    for _ in range(3):
        assert client.get(f"/requests/{request.request_id}/status").status_code == 200
    assert AuditEntry.objects.count() == before
    assert signed_in(people["police"]).get("/requests/R99999/status").status_code == 404
    assert re.search(r"\d", request.request_id)


def test_the_case_list_shows_the_request_status_and_deadline(
    places: dict[str, Any], people: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(people["investigator"])
    first = ask(client, case, ["cards"])
    second = ask(client, case, ["telecom"])
    row = re.search(
        rf"<tr>\s*<th scope=\"row\"><a href=\"/cases/{case.case_id}\">.*?</tr>",
        client.get("/cases").content.decode(),
        re.S,
    ).group(0)
    # The newest request's status; two requests; the nearest open deadline (the first's).
    assert "awaiting approval" in row and "(2)" in row
    assert first.deadline <= second.deadline
    local = timezone.localtime(first.deadline, ZoneInfo("Asia/Seoul"))
    assert local.strftime("%Y-%m-%d %H:%M") in row
