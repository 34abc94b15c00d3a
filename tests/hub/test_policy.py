"""The policy module on its own: actions beyond the endpoints that exist today (cases,
requests, results), jurisdiction by region and by agency, and the audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from epitrace.hub import policy
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.notes import NOT_KEPT

pytestmark = pytest.mark.django_db


@dataclass
class Thing:
    """Stands in for a case (region_id) or a data request (region_id and agency_id)."""

    region_id: int | None = None
    agency_id: int | None = None


def verified(user: Any) -> Any:
    user.is_verified = lambda: True
    return user


@pytest.fixture
def accounts(make_account: Any, places: dict[str, Any]) -> dict[Role, Any]:
    return {role: verified(make_account(role)) for role in Role}


def status(user: Any, action: str, obj: Any = None) -> int:
    return policy.decide(user, action, obj).status


def test_cases_in_own_region_only(accounts: dict[Role, Any], places: dict[str, Any]) -> None:
    seoul_case, busan_case = Thing(places["seoul"].pk), Thing(places["busan"].pk)
    for action in ("case.view", "case.create", "result.view"):
        assert status(accounts[Role.NATIONAL_INVESTIGATOR], action, busan_case) == 200
        assert status(accounts[Role.REGIONAL_INVESTIGATOR], action, seoul_case) == 200
        assert status(accounts[Role.REGIONAL_INVESTIGATOR], action, busan_case) == 404
        for role in (
            Role.POLICE_APPROVER,
            Role.PROVIDER_OPERATOR,
            Role.AUDITOR,
            Role.ADMINISTRATOR,
        ):
            assert status(accounts[role], action, seoul_case) == 403


def test_requests_by_agency(accounts: dict[Role, Any], places: dict[str, Any]) -> None:
    own = Thing(places["seoul"].pk, places["carrier"].pk)
    other = Thing(places["seoul"].pk, places["cards"].pk)
    operator = accounts[Role.PROVIDER_OPERATOR]
    assert status(operator, "request.view", own) == 200
    assert status(operator, "request.fulfil", own) == 200
    assert status(operator, "request.view", other) == 404
    assert status(operator, "request.approve", own) == 403
    assert status(operator, "result.view", own) == 403  # never analysis results
    assert status(accounts[Role.POLICE_APPROVER], "request.approve", other) == 200
    assert status(accounts[Role.REGIONAL_INVESTIGATOR], "request.approve", own) == 403


def test_administrator_sees_no_personal_data(accounts: dict[Role, Any]) -> None:
    admin = accounts[Role.ADMINISTRATOR]
    # The dashboard shows an administrator counts only, never a case or a person.
    personal = policy.PERSONAL_DATA_ACTIONS - {"user.manage", "role_history.read", "dashboard.view"}
    assert all(status(admin, action) == 403 for action in personal)


def test_anonymous_gets_401_and_an_unknown_action_is_a_programming_error(
    accounts: dict[Role, Any],
) -> None:
    assert status(AnonymousUser(), "case.view") == 401
    with pytest.raises(KeyError, match=r"case\.eat"):
        policy.decide(accounts[Role.NATIONAL_INVESTIGATOR], "case.eat")


def test_decisions_about_personal_data_are_recorded(
    accounts: dict[Role, Any], places: dict[str, Any]
) -> None:
    before = AuditEntry.objects.count()
    regional = accounts[Role.REGIONAL_INVESTIGATOR]
    policy.decide(regional, "case.view", places["busan"], ip="10.1.2.3", purpose="tracing")
    policy.decide(accounts[Role.AUDITOR], "case.view", places["seoul"])
    policy.decide(regional, "region.view", places["seoul"])  # no personal data: not recorded
    denied, refused = AuditEntry.objects.order_by("seq")[before:]
    assert (denied.actor, denied.action, denied.role) == (
        "regional_investigator",
        "case.view",
        "regional_investigator",
    )
    assert (denied.object_type, denied.object_id) == ("region", str(places["busan"].pk))
    assert denied.detail == {
        "allowed": False,
        "status": 404,
        "ip": "10.1.2.3",
        "purpose": NOT_KEPT,  # free text about no case is not kept (cases/notes.py)
        "reason": "not found",
    }
    assert refused.detail["status"] == 403
    assert AuditEntry.objects.count() == before + 2
    assert verify_chain().ok


def test_visible_narrows_lists(accounts: dict[Role, Any], places: dict[str, Any]) -> None:
    from epitrace.hub.accounts.models import Region

    regions = Region.objects.all()
    assert list(policy.visible(accounts[Role.REGIONAL_INVESTIGATOR], "region.view", regions)) == [
        places["seoul"]
    ]
    assert policy.visible(accounts[Role.NATIONAL_INVESTIGATOR], "region.view", regions).count() == 2
    assert not policy.visible(accounts[Role.AUDITOR], "region.view", regions).exists()
