"""The cases API: register, list, search, detail, all under the policy and all audited;
and no personal identifier in any log line, SQL debug logging included."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.notes import shown_detail

pytestmark = pytest.mark.django_db

NEW_CASE: dict[str, Any] = {
    "name": "Park Seoyeon-Logcheck",
    "birth_date": "1979-08-15",
    "phones": ["010-7312-9904", "+82 10 5561 2087"],
    "national_id": "790815-2876543",
    "address": "301 Olympic-ro, Songpa-gu, Seoul",
    "person_ref": "REF-4410-9932",
    "region": "11140",
    "onset_date": "2026-03-01",
    "specimen_date": "2026-03-03",
    "confirmation_date": "2026-03-04",
    "isolation_date": "2026-03-04",
}
SECRETS = [
    NEW_CASE["name"],
    NEW_CASE["national_id"],
    "7908152876543",
    NEW_CASE["address"],
    "Olympic-ro",
    *NEW_CASE["phones"],
    "01073129904",
    "821055612087",
    "7312-9904",
    "5561 2087",
]


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def national(make_account: Any, signed_in: Any) -> Any:
    return signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))


@pytest.fixture
def regional(make_account: Any, signed_in: Any) -> Any:
    return signed_in(make_account(Role.REGIONAL_INVESTIGATOR, username="reg"))  # Seoul


def create(client: Any, **changes: Any) -> Any:
    return post(client, "/api/cases", {**NEW_CASE, **changes})


def test_register_and_read_back(national: Any) -> None:
    response = create(national)
    assert response.status_code == 201, response.content
    case_id = response.json()["case_id"]
    assert case_id.startswith("C") and len(case_id) == 6
    detail = national.get(f"/api/cases/{case_id}?purpose=contact tracing").json()
    assert detail["personal_data"] == "readable"
    ids = detail["identifiers"]
    assert ids["name"] == NEW_CASE["name"] and ids["phones"] == NEW_CASE["phones"]
    assert ids["national_id"] == NEW_CASE["national_id"]
    assert detail["onset_date"] == "2026-03-01" and detail["region"] == "11140"


def test_onset_may_be_empty(national: Any) -> None:
    response = create(national, onset_date="")
    assert response.status_code == 201 and response.json()["onset_date"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"birth_date": "1979-13-45"}, "birth_date"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"phones": []}, "phones"),
        ({"phones": ["12"]}, "phones"),
        ({"phones": "010-7312-9904"}, "phones"),
        ({"national_id": "--"}, "national_id"),
        ({"address": None}, "address"),
        ({"person_ref": ""}, "person_ref"),
        ({"region": "atlantis"}, "region"),
        ({"specimen_date": "yesterday"}, "specimen_date"),
        ({"confirmation_date": "2026-03-02"}, "confirmation_date"),
        ({"onset_date": "2026-04-01"}, "onset_date"),
        ({"isolation_date": None}, "isolation_date"),
    ],
)
def test_validation_errors_name_the_field(national: Any, changes: dict, field: str) -> None:
    response = create(national, **changes)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field)
    assert not Case.objects.exists()


def test_a_regional_investigator_registers_only_in_their_region(regional: Any) -> None:
    unknown = {"error": "region: unknown region (a case's region is a 시군구 code)"}
    assert create(regional, region="26110").json() == unknown  # another 시도
    assert create(regional, region="11110").json() == unknown  # the neighbouring 시군구
    assert create(regional, region="11").json() == unknown  # its 시도
    assert create(regional).status_code == 201


def test_a_sido_investigator_registers_in_any_sigungu_of_the_sido(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    sido = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "sido", region=places["seoul_city"]))
    unknown = {"error": "region: unknown region (a case's region is a 시군구 code)"}
    assert create(sido, region="26110").json() == unknown
    assert create(sido, region="11").json() == unknown  # a case belongs to a 시군구
    assert create(sido, region="11110").status_code == 201
    other = {"national_id": "800101-1111111", "person_ref": "REF-2", "phones": ["010-1111-2222"]}
    assert create(sido, **other).status_code == 201  # 11140
    assert [c["region"] for c in sido.get("/api/cases").json()["cases"]] == ["11110", "11140"]


def test_lists_and_searches_hold_only_the_jurisdiction(national: Any, regional: Any) -> None:
    create(national)
    other = {"national_id": "800101-1111111", "person_ref": "REF-2"}  # another person
    create(national, region="26110", phones=["010-1111-2222"], **other)
    assert [c["region"] for c in national.get("/api/cases").json()["cases"]] == ["11140", "26110"]
    assert [c["region"] for c in regional.get("/api/cases").json()["cases"]] == ["11140"]
    in_seoul = {"region": "11", "purpose": "tracing"}  # a 시도 code: all its 시군구
    assert [c["region"] for c in post(national, "/api/cases/search", in_seoul).json()["cases"]] == [
        "11140"
    ]
    search = {"phone": "010-1111-2222", "purpose": "tracing"}
    assert len(post(national, "/api/cases/search", search).json()["cases"]) == 1
    assert post(regional, "/api/cases/search", search).json()["cases"] == []


@pytest.mark.parametrize(
    "criteria",
    [
        {"phone": "01055612087"},  # normalised: separators and spacing do not matter
        {"phone": "+82-10-5561-2087"},
        {"national_id": "7908152876543"},
        {"person_ref": "REF-4410-9932"},
        {"case_id": "C00001"},
        {"region": "11140"},
        {"confirmed_from": "2026-03-04", "confirmed_to": "2026-03-04"},
    ],
)
def test_search_by_each_criterion(national: Any, criteria: dict[str, str]) -> None:
    case_id = create(national).json()["case_id"]
    create(national, region="26110", phones=["010-1111-2222"], national_id="1", person_ref="x",
           confirmation_date="2026-03-05")  # fmt: skip
    if "case_id" in criteria:
        criteria = {"case_id": case_id}
    found = post(national, "/api/cases/search", {**criteria, "purpose": "tracing"}).json()
    assert [c["case_id"] for c in found["cases"]] == [case_id]
    assert "identifiers" not in found["cases"][0]


def test_search_rejects_unknown_or_empty_criteria(national: Any) -> None:
    assert post(national, "/api/cases/search", {"name": "x"}).status_code == 400
    assert post(national, "/api/cases/search", {"purpose": "x"}).status_code == 400
    assert post(national, "/api/cases/search", {"confirmed_from": "soon"}).status_code == 400


def test_viewing_personal_data_needs_a_purpose(national: Any) -> None:
    case_id = create(national).json()["case_id"]
    views_before = AuditEntry.objects.filter(action="case.view").count()
    response = national.get(f"/api/cases/{case_id}")
    assert response.status_code == 400 and "purpose" in response.json()["error"]
    assert "identifiers" not in response.json()
    # No data was shown, so no view is recorded.
    assert AuditEntry.objects.filter(action="case.view").count() == views_before


def test_every_view_search_and_creation_is_audited(national: Any) -> None:
    case_id = create(national).json()["case_id"]
    case = Case.objects.get(case_id=case_id)
    national.get("/api/cases")
    post(national, "/api/cases/search", {"phone": "01073129904", "purpose": "tracing"})
    national.get(f"/api/cases/{case_id}?purpose=contact tracing")
    entries = list(AuditEntry.objects.filter(action__startswith="case."))
    actions = [e.action for e in entries]
    assert actions == [
        "case.create", "case.created", "case.list", "case.search", "case.searched", "case.view",
    ]  # fmt: skip
    view = entries[-1]
    assert (
        view.object_id == case.case_id and shown_detail(view.detail)["purpose"] == "contact tracing"
    )
    searched = entries[4].detail
    assert {k: searched[k] for k in ("criteria", "matches", "cases")} == {
        "criteria": ["phone"],
        "matches": 1,
        "cases": [case_id],
    }
    assert shown_detail(searched)["purpose"] == "tracing"
    dump = json.dumps([[e.detail, e.object_id] for e in entries])
    assert not any(secret in dump for secret in SECRETS)
    assert verify_chain().ok


def test_no_identifier_reaches_any_log(national: Any, caplog: Any) -> None:
    """Everything logged at any level, SQL statements and parameters included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        case_id = create(national).json()["case_id"]
        create(national, birth_date="1979-02-30")  # fails validation
        create(national, phones=["12"])  # fails validation
        post(national, "/api/cases/search", {"phone": NEW_CASE["phones"][1], "purpose": "tracing"})
        search = {"national_id": NEW_CASE["national_id"], "purpose": "contact tracing"}
        post(national, "/api/cases/search", search)
        national.get(f"/api/cases/{case_id}?purpose=contact tracing")
        national.get("/api/cases/C99999?purpose=contact tracing")
    finally:
        connection.force_debug_cursor = False
    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'sql', '')} {getattr(r, 'params', '')}"
        for r in caplog.records
    )
    assert "INSERT" in text and "Bad Request" in text  # the capture did see the traffic
    for secret in SECRETS:
        assert secret not in text, secret


def test_a_shredded_case_still_lists_but_its_identifiers_are_gone(national: Any) -> None:
    from epitrace.hub.cases.records import destroy_case_key

    case_id = create(national).json()["case_id"]
    destroy_case_key(Case.objects.get(case_id=case_id))
    detail = national.get(f"/api/cases/{case_id}?purpose=review").json()
    assert detail["personal_data"] == "destroyed" and detail["identifiers"] is None


def test_finding_15_a_second_case_of_one_person_needs_confirmation(national: Any) -> None:
    """Issue #17, finding 15: the same person (identity number or person_ref, by the blind
    index) registered again is refused, naming the case, unless confirmed (a reinfection)."""
    first = create(national).json()["case_id"]
    again = create(national, phones=["010-1111-0000"])
    assert again.status_code == 409 and first in again.json()["error"]
    by_ref = create(national, national_id="111111-1111111")  # the same person_ref
    assert by_ref.status_code == 409
    assert Case.objects.count() == 1
    confirmed = create(national, same_person_confirmed=True)
    assert confirmed.status_code == 201 and Case.objects.count() == 2
