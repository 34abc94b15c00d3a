"""Every role × every endpoint: allowed (200/201), never for this role (403), or outside
the jurisdiction (404, the same answer as for an object that does not exist)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from epitrace.hub.accounts.models import Role

pytestmark = pytest.mark.django_db

NEW_USER = {
    "username": "newcomer",
    "password": "quiet-meadow-compass-81",
    "role": "auditor",
    "reason": "joins the audit team",
}
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "whoami": ("get", "/api/whoami", None),
    "regions": ("get", "/api/regions", None),
    "own region": ("get", "/api/regions/seoul", None),
    "other region": ("get", "/api/regions/busan", None),
    "missing region": ("get", "/api/regions/atlantis", None),
    "audit log": ("get", "/api/audit/entries", None),
    "users": ("get", "/api/users", None),
    "create user": ("post", "/api/users", NEW_USER),
    "change role": (
        "post",
        "/api/users/target/role",
        {"role": "regional_investigator", "region": "busan", "reason": "moved to Busan"},
    ),
    "revoke role": ("post", "/api/users/target/revoke", {"reason": "left the service"}),
    "unlock": ("post", "/api/users/target/unlock", None),
    "role history": ("get", "/api/users/target/role-history", None),
}
ADMIN_ONLY = {
    "users": 200,
    "create user": 201,
    "change role": 200,
    "revoke role": 200,
    "unlock": 200,
}
NONE_OF_ADMIN = dict.fromkeys(ADMIN_ONLY, 403)
NO_REGION = {"regions": 403, "own region": 403, "other region": 403, "missing region": 403}
EXPECTED: dict[str, dict[str, int]] = {
    Role.NATIONAL_INVESTIGATOR: {
        "whoami": 200, "regions": 200, "own region": 200, "other region": 200,
        "missing region": 404, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
    },
    Role.REGIONAL_INVESTIGATOR: {
        "whoami": 200, "regions": 200, "own region": 200, "other region": 404,
        "missing region": 404, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
    },
    Role.POLICE_APPROVER: {
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
    },
    Role.PROVIDER_OPERATOR: {
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
    },
    Role.AUDITOR: {
        "whoami": 200, **NO_REGION, "audit log": 200, **NONE_OF_ADMIN, "role history": 200,
    },
    Role.ADMINISTRATOR: {
        "whoami": 200, **NO_REGION, "audit log": 403, **ADMIN_ONLY, "role history": 200,
    },
    "no role": {
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
    },
}  # fmt: skip
ROLES = [*Role, "no role"]


def test_the_matrix_covers_every_role_and_endpoint() -> None:
    assert set(EXPECTED) == {str(r) for r in ROLES}
    assert all(set(row) == set(ENDPOINTS) for row in EXPECTED.values())


def call(client: Any, endpoint: str) -> Any:
    method, url, body = ENDPOINTS[endpoint]
    if method == "get":
        return client.get(url)
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def target(make_account: Any) -> Any:
    return make_account(Role.NATIONAL_INVESTIGATOR, username="target")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_role_endpoint(
    role: Any, endpoint: str, make_account: Any, signed_in: Any, target: Any
) -> None:
    user = make_account(None if role == "no role" else role, username="actor")
    response = call(signed_in(user), endpoint)
    assert response.status_code == EXPECTED[str(role)][endpoint], response.content
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_nobody_signed_in_gets_401(endpoint: str, target: Any) -> None:
    from django.test import Client

    assert call(Client(), endpoint).status_code == 401


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_password_without_second_factor_gets_401(
    endpoint: str, make_account: Any, signed_in: Any, target: Any
) -> None:
    admin = make_account(Role.ADMINISTRATOR, username="actor")
    response = call(signed_in(admin, second_factor=False), endpoint)
    assert response.status_code == 401
    assert response.json() == {"error": "second factor required"}


def test_out_of_jurisdiction_and_missing_look_the_same(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    other, missing = client.get("/api/regions/busan"), client.get("/api/regions/atlantis")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content


def test_lists_hold_only_the_jurisdiction(make_account: Any, signed_in: Any) -> None:
    regional = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, username="r"))
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="n"))
    assert [r["code"] for r in regional.get("/api/regions").json()["regions"]] == ["seoul"]
    assert [r["code"] for r in national.get("/api/regions").json()["regions"]] == ["busan", "seoul"]


def test_whoami_tells_role_and_binding(make_account: Any, signed_in: Any) -> None:
    operator = make_account(Role.PROVIDER_OPERATOR)
    assert signed_in(operator).get("/api/whoami").json() == {
        "username": "provider_operator",
        "role": "provider_operator",
        "region": None,
        "agency": "carrier-a",
    }


def test_admin_changes_take_effect(make_account: Any, signed_in: Any, target: Any) -> None:
    admin = signed_in(make_account(Role.ADMINISTRATOR))
    target_client = signed_in(target)
    assert target_client.get("/api/regions/seoul").status_code == 200
    call(admin, "change role")  # now a regional investigator in Busan
    assert target_client.get("/api/regions/seoul").status_code == 404
    assert target_client.get("/api/regions/busan").status_code == 200
    call(admin, "revoke role")
    assert target_client.get("/api/regions/busan").status_code == 403
    created = call(admin, "create user").json()
    assert created["role"] == "auditor"
    assert get_user_model().objects.get(username="newcomer").check_password(NEW_USER["password"])
