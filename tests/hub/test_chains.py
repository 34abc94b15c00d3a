"""Links between cases in the hub: proposed by the job when analyses are stored, kept
when decided, decided with a reason, audited, and gone with their cases."""

from __future__ import annotations

from typing import Any

import pytest
from chain_cases import RESTAURANT, plant_chain

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.notes import shown_detail
from epitrace.hub.chains.decisions import LinkError, add_link, decide_link
from epitrace.hub.chains.models import LinkOrigin, LinkRefresh, LinkStatus, ProposedLink
from epitrace.hub.chains.refresh import open_evidence, queue_refresh
from epitrace.hub.exchange.jobs import run_pending
from epitrace.hub.exchange.models import JobStatus
from epitrace.hub.reasons import NotAReason

pytestmark = pytest.mark.django_db(transaction=True)
REASON = "역학조사 면담에서 확인"


@pytest.fixture
def investigator(make_account: Any) -> Any:
    """An account of ``role``, signed in with both factors."""

    def make(role: Role, username: str | None = None) -> Any:
        user = make_account(role, username)
        user.is_verified = lambda: True
        return user

    return make


@pytest.fixture
def chain(places: dict[str, Any]) -> dict[str, Any]:
    cases = plant_chain(places)
    run_pending()
    return cases


def test_storing_analyses_queues_one_refresh_that_proposes_the_link(
    places: dict[str, Any],
) -> None:
    cases = plant_chain(places)
    assert LinkRefresh.objects.filter(status=JobStatus.QUEUED).count() == 1  # coalesced
    run_pending()
    link = ProposedLink.objects.get()
    assert (link.source, link.target) == (cases["a"], cases["b"])
    assert link.status == LinkStatus.PROPOSED and link.origin == LinkOrigin.PROPOSED
    assert 0 < link.score <= 1
    evidence = open_evidence(link)
    assert evidence["place_name"] == RESTAURANT
    assert 3 <= evidence["incubation_days"] <= 6
    assert RESTAURANT.encode() not in bytes(link.evidence_enc)  # sealed, not in clear


def test_a_decided_pair_is_kept_and_not_proposed_again(
    chain: dict[str, Any], investigator: Any
) -> None:
    user = investigator(Role.NATIONAL_INVESTIGATOR)
    link = decide_link(user, ProposedLink.objects.get(), confirm=False, reason=REASON)
    queue_refresh()
    run_pending()
    assert list(ProposedLink.objects.values_list("status", flat=True)) == [LinkStatus.REJECTED]
    with pytest.raises(LinkError):
        decide_link(user, link, confirm=True, reason=REASON)


def test_a_decision_needs_a_reason_and_seals_it(chain: dict[str, Any], investigator: Any) -> None:
    user = investigator(Role.NATIONAL_INVESTIGATOR)
    link = ProposedLink.objects.get()
    with pytest.raises(NotAReason):
        decide_link(user, link, confirm=True, reason="ok")
    decided = decide_link(user, link, confirm=True, reason=REASON)
    assert decided.status == LinkStatus.CONFIRMED and decided.decided_by == user.username
    entry = AuditEntry.objects.get(action="link.confirm")
    assert REASON not in str(entry.detail)  # only a reference to the sealed text
    assert shown_detail(entry.detail)["reason"] == REASON
    assert entry.object_id == f"{chain['a'].case_id}->{chain['b'].case_id}"


def test_a_link_added_by_hand_is_confirmed_with_its_reason(
    chain: dict[str, Any], investigator: Any
) -> None:
    user = investigator(Role.NATIONAL_INVESTIGATOR)
    link = add_link(user, chain["b"], chain["c"], reason=REASON)
    assert link.status == LinkStatus.CONFIRMED and link.origin == LinkOrigin.HAND
    assert open_evidence(link) == {"via": "entered by hand"}
    with pytest.raises(LinkError):
        add_link(user, chain["b"], chain["c"], reason=REASON)
    with pytest.raises(LinkError):
        add_link(user, chain["b"], chain["b"], reason=REASON)


def test_a_regional_investigator_decides_only_links_within_the_jurisdiction(
    chain: dict[str, Any], investigator: Any
) -> None:
    seoul = investigator(Role.REGIONAL_INVESTIGATOR, "seoul")
    decide_link(seoul, ProposedLink.objects.get(), confirm=True, reason=REASON)
    with pytest.raises(PermissionError):  # C is Busan's
        add_link(seoul, chain["b"], chain["c"], reason=REASON)
    police = investigator(Role.POLICE_APPROVER)
    with pytest.raises(PermissionError):
        add_link(police, chain["a"], chain["b"], reason=REASON)


def test_links_go_with_either_case(chain: dict[str, Any], investigator: Any) -> None:
    user = investigator(Role.NATIONAL_INVESTIGATOR)
    add_link(user, chain["b"], chain["c"], reason=REASON)
    chain["c"].delete()
    assert list(ProposedLink.objects.values_list("target", flat=True)) == [chain["b"].pk]
    chain["a"].delete()
    assert not ProposedLink.objects.exists()
