"""The role × endpoint matrix, for the case endpoints: allowed (200/201), never for this
role (403), or outside the jurisdiction (404, the same answer as for a missing case)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from epitrace.hub.accounts.models import Role
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case

pytestmark = pytest.mark.django_db

NEW_CASE = {
    "name": "Matrix Person",
    "birth_date": "1970-01-01",
    "phones": ["010-2000-3000"],
    "national_id": "700101-1000000",
    "address": "1 Test-ro, Seoul",
    "person_ref": "REF-MATRIX",
    "region": "11140",
    "specimen_date": "2026-03-01",
    "confirmation_date": "2026-03-02",
    "isolation_date": "2026-03-02",
}
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "case list": ("get", "/api/cases", None),
    "create case": ("post", "/api/cases", NEW_CASE),
    "search cases": ("post", "/api/cases/search", {"region": "11140", "purpose": "tracing"}),
    "own-region case": ("get", "/api/cases/{seoul}?purpose=tracing", None),
    "other-region case": ("get", "/api/cases/{busan}?purpose=tracing", None),
    "missing case": ("get", "/api/cases/C99999?purpose=tracing", None),
}
NEVER = dict.fromkeys(ENDPOINTS, 403)
EXPECTED: dict[str, dict[str, int]] = {
    Role.NATIONAL_INVESTIGATOR: {
        "case list": 200, "create case": 201, "search cases": 200,
        "own-region case": 200, "other-region case": 200, "missing case": 404,
    },
    Role.REGIONAL_INVESTIGATOR: {
        "case list": 200, "create case": 201, "search cases": 200,
        "own-region case": 200, "other-region case": 404, "missing case": 404,
    },
    Role.POLICE_APPROVER: NEVER,
    Role.PROVIDER_OPERATOR: NEVER,
    Role.AUDITOR: NEVER,
    Role.ADMINISTRATOR: NEVER,  # no personal data by default
    "no role": NEVER,
}  # fmt: skip
ROLES = [*Role, "no role"]


@pytest.fixture
def cases(places: dict[str, Any]) -> dict[str, str]:
    ids = Identifiers("A Person", dt.date(1980, 1, 1), "800101-1", "addr", "REF-1", ["0101234567"])
    dates = CaseDates(dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    return {
        region: register_case(places[region], dates, ids, by="setup").case_id
        for region in ("seoul", "busan")
    }


def call(client: Client, endpoint: str, cases: dict[str, str]) -> Any:
    method, url, body = ENDPOINTS[endpoint]
    url = url.format(**cases)
    if method == "get":
        return client.get(url)
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_the_matrix_covers_every_role_and_endpoint() -> None:
    assert set(EXPECTED) == {str(r) for r in ROLES}
    assert all(set(row) == set(ENDPOINTS) for row in EXPECTED.values())


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_role_endpoint(
    role: Any, endpoint: str, make_account: Any, signed_in: Any, cases: dict[str, str]
) -> None:
    user = make_account(None if role == "no role" else role, username="actor")
    response = call(signed_in(user), endpoint, cases)
    assert response.status_code == EXPECTED[str(role)][endpoint], response.content
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_nobody_signed_in_gets_401(endpoint: str, cases: dict[str, str]) -> None:
    assert call(Client(), endpoint, cases).status_code == 401


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_password_without_second_factor_gets_401(
    endpoint: str, make_account: Any, signed_in: Any, cases: dict[str, str]
) -> None:
    user = make_account(Role.NATIONAL_INVESTIGATOR, username="actor")
    response = call(signed_in(user, second_factor=False), endpoint, cases)
    assert response.status_code == 401


def test_out_of_region_and_missing_cases_look_the_same(
    make_account: Any, signed_in: Any, cases: dict[str, str]
) -> None:
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    other = call(client, "other-region case", cases)
    missing = call(client, "missing case", cases)
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert dict(other.headers).keys() == dict(missing.headers).keys()
