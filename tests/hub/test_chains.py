"""Links between cases in the hub: proposed by the job when analyses are stored, kept
when decided, decided with a reason, audited, and gone with their cases."""

from __future__ import annotations

import json
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


def test_a_regional_investigator_sees_and_decides_only_within_the_jurisdiction(
    chain: dict[str, Any], make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    added = national.post(
        "/api/links",
        json.dumps({"source": chain["b"].case_id, "target": chain["c"].case_id, "reason": REASON}),
        content_type="application/json",
    )
    assert added.status_code == 201 and added.json()["origin"] == "hand"
    seoul = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "seoul"))
    shown = seoul.get("/api/links").json()["links"]
    assert [(x["source"], x["target"]) for x in shown] == [(chain["a"].case_id, chain["b"].case_id)]
    assert shown[0]["evidence"]["place_name"] == RESTAURANT
    far = added.json()["id"]
    assert seoul.get(f"/api/links/{far}").status_code == 404  # C is Busan's
    assert seoul.get(f"/api/links/{far}").content == seoul.get("/api/links/99999").content
    assert (
        seoul.post(f"/api/links/{far}/reject", body(REASON), "application/json").status_code == 404
    )
    near = shown[0]["id"]
    assert (
        seoul.post(f"/api/links/{near}/confirm", body("ok"), "application/json").status_code == 400
    )
    confirmed = seoul.post(f"/api/links/{near}/confirm", body(REASON), "application/json")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    again = seoul.post(f"/api/links/{near}/reject", body(REASON), "application/json")
    assert again.status_code == 409
    views = AuditEntry.objects.filter(action="link.view", actor="seoul")
    assert views.filter(object_id=f"{chain['a'].case_id}->{chain['b'].case_id}").count() == 1
    assert views.filter(detail__status=404).count() == 3  # refusals are recorded too


def body(reason: str) -> str:
    return json.dumps({"reason": reason})


def test_links_go_with_either_case(chain: dict[str, Any], investigator: Any) -> None:
    user = investigator(Role.NATIONAL_INVESTIGATOR)
    add_link(user, chain["b"], chain["c"], reason=REASON)
    chain["c"].delete()
    assert list(ProposedLink.objects.values_list("target", flat=True)) == [chain["b"].pk]
    chain["a"].delete()
    assert not ProposedLink.objects.exists()
