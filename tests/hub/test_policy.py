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
    national = policy.visible(accounts[Role.NATIONAL_INVESTIGATOR], "region.view", regions)
    assert set(national) == set(regions) and national.count() > 4
    assert not policy.visible(accounts[Role.AUDITOR], "region.view", regions).exists()


@pytest.fixture
def sido_investigator(make_account: Any, places: dict[str, Any]) -> Any:
    """A regional investigator whose jurisdiction is the 시도 서울특별시."""
    account = make_account(Role.REGIONAL_INVESTIGATOR, "seoul-city", region=places["seoul_city"])
    return verified(account)


def test_a_sigungu_investigator_holds_only_its_own_sigungu(
    accounts: dict[Role, Any], places: dict[str, Any]
) -> None:
    regional = accounts[Role.REGIONAL_INVESTIGATOR]  # 서울특별시 중구
    for action in ("case.view", "result.view", "request.view", "disclosure.prepare"):
        assert status(regional, action, Thing(places["seoul"].pk)) == 200
        assert status(regional, action, Thing(places["jongno"].pk)) == 404  # the neighbour
        assert status(regional, action, Thing(places["busan"].pk)) == 404  # another 시도
        assert status(regional, action, Thing(places["seoul_city"].pk)) == 404  # its 시도
        assert status(regional, action, Thing(None)) == 404


def test_a_sido_investigator_holds_every_sigungu_of_its_sido(
    sido_investigator: Any, places: dict[str, Any]
) -> None:
    for action in ("case.view", "result.view", "request.view", "disclosure.prepare"):
        for own in ("seoul", "jongno", "seoul_city"):
            assert status(sido_investigator, action, Thing(places[own].pk)) == 200
        assert status(sido_investigator, action, Thing(places["busan"].pk)) == 404
        assert status(sido_investigator, action, Thing(None)) == 404


def test_lists_narrow_to_a_sido_or_a_sigungu(
    accounts: dict[Role, Any], sido_investigator: Any, places: dict[str, Any]
) -> None:
    from epitrace.geography import every_district
    from epitrace.hub.accounts.models import Region
    from epitrace.hub.accounts.regions import district_region

    # The migrations add them; a test that empties the database may have removed them.
    seoul = {district_region(d.code) for d in every_district("sigungu") if d.code[:2] == "11"}
    seoul.add(places["seoul_city"])
    regions = Region.objects.all()
    assert len(seoul) == 26  # 서울특별시 and its 25 gu
    assert set(policy.visible(sido_investigator, "region.view", regions)) == seoul
    sigungu = policy.visible(accounts[Role.REGIONAL_INVESTIGATOR], "region.view", regions)
    assert list(sigungu) == [places["seoul"]]
