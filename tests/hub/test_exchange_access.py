"""The role × endpoint matrix, for data requests, decisions and results: allowed, never
for this role (403), or outside the jurisdiction (404, as for a request that does not exist)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from epitrace.hub.accounts.models import Role
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.workflow import create_request

pytestmark = pytest.mark.django_db

# The fixture already asks for telecom data: a second open telecom request is a duplicate.
ASK = {"kinds": ["cards"], "justification": "trace the infectious period"}
APPROVE = {"approve": True}
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "ask own region": ("post", "/api/cases/{seoul}/requests", ASK),
    "ask other region": ("post", "/api/cases/{busan}/requests", ASK),
    "default window": ("get", "/api/cases/{seoul}/window", None),
    "request list": ("get", "/api/requests", None),
    "own-region request": ("get", "/api/requests/{seoul_request}", None),
    "other-region request": ("get", "/api/requests/{busan_request}", None),
    "missing request": ("get", "/api/requests/R99999", None),
    "decide": ("post", "/api/requests/{busan_request}/decision", APPROVE),
    "analysis": ("get", "/api/cases/{seoul}/analysis?purpose=tracing", None),
    "notifications": ("get", "/api/notifications", None),
}
NEVER = {**dict.fromkeys(ENDPOINTS, 403), "notifications": 200}
EXPECTED: dict[str, dict[str, int]] = {
    Role.NATIONAL_INVESTIGATOR: {
        "ask own region": 201, "ask other region": 201, "default window": 200,
        "request list": 200, "own-region request": 200, "other-region request": 200,
        "missing request": 404, "decide": 403, "analysis": 404, "notifications": 200,
    },
    Role.REGIONAL_INVESTIGATOR: {
        "ask own region": 201, "ask other region": 404, "default window": 200,
        "request list": 200, "own-region request": 200, "other-region request": 404,
        "missing request": 404, "decide": 403, "analysis": 404, "notifications": 200,
    },
    Role.POLICE_APPROVER: {
        **NEVER, "request list": 200, "own-region request": 200,
        "other-region request": 200, "missing request": 404, "decide": 200,
    },
    # An agency sees only requests it was asked about (none here: nothing routed yet).
    Role.PROVIDER_OPERATOR: {
        **NEVER, "request list": 200, "own-region request": 404,
        "other-region request": 404, "missing request": 404,
    },
    Role.AUDITOR: NEVER,
    Role.ADMINISTRATOR: NEVER,
    "no role": {**NEVER},
}  # fmt: skip
ROLES = [*Role, "no role"]


@pytest.fixture
def objects(places: dict[str, Any]) -> dict[str, str]:
    requester = get_user_model().objects.create(username="requester")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from epitrace.hub.accounts.roles import assign_role

    TOTPDevice.objects.create(user=requester, name="a", confirmed=True)
    assign_role(requester, Role.NATIONAL_INVESTIGATOR, by="setup", reason="test")
    requester.is_verified = lambda: True  # signed in with both factors
    ids = Identifiers("A Person", dt.date(1980, 1, 1), "800101-1", "addr", "REF-1", ["0101234567"])
    dates = CaseDates(dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    found: dict[str, str] = {}
    for region in ("seoul", "busan"):
        case = register_case(places[region], dates, ids, by="setup")
        found[region] = case.case_id or ""
        asked = create_request(requester, case, ["telecom"], "trace the infectious period")
        found[f"{region}_request"] = asked.request_id or ""
    return found


def call(client: Client, endpoint: str, objects: dict[str, str]) -> Any:
    method, url, body = ENDPOINTS[endpoint]
    url = url.format(**objects)
    if method == "get":
        return client.get(url)
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_the_matrix_covers_every_role_and_endpoint() -> None:
    assert set(EXPECTED) == {str(r) for r in ROLES}
    assert all(set(row) == set(ENDPOINTS) for row in EXPECTED.values())


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_role_endpoint(
    role: Any, endpoint: str, make_account: Any, signed_in: Any, objects: dict[str, str]
) -> None:
    user = make_account(None if role == "no role" else role, username="actor")
    response = call(signed_in(user), endpoint, objects)
    assert response.status_code == EXPECTED[str(role)][endpoint], response.content


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_nobody_signed_in_gets_401(endpoint: str, objects: dict[str, str]) -> None:
    assert call(Client(), endpoint, objects).status_code == 401


def test_an_operator_sees_only_the_requests_its_agency_was_asked(
    make_account: Any, signed_in: Any, objects: dict[str, str], places: dict[str, Any]
) -> None:
    from epitrace.hub.exchange.models import AgencyTask, DataRequest, TaskStatus

    asked = DataRequest.objects.get(request_id=objects["seoul_request"])
    AgencyTask.objects.create(
        request=asked,
        agency=places["carrier"],
        round=1,
        status=TaskStatus.READY,
        deadline=asked.deadline,
    )
    operator = signed_in(make_account(Role.PROVIDER_OPERATOR, username="op"))
    listed = operator.get("/api/requests").json()["requests"]
    assert [r["request_id"] for r in listed] == [objects["seoul_request"]]
    seen = operator.get(f"/api/requests/{objects['seoul_request']}")
    assert seen.status_code == 200
    assert operator.get(f"/api/requests/{objects['busan_request']}").status_code == 404


def test_finding_8_operator_api_lists_only_own_tasks(
    make_account: Any, signed_in: Any, objects: dict[str, str], places: dict[str, Any]
) -> None:
    """Issue #17, finding 8: a request's detail in the API shows an operator only its own
    agency's tasks, as the page does: not which other agencies hold the person's data."""
    from epitrace.hub.exchange.models import AgencyTask, DataRequest, TaskStatus

    asked = DataRequest.objects.get(request_id=objects["seoul_request"])
    for agency, rows in ((places["carrier"], 12), (places["cards"], 3)):
        AgencyTask.objects.create(
            request=asked,
            agency=agency,
            round=1,
            status=TaskStatus.ANSWERED,
            deadline=asked.deadline,
            answer_rows=rows,
        )
    operator = signed_in(make_account(Role.PROVIDER_OPERATOR, username="op"))
    seen = operator.get(f"/api/requests/{objects['seoul_request']}").json()
    assert [(t["agency"], t["rows"]) for t in seen["tasks"]] == [("carrier-a", 12)]
    page = operator.get(f"/requests/{objects['seoul_request']}").content.decode()
    assert "Carrier A" in page and "Card company B" not in page
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    everyone = national.get(f"/api/requests/{objects['seoul_request']}").json()["tasks"]
    assert [t["agency"] for t in everyone] == ["cards-b", "carrier-a"]
