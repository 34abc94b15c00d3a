"""A case's dates follow one rule (cases/dates.py) at every entrance, and the purge is
never stopped by one row it cannot evaluate (issue #17, finding 3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from purge_cases import NOW, OLD, PERSON, plant_case

from epitrace.hub.accounts.models import Role
from epitrace.hub.cases.dates import ImplausibleDates, date_problem
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import CaseDates, register_case
from epitrace.hub.retention.purge import run_purge

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Kim Minji",
    "birth_date": "1984-02-11",
    "phones": ["010-2211-3344"],
    "national_id": "840211-2345678",
    "address": "12 Sejong-daero, Jung-gu, Seoul",
    "person_ref": "REF-0001",
    "region": "11140",
    "onset_date": "2026-03-01",
    "specimen_date": "2026-03-03",
    "confirmation_date": "2026-03-04",
    "isolation_date": "2026-03-04",
}
EXTREME = {
    "far future": {
        "specimen_date": "9999-12-30",
        "confirmation_date": "9999-12-31",
        "isolation_date": "9999-12-31",
        "onset_date": "9999-12-30",
    },
    "year one": {
        "specimen_date": "0001-01-01",
        "confirmation_date": "0001-01-01",
        "isolation_date": "0001-01-01",
        "onset_date": "0001-01-01",
    },
    "confirmed before the specimen": {"confirmation_date": "2026-03-02"},
    "onset after confirmation": {"onset_date": "2026-03-05"},
    "isolated a month before onset": {"isolation_date": "2026-01-20"},
    "birth_date in year one": {"birth_date": "0001-01-01"},
}


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    return settings.HOME


@pytest.fixture
def national(make_account: Any, signed_in: Any) -> Any:
    return signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))


@pytest.mark.parametrize("wrong", list(EXTREME))
def test_finding_3_extreme_case_dates_are_refused_at_every_entrance(
    wrong: str, national: Any, places: dict[str, Any]
) -> None:
    body = {**GOOD, **EXTREME[wrong]}
    answer = national.post("/api/cases", json.dumps(body), content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "9999" not in answer.json()["error"] and "0001-01-01" not in answer.json()["error"]
    form = {**body, "phones": body["phones"][0]}
    page = national.post("/cases/new", form)
    assert page.status_code == 400 and b"_date must" in page.content  # the form, refused
    if "birth" not in wrong:  # the registration the demo and provisioning use
        dates = CaseDates(
            **{k: dt.date.fromisoformat(body[k]) for k in ("specimen_date", "confirmation_date")},
            isolation_date=dt.date.fromisoformat(body["isolation_date"]),
            onset_date=dt.date.fromisoformat(body["onset_date"]),
        )
        with pytest.raises(ImplausibleDates):
            register_case(places["seoul"], dates, PERSON, by="demo")
    assert not Case.objects.exists()


def test_finding_3_plausible_dates_pass(national: Any) -> None:
    answer = national.post("/api/cases", json.dumps(GOOD), content_type="application/json")
    assert answer.status_code == 201, answer.content
    dates = CaseDates(dt.date(2026, 3, 3), dt.date(2026, 3, 4), dt.date(2026, 3, 4))
    assert date_problem(dates) is None


def test_finding_3_one_case_with_extreme_dates_does_not_stop_the_purge(
    home: Path, places: dict[str, Any], make_account: Any, signed_in: Any
) -> None:
    old = plant_case(places["seoul"], PERSON, OLD)
    # A row written before the rule existed (the probe's registration through the API).
    bad = plant_case(places["busan"], PERSON, OLD).case
    far = dt.date(9999, 12, 30)
    Case.objects.filter(pk=bad.pk).update(
        specimen_date=far, onset_date=far, confirmation_date=far, isolation_date=far
    )
    admin = signed_in(make_account(Role.ADMINISTRATOR, "admin"))
    for page in ("/retention", "/api/retention"):
        assert admin.get(page).status_code == 200, page
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, "nat"))
    assert national.get("/dashboard").status_code == 200
    dry = run_purge(now=NOW, dry_run=True)
    assert [d.case_number for d in dry.destroyed] == [old.case.case_id]
    report = run_purge(now=NOW)
    assert [d.case_number for d in report.destroyed] == [old.case.case_id]
    assert not Case.objects.filter(pk=old.case.pk).exists()
    assert len(report.failed) == 1 and bad.case_id in report.failed[0]
    assert "out of range" in report.failed[0] and not report.ok
    assert Case.objects.filter(pk=bad.pk).exists()  # kept, and reported at every run
