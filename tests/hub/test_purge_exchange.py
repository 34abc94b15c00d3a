"""The exchange's data expires before the case: provider answers (14 days by default),
then analysis results (28 days), each by its own rule, the case staying readable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from purge_cases import (
    PERSON,
    database_bytes,
    find_in,
    plant_case,
    with_exchange_data,
)

from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.records import identifiers_of
from epitrace.hub.cases.storage import ANSWERS_DIR, case_folder
from epitrace.hub.exchange.models import AnalysisResult, DataRequest, Status
from epitrace.hub.retention.purge import run_purge
from epitrace.hub.retention.rules import Kind
from epitrace.hub.retention.targets import ARRIVAL_ANCHOR

pytestmark = pytest.mark.django_db(transaction=True)
CONFIRMED = dt.date(2026, 5, 10)
DATES = dict(specimen_date=CONFIRMED, confirmation_date=CONFIRMED, isolation_date=CONFIRMED)


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    return settings.HOME


def test_answers_then_results_expire_before_the_case(home: Path, places: dict[str, Any]) -> None:
    from epitrace.hub.cases.records import CaseDates

    planted = plant_case(places["seoul"], PERSON, CaseDates(**DATES))
    _answer, bundle = with_exchange_data(planted)
    answers = case_folder(planted.case) / ANSWERS_DIR

    first = run_purge(now=dt.datetime(2026, 5, 25, 3, tzinfo=dt.UTC))  # day 15
    assert first.counts() == {Kind.RAW_RESULTS: 1}
    assert first.destroyed[0].rule == f"raw_results: 14 days after {ARRIVAL_ANCHOR}"
    assert not answers.exists() and AnalysisResult.objects.exists()

    second = run_purge(now=dt.datetime(2026, 6, 8, 3, tzinfo=dt.UTC))  # day 29
    assert second.counts() == {Kind.ANALYSIS_RESULTS: 1}
    assert not AnalysisResult.objects.exists()
    assert DataRequest.objects.get().status == Status.ANALYSED  # the request's history stays
    # The case itself stays, readable, with its uploads, until its own retention ends.
    assert identifiers_of(planted.case) == PERSON
    assert (case_folder(planted.case) / "uploads" / "interview.txt").exists()
    for name, data in database_bytes().items():
        assert find_in(data, {bundle: "result", bundle.hex().encode(): "result"}) == [], name
    destructions = AuditEntry.objects.filter(action__startswith="purge.").exclude(
        action="purge.run"
    )
    actions = list(destructions.values_list("action"))
    assert actions == [("purge.raw_results",), ("purge.analysis_results",)]
    assert verify_chain().ok

    third = run_purge(now=dt.datetime(2026, 8, 9, 3, tzinfo=dt.UTC))  # day 91
    assert third.counts() == {Kind.IDENTIFIERS: 1}
    assert not DataRequest.objects.exists()  # with the case, by cascade
    assert not case_folder(planted.case).exists()


def test_what_arrives_late_is_kept_its_full_retention(home: Path, places: dict[str, Any]) -> None:
    """A second request answered on day 20 is not destroyed that night: its answer keeps
    its 14 days, while the first answer goes on day 15 as usual."""
    from epitrace.hub.cases.records import CaseDates

    planted = plant_case(places["seoul"], PERSON, CaseDates(**DATES))
    with_exchange_data(planted)
    late = dt.datetime(2026, 5, 30, 3, tzinfo=dt.UTC)
    with_exchange_data(planted, arrived=late, task=2)
    answers = case_folder(planted.case) / ANSWERS_DIR

    day_20 = run_purge(now=dt.datetime(2026, 5, 30, 5, tzinfo=dt.UTC))
    assert day_20.counts() == {Kind.RAW_RESULTS: 1}
    assert sorted(p.name for p in answers.iterdir()) == ["task-2.bin"]
    assert AnalysisResult.objects.count() == 2

    day_40 = run_purge(now=dt.datetime(2026, 6, 19, 3, tzinfo=dt.UTC))
    assert day_40.counts() == {Kind.RAW_RESULTS: 1, Kind.ANALYSIS_RESULTS: 1}
    assert not answers.exists()
    assert list(AnalysisResult.objects.values_list("computed_at", flat=True)) == [late]


def test_a_case_registered_late_is_not_destroyed_the_night_it_is_entered(
    home: Path, places: dict[str, Any]
) -> None:
    """Confirmed long ago (or a mistyped date), registered today: kept 90 days from now."""
    from epitrace.hub.cases.records import CaseDates, register_case

    case = register_case(places["seoul"], CaseDates(**DATES), PERSON, by="tester")
    now = case.registered_at + dt.timedelta(days=1)
    assert run_purge(now=now).destroyed == []
    assert run_purge(now=now + dt.timedelta(days=90)).counts() == {Kind.IDENTIFIERS: 1}


def test_public_disclosure_entries_expire_by_their_own_rule(
    home: Path, places: dict[str, Any]
) -> None:
    from epitrace.hub.cases.records import CaseDates
    from epitrace.hub.disclosure.models import Disclosure, DisclosureEntry

    planted = plant_case(places["seoul"], PERSON, CaseDates(**DATES))
    exposed = dt.datetime(2026, 5, 8, 10, tzinfo=dt.UTC)
    disclosure = Disclosure.objects.create(
        case=planted.case,
        window_start=exposed - dt.timedelta(days=2),
        window_end=exposed + dt.timedelta(days=2),
        timezone="Asia/Seoul",
        prepared_by="inv",
        prepared_at=exposed,
    )
    DisclosureEntry.objects.create(
        disclosure=disclosure,
        case=planted.case,
        category="place",
        label="Gym",
        region_name="Seoul",
        start=exposed,
        end=exposed + dt.timedelta(hours=1),
        expires_at=exposed + dt.timedelta(days=14),
    )
    assert (
        run_purge(now=dt.datetime(2026, 5, 20, 3, tzinfo=dt.UTC)).counts().get(Kind.DISCLOSURES)
        is None
    )
    later = run_purge(now=dt.datetime(2026, 5, 24, 3, tzinfo=dt.UTC))  # 15 days on
    assert later.counts()[Kind.DISCLOSURES] == 1
    assert not DisclosureEntry.objects.exists()
    assert identifiers_of(planted.case) == PERSON  # the case stays until its own end
    assert verify_chain().ok
