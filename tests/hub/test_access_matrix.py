"""Every role × every endpoint: allowed (200/201), never for this role (403), or outside
the jurisdiction (404, the same answer as for an object that does not exist)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from epitrace.hub.accounts.models import Role

pytestmark = pytest.mark.django_db

NEW_USER = {"username": "newcomer", "role": "auditor", "reason": "joins the audit team"}
# The test accounts' password (tests/hub/conftest.py), changed by its owner.
NEW_PASSWORD = {"current": "violet-harbour-lantern-47", "new": "quiet-meadow-compass-81"}
LINK_REASON = "면담에서 같은 식당 방문 확인"
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "whoami": ("get", "/api/whoami", None),
    "regions": ("get", "/api/regions", None),
    "own region": ("get", "/api/regions/11140", None),
    "other region": ("get", "/api/regions/26110", None),
    "missing region": ("get", "/api/regions/atlantis", None),
    "audit log": ("get", "/api/audit/entries", None),
    "users": ("get", "/api/users", None),
    "create user": ("post", "/api/users", NEW_USER),
    "change role": (
        "post",
        "/api/users/target/role",
        {"role": "regional_investigator", "region": "26110", "reason": "moved to Busan"},
    ),
    "revoke role": ("post", "/api/users/target/revoke", {"reason": "left the service"}),
    "unlock": ("post", "/api/users/target/unlock", None),
    "role history": ("get", "/api/users/target/role-history", None),
    "reset password": ("post", "/api/users/target/password-reset", None),
    "reset second factor": ("post", "/api/users/target/second-factor-reset", None),
    "role grants": ("get", "/api/role-grants", None),
    "approve grant": ("post", "/api/role-grants/{grant}/approve", None),
    "refuse grant": ("post", "/api/role-grants/{grant}/refuse", {"reason": "not needed"}),
    "own password": ("post", "/api/account/password", NEW_PASSWORD),
    # The agent's endpoint takes its bearer token only: a signed-in session is no agent.
    "agent hello": ("post", "/api/agent/hello", {"agency": "carrier-a", "store": {}}),
    # Links between cases (chains): "own" joins two Seoul cases, "other" a Busan one.
    "links": ("get", "/api/links", None),
    "own link": ("get", "/api/links/{own_link}", None),
    "other link": ("get", "/api/links/{other_link}", None),
    "confirm link": ("post", "/api/links/{own_link}/confirm", {"reason": LINK_REASON}),
    "reject other link": ("post", "/api/links/{other_link}/reject", {"reason": LINK_REASON}),
    "add link": ("post", "/api/links", {"source": "{a}", "target": "{c}", "reason": LINK_REASON}),
}
ADMIN_ONLY = {
    "users": 200,
    "create user": 201,
    "change role": 202,  # a role that sees personal data: asked, awaiting a second admin
    "revoke role": 200,
    "unlock": 200,
    "reset password": 200,
    "reset second factor": 200,
    "role grants": 200,
    "approve grant": 200,
    "refuse grant": 200,
}
EVERYONE = {"own password": 200, "agent hello": 401}
NONE_OF_ADMIN = dict.fromkeys(ADMIN_ONLY, 403)
NO_REGION = {"regions": 403, "own region": 403, "other region": 403, "missing region": 403}
LINKS = ("links", "own link", "other link", "confirm link", "reject other link", "add link")
NO_LINKS = dict.fromkeys(LINKS, 403)
ALL_LINKS = {"links": 200, "own link": 200, "other link": 200, "confirm link": 200}
ALL_LINKS |= {"reject other link": 200, "add link": 201}
# Links whose cases are not all in the jurisdiction are answered as missing ones.
OWN_LINKS = {**ALL_LINKS, "other link": 404, "reject other link": 404, "add link": 404}
EXPECTED: dict[str, dict[str, int]] = {
    Role.NATIONAL_INVESTIGATOR: {
        **EVERYONE,
        "whoami": 200, "regions": 200, "own region": 200, "other region": 200,
        "missing region": 404, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
        **ALL_LINKS,
    },
    Role.REGIONAL_INVESTIGATOR: {
        **EVERYONE,
        "whoami": 200, "regions": 200, "own region": 200, "other region": 404,
        "missing region": 404, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
        **OWN_LINKS,
    },
    Role.POLICE_APPROVER: {
        **EVERYONE,
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
        **NO_LINKS,
    },
    Role.PROVIDER_OPERATOR: {
        **EVERYONE,
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
        **NO_LINKS,
    },
    Role.AUDITOR: {
        **EVERYONE,
        "whoami": 200, **NO_REGION, "audit log": 200, **NONE_OF_ADMIN, "role history": 200,
        **NO_LINKS,
    },
    Role.ADMINISTRATOR: {
        **EVERYONE,
        "whoami": 200, **NO_REGION, "audit log": 403, **ADMIN_ONLY, "role history": 200,
        **NO_LINKS,
    },
    "no role": {
        **EVERYONE,
        "whoami": 200, **NO_REGION, "audit log": 403, **NONE_OF_ADMIN, "role history": 403,
        **NO_LINKS,
    },
}  # fmt: skip
ROLES = [*Role, "no role"]


def test_the_matrix_covers_every_role_and_endpoint() -> None:
    assert set(EXPECTED) == {str(r) for r in ROLES}
    assert all(set(row) == set(ENDPOINTS) for row in EXPECTED.values())


def call(client: Any, endpoint: str, grant: Any = None, links: dict[str, Any] | None = None) -> Any:
    method, url, body = ENDPOINTS[endpoint]
    names = {"grant": grant.pk if grant is not None else 0, **(links or {})}
    url = url.format_map(names)
    if method == "get":
        return client.get(url)
    text = {k: v.format_map(names) for k, v in (body or {}).items() if isinstance(v, str)}
    return client.post(url, json.dumps({**(body or {}), **text}), content_type="application/json")


@pytest.fixture
def target(make_account: Any) -> Any:
    return make_account(Role.NATIONAL_INVESTIGATOR, username="target")


@pytest.fixture
def grant(target: Any) -> Any:
    """A grant another administrator ("asker") asked for, awaiting a second one."""
    from epitrace.hub.accounts.roles import request_role

    return request_role(target, Role.POLICE_APPROVER, by="asker", reason="moves to the police")


@pytest.fixture
def links(places: dict[str, Any]) -> dict[str, Any]:
    """Two proposed links: between two Seoul 중구 cases, and to a Busan case."""
    from chain_cases import dates, person

    from epitrace.hub.cases.records import register_case
    from epitrace.hub.chains.models import LinkOrigin, ProposedLink
    from epitrace.hub.chains.refresh import seal_evidence

    def case(region: str, ref: str) -> Any:
        return register_case(places[region], dates(dt.date(2026, 11, 3)), person(ref), by="t")

    a, b, c = case("seoul", "PA"), case("seoul", "PB"), case("busan", "PC")

    def link(source: Any, target: Any) -> int:
        evidence = seal_evidence(target, {"place_name": "한빛식당"})
        made = ProposedLink.objects.create(
            source=source, target=target, origin=LinkOrigin.PROPOSED, score=0.8,
            evidence_enc=evidence,
        )  # fmt: skip
        return made.pk

    own, other = link(a, b), link(b, c)
    return {"own_link": own, "other_link": other, "a": a.case_id, "c": c.case_id}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_role_endpoint(
    role: Any,
    endpoint: str,
    make_account: Any,
    signed_in: Any,
    target: Any,
    grant: Any,
    links: dict[str, Any],
) -> None:
    user = make_account(None if role == "no role" else role, username="actor")
    response = call(signed_in(user), endpoint, grant, links)
    assert response.status_code == EXPECTED[str(role)][endpoint], response.content
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_nobody_signed_in_gets_401(
    endpoint: str, target: Any, grant: Any, links: dict[str, Any]
) -> None:
    from django.test import Client

    assert call(Client(), endpoint, grant, links).status_code == 401


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_password_without_second_factor_gets_401(
    endpoint: str, make_account: Any, signed_in: Any, target: Any, grant: Any, links: Any
) -> None:
    admin = make_account(Role.ADMINISTRATOR, username="actor")
    response = call(signed_in(admin, second_factor=False), endpoint, grant, links)
    assert response.status_code == 401
    if endpoint != "agent hello":  # answered for want of an agent's token
        assert response.json() == {"error": "second factor required"}


def test_out_of_jurisdiction_and_missing_look_the_same(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    other, missing = client.get("/api/regions/26110"), client.get("/api/regions/atlantis")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content


def test_lists_hold_only_the_jurisdiction(make_account: Any, signed_in: Any) -> None:
    regional = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, username="r"))
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="n"))
    assert [r["code"] for r in regional.get("/api/regions").json()["regions"]] == ["11140"]
    every = [r["code"] for r in national.get("/api/regions").json()["regions"]]
    assert {"11", "11110", "11140", "26110"} <= set(every) and every == sorted(every)


def test_a_region_is_named_in_korean_with_its_sido(make_account: Any, signed_in: Any) -> None:
    regional = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, username="r"))
    region = regional.get("/api/regions/11140").json()
    assert region["name"] == "서울특별시 중구" and region["level"] == "sigungu"
    assert region["sido"] == "11" and region["name_en"] == "Jung-gu, Seoul"


def test_a_sido_investigator_lists_the_sido_and_its_sigungu(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    sido = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "s", region=places["seoul_city"]))
    codes = [r["code"] for r in sido.get("/api/regions").json()["regions"]]
    assert {"11", "11110", "11140"} <= set(codes) and all(c[:2] == "11" for c in codes)
    assert sido.get("/api/regions/11110").status_code == 200
    other, missing = sido.get("/api/regions/26110"), sido.get("/api/regions/atlantis")
    assert other.status_code == missing.status_code == 404 and other.content == missing.content


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
    assert target_client.get("/api/regions/11140").status_code == 200
    asked = call(admin, "change role").json()["grant"]  # a regional investigator in Busan...
    assert target_client.get("/api/regions/11140").status_code == 200
    second = signed_in(make_account(Role.ADMINISTRATOR, username="second-admin"))
    assert second.post(f"/api/role-grants/{asked['id']}/approve").status_code == 200
    assert target_client.get("/api/regions/11140").status_code == 404  # ... once approved
    assert target_client.get("/api/regions/26110").status_code == 200
    call(admin, "revoke role")
    assert target_client.get("/api/regions/26110").status_code == 403
    created = call(admin, "create user").json()
    assert created["role"] == "auditor"
    newcomer = get_user_model().objects.get(username="newcomer")
    assert newcomer.check_password(created["one_time_password"])  # shown once, to change


# The administrator's pages (accounts/views.py) answer to the same rule as the API
# (``user.manage``): the page or its step for an administrator, the refusal page (403)
# for every other role, the sign-in (or the second factor) for the others.
PAGES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "users page": ("get", "/users", None),
    "add account": ("post", "/users", {"username": "newcomer", "role": "auditor", "reason": "r1"}),
    "account page": ("get", "/users/target", None),
    "change role page": (
        "post",
        "/users/target/role",
        {"role": "regional_investigator", "region": "26110", "reason": "moved to Busan"},
    ),
    "revoke page": ("post", "/users/target/revoke", {"reason": "left the service"}),
    "unlock page": ("post", "/users/target/unlock", None),
    "reset password page": ("post", "/users/target/password-reset", None),
    "reset second factor page": ("post", "/users/target/second-factor-reset", None),
    "approve grant page": ("post", "/role-grants/{grant}/approve", None),
    "refuse grant page": ("post", "/role-grants/{grant}/refuse", {"reason": "not needed"}),
}
# An administrator: a page (200: the one-time password pages too), or a step done and
# back to the page (302).
ADMIN_PAGES = {
    "users page": 200,
    "add account": 200,
    "account page": 200,
    "change role page": 302,
    "revoke page": 302,
    "unlock page": 302,
    "reset password page": 200,
    "reset second factor page": 302,
    "approve grant page": 302,
    "refuse grant page": 302,
}


def open_page(client: Any, name: str, grant: Any) -> Any:
    method, url, body = PAGES[name]
    url = url.format(grant=grant.pk)
    return client.get(url) if method == "get" else client.post(url, body or {})


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_role_page(
    role: Any, name: str, make_account: Any, signed_in: Any, target: Any, grant: Any
) -> None:
    user = make_account(None if role == "no role" else role, username="actor")
    response = open_page(signed_in(user), name, grant)
    expected = ADMIN_PAGES[name] if role == Role.ADMINISTRATOR else 403
    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("text/html") or expected == 302


@pytest.mark.parametrize("name", list(PAGES))
def test_the_pages_send_to_sign_in_first(
    name: str, make_account: Any, signed_in: Any, target: Any, grant: Any
) -> None:
    from django.test import Client

    assert open_page(Client(), name, grant)["Location"] == "/login"
    admin = make_account(Role.ADMINISTRATOR, username="actor")
    half_way = open_page(signed_in(admin, second_factor=False), name, grant)
    assert half_way["Location"] == "/verify"
