"""An agent's hello describes its store within what its agency was provisioned for
(issue #17, finding 2): it never changes the agency's kind, name or tables."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.exchange.analysis import store_profiles
from epitrace.hub.exchange.credentials import issue_token
from epitrace.hub.exchange.models import AgencyProfile
from epitrace.hub.exchange.provisioning import provision_agency
from epitrace.hub.exchange.routing import RemoteStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def naver() -> dict[str, Any]:
    agency = provision_agency(
        "entry-naver",
        "Naver (entry-log operator)",
        kind="entry_operator",
        store_agency="Naver",
        by="admin",
    )
    return {"agency": agency, "token": issue_token(agency, by="admin")}


def hello(token: str, store: dict[str, Any], agency: str = "entry-naver") -> Any:
    body = json.dumps({"agency": agency, "store": store})
    return Client().post(
        "/api/agent/hello",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="agent.hello", detail__allowed=False))


def test_finding_2_agent_cannot_change_its_agency_kind(naver: dict[str, Any]) -> None:
    # The probe: the entry-log agent says it is a carrier, holding the subscriber registry.
    claimed = {"agency": "Naver", "kind": "carrier", "tables": ["subscribers", "telecom_records"]}
    answer = hello(naver["token"], claimed)
    assert answer.status_code == 403 and "provisioned as entry_operator" in answer.json()["error"]
    profile = AgencyProfile.objects.get(agency=naver["agency"])
    assert (profile.kind, profile.store_agency) == ("entry_operator", "Naver")
    (store,) = store_profiles()
    assert store.kind == "entry_operator"
    remote = RemoteStore(store, {}, None)  # type: ignore[arg-type]
    assert not remote.has("subscribers")  # never asked for a person's subscriptions
    assert len(refusals()) == 1 and refusals()[0].actor == "agent:entry-naver"


def test_finding_2_hello_cannot_widen_the_provisioned_tables(naver: dict[str, Any]) -> None:
    wider = {"agency": "Naver", "kind": "entry_operator", "tables": ["entry_logs", "subscribers"]}
    answer = hello(naver["token"], wider)
    assert answer.status_code == 403 and "subscribers" in answer.json()["error"]
    renamed = {"agency": "SKT", "kind": "entry_operator", "tables": ["entry_logs"]}
    assert hello(naver["token"], renamed).status_code == 403
    assert len(refusals()) == 2
    assert AgencyProfile.objects.get(agency=naver["agency"]).manifest == {}


def test_finding_2_hello_describes_its_store_within_its_provisioning(
    naver: dict[str, Any],
) -> None:
    described = {
        "agency": "Naver",
        "kind": "entry_operator",
        "tables": ["entry_logs"],
        "first_date": "2020-02-10",
        "last_date": "2020-03-10",
    }
    assert hello(naver["token"], described).status_code == 200
    profile = AgencyProfile.objects.get(agency=naver["agency"])
    assert profile.manifest["first_date"] == "2020-02-10" and profile.last_seen is not None
    assert profile.kind == "entry_operator" and refusals() == []


def test_finding_2_an_agency_not_provisioned_is_refused(naver: dict[str, Any]) -> None:
    AgencyProfile.objects.all().delete()
    answer = hello(naver["token"], {"agency": "Naver", "kind": "carrier"})
    assert answer.status_code == 409 and not AgencyProfile.objects.exists()
    assert len(refusals()) == 1
