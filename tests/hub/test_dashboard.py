"""The operations dashboard: who may open it, what it counts, and the charts as SVG."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import record
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.web import charts

pytestmark = pytest.mark.django_db

D = dt.date
MAY_OPEN = {
    Role.NATIONAL_INVESTIGATOR: True,
    Role.REGIONAL_INVESTIGATOR: True,
    Role.ADMINISTRATOR: True,
    Role.POLICE_APPROVER: False,
    Role.PROVIDER_OPERATOR: False,
    Role.AUDITOR: False,
    None: False,
}


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


def add_case(region: Any, confirmed: dt.date, onset: dt.date | None, n: int) -> Case:
    dates = CaseDates(
        onset_date=onset,
        specimen_date=confirmed - dt.timedelta(days=1),
        confirmation_date=confirmed,
        isolation_date=confirmed,
    )
    ids = Identifiers(
        name=f"Person {n}",
        birth_date=D(1980, 1, 1),
        phones=[f"010-0000-{n:04d}"],
        national_id=f"800101-100{n:04d}",
        address="1 Somewhere-ro",
        person_ref=f"P{n:05d}",
    )
    return register_case(region, dates, ids, by="setup")


@pytest.fixture
def outbreak(places: dict[str, Any]) -> list[Case]:
    """Seoul: 3 cases over 3 days (one without symptoms); Busan: 2 on one day."""
    seoul, busan = places["seoul"], places["busan"]
    return [
        add_case(seoul, D(2020, 3, 1), D(2020, 2, 27), 1),
        add_case(seoul, D(2020, 3, 1), None, 2),
        add_case(seoul, D(2020, 3, 3), D(2020, 3, 1), 3),
        add_case(busan, D(2020, 3, 2), D(2020, 2, 29), 4),
        add_case(busan, D(2020, 3, 2), D(2020, 3, 1), 5),
    ]


def table_rows(html: str, key: str) -> list[list[str]]:
    """The fallback table of chart ``key`` as text cells (header row first)."""
    figure = re.search(rf'<figure class="chart" id="chart-{key}">(.*?)</figure>', html, re.S)
    assert figure, key
    rows = re.findall(r"<tr>(.*?)</tr>", figure.group(1), re.S)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]


@pytest.mark.parametrize("role", list(MAY_OPEN), ids=lambda r: str(r or "no-role"))
def test_who_may_open_the_dashboard(
    role: Role | None, make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(role))
    answer = client.get("/dashboard")
    assert answer.status_code == (200 if MAY_OPEN[role] else 403)
    assert ('href="/dashboard"' in client.get("/").content.decode()) == MAY_OPEN[role]


def test_dashboard_needs_both_factors(make_account: Callable[..., Any]) -> None:
    from tests.hub.conftest import sign_in

    assert Client().get("/dashboard").status_code == 302
    half = sign_in(make_account(Role.NATIONAL_INVESTIGATOR), second_factor=False)
    assert half.get("/dashboard")["Location"] == "/verify"


def test_national_investigator_sees_every_region_on_the_curve(
    outbreak: list[Case], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    html = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/dashboard").content.decode()
    rows = table_rows(html, "curve-confirmed")
    assert rows[0] == [
        "Cases by confirmation date and region",
        "부산광역시 중구",
        "서울특별시 중구",
        "Cases",
    ]
    assert rows[1:] == [
        ["2020-03-01", "0", "2", "2"],
        ["2020-03-02", "2", "0", "2"],
        ["2020-03-03", "0", "1", "1"],
    ]
    onset = table_rows(html, "curve-onset")
    # Days without a case are bars of height 0, not rows of the table.
    assert [r[0] for r in onset[1:]] == ["2020-02-27", "2020-02-29", "2020-03-01"]
    assert "1 case without symptoms (no onset date) is not shown" in html
    # By default the days the cases span (first onset 02-27 to the latest confirmation
    # 03-03, two days before), at least 14 days: one bar slot per day, not three bars
    # squeezed into 90 days (issue #19).
    assert "from 2020-02-19 to 2020-03-03, per day" in html
    assert "5 cases counted" in html
    # Every bar of the SVG is a count: 2 + 2 + 1 cases in 3 non-empty segments.
    svg = re.search(r'id="chart-curve-confirmed">.*?<svg(.*?)</svg>', html, re.S).group(1)
    assert len(re.findall(r"<rect ", svg)) == 3
    assert '<title id="curve-confirmed-title">' in svg and "<desc " in svg
    # No request yet: the turnaround says so instead of drawing an empty axis.
    turnaround = re.search(r'id="chart-turnaround">(.*?)</figure>', html, re.S).group(1)
    assert "Nothing to show yet" in turnaround and "<svg" not in turnaround


def test_regional_investigator_counts_only_its_region(
    outbreak: list[Case],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    places: dict[str, Any],
) -> None:
    user = make_account(Role.REGIONAL_INVESTIGATOR, region=places["busan"])
    html = signed_in(user).get("/dashboard").content.decode()
    rows = table_rows(html, "curve-confirmed")
    assert rows[0][1:] == ["부산광역시 중구"]
    assert rows[1:] == [["2020-03-02", "2"]]
    assert "서울특별시" not in html and "Cases of 부산광역시 중구 only" in html
    assert "2 cases counted" in html


def test_the_page_names_nobody(
    outbreak: list[Case], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    html = signed_in(make_account(Role.ADMINISTRATOR)).get("/dashboard").content.decode()
    for case in outbreak:
        assert case.case_id not in html
    assert "Person 1" not in html and "P00001" not in html and "010-0000" not in html


def test_accesses_per_user_come_from_the_audit_log(
    outbreak: list[Case],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    places: dict[str, Any],
) -> None:
    seoul_case, busan_case = outbreak[0], outbreak[3]
    for _ in range(3):
        record(
            "alice",
            "case.view",
            object_type="case",
            object_id=str(seoul_case.pk),
            detail={"allowed": True},
        )
    record(
        "alice",
        "case.view",
        object_type="case",
        object_id=str(busan_case.pk),
        detail={"allowed": False},
    )  # refused: not an access
    record(
        "bob",
        "export.stays",
        object_type="case",
        object_id=str(busan_case.pk),
        detail={"reason": "contact tracing"},
    )
    record(
        "bob",
        "case.view",
        object_type="case",
        object_id=str(busan_case.pk),
        detail={"allowed": True},
    )
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, "nat")).get("/dashboard")
    rows = table_rows(national.content.decode(), "accesses")
    # The kinds of access by name, not by the log's codes (issue #19).
    viewing = "viewing a case&#x27;s personal details"
    assert rows[0] == ["User", "exporting analysis results", viewing]
    assert ["alice", "0", "3"] in rows and ["bob", "1", "1"] in rows
    busan = make_account(Role.REGIONAL_INVESTIGATOR, "reg-busan", region=places["busan"])
    rows = table_rows(signed_in(busan).get("/dashboard").content.decode(), "accesses")
    assert rows[1:] == [["bob", "1", "1"]]  # alice's views were of a Seoul case
    sido = make_account(Role.REGIONAL_INVESTIGATOR, "reg-sido", region=places["seoul_city"])
    rows = table_rows(signed_in(sido).get("/dashboard").content.decode(), "accesses")
    assert [row[0] for row in rows[1:]] == ["alice"]  # bob's were of a Busan case


def test_old_accesses_fall_outside_the_days_asked(
    outbreak: list[Case], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    entry = record(
        "carol",
        "result.view",
        object_type="case",
        object_id=str(outbreak[0].pk),
        detail={"allowed": True},
    )
    AuditEntry.objects.filter(pk=entry.pk).update(at=entry.at - dt.timedelta(days=10))
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, "nat"))
    assert "carol" in client.get("/dashboard?days=30").content.decode()
    assert "carol" not in client.get("/dashboard?days=7").content.decode()
    assert client.get("/dashboard?days=nonsense").status_code == 200


def test_opening_the_dashboard_is_audited(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    signed_in(make_account(Role.ADMINISTRATOR, "admin")).get("/dashboard")
    entry = AuditEntry.objects.filter(action="dashboard.view").last()
    assert entry.actor == "admin" and entry.detail["allowed"] is True


def test_purged_cases_stay_on_the_curve_as_their_own_series(
    outbreak: list[Case],
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    from epitrace.hub.retention.models import PurgedCaseCount

    PurgedCaseCount.objects.create(
        confirmation_date=D(2020, 3, 1), onset_date=None, region_code="11140", cases=4
    )
    PurgedCaseCount.objects.create(
        confirmation_date=D(2020, 3, 3), onset_date=D(2020, 3, 1), region_code="26110", cases=1
    )
    PurgedCaseCount.objects.create(  # 서울특별시 종로구, the neighbour of the Seoul cases
        confirmation_date=D(2020, 3, 2), onset_date=None, region_code="11110", cases=3
    )
    html = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/dashboard").content.decode()
    rows = table_rows(html, "curve-confirmed")
    assert rows[0][1:] == ["부산광역시 중구", "서울특별시 중구", "purged cases", "Cases"]
    assert rows[1:] == [
        ["2020-03-01", "0", "2", "4", "6"],
        ["2020-03-02", "2", "0", "3", "5"],
        ["2020-03-03", "0", "1", "1", "2"],
    ]
    assert "13 cases counted" in html
    seoul = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "reg-seoul"))  # 중구 only
    rows = table_rows(seoul.get("/dashboard").content.decode(), "curve-confirmed")
    assert rows[1:] == [["2020-03-01", "2", "4", "6"], ["2020-03-03", "1", "0", "1"]]
    # The 시도 holds both 시군구: 중구's cases, 종로구's purged ones, none of Busan's.
    sido = make_account(Role.REGIONAL_INVESTIGATOR, "reg-sido", region=places["seoul_city"])
    html = signed_in(sido).get("/dashboard").content.decode()
    rows = table_rows(html, "curve-confirmed")
    assert rows[1:] == [
        ["2020-03-01", "2", "4", "6"],
        ["2020-03-02", "0", "3", "3"],
        ["2020-03-03", "1", "0", "1"],
    ]
    assert "10 cases counted" in html and "부산광역시" not in html


def test_nice_steps_and_stacked_columns() -> None:
    assert [charts.nice_step(t) for t in (0, 4, 9, 23, 480)] == [1.0, 1.0, 2.0, 5.0, 100.0]
    chart = charts.column_chart(
        "t",
        "T",
        "d",
        ["a", "b"],
        ["x", "y"],
        {("a", "x"): 2, ("a", "y"): 1, ("b", "y"): 3},
        value_header="n",
    )
    heights = {bar.label: round(bar.height, 3) for bar in chart.bars}
    # One scale for every column: 3 cases are as tall whatever their series.
    assert heights["a · x: 2"] + heights["a · y: 1"] == pytest.approx(heights["b · y: 3"])
    assert chart.rows == [["a", "2", "1", "3"], ["b", "0", "3", "3"]]


def add_request(case: Case, created: dt.datetime, **times: Any) -> Any:
    from epitrace.hub.exchange.models import DataRequest

    request = DataRequest.objects.create(
        case=case,
        kinds=["telecom"],
        start=created - dt.timedelta(days=3),
        end=created,
        justification="tracing",
        needs_approval=True,
        status=times.pop("status", "awaiting approval"),
        requested_by="lee",
        requested_role="regional_investigator",
        deadline=created + dt.timedelta(hours=24),
    )
    DataRequest.objects.filter(pk=request.pk).update(created_at=created, **times)
    return request


def add_task(request: Any, agency: Any, status: str, answered: dt.datetime | None) -> None:
    from epitrace.hub.exchange.models import AgencyTask

    AgencyTask.objects.create(
        request=request,
        agency=agency,
        round=1,
        status=status,
        deadline=request.deadline,
        answered_at=answered,
    )


def test_requests_and_turnaround_per_step(
    outbreak: list[Case],
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    t = dt.datetime(2020, 3, 2, 9, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    done = add_request(
        outbreak[0],
        t,
        decided_at=t + hour,
        completed_at=t + 5 * hour,
        status="analysed",
    )
    add_task(done, places["carrier"], "answered", t + 3 * hour)
    add_task(done, places["cards"], "answered", t + 4 * hour)
    add_request(outbreak[1], t)  # awaiting approval: reached only the first step
    busan = add_request(outbreak[3], t, decided_at=t + 2 * hour, status="in progress")
    add_task(busan, places["carrier"], "ready", None)

    html = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/dashboard").content.decode()
    assert table_rows(html, "requests") == [
        ["Agency", "answered", "ready"],
        ["Card company B", "1", "0"],
        ["Carrier A", "1", "1"],
    ]
    steps = {row[0]: row[1:] for row in table_rows(html, "turnaround")[1:]}
    # Requests reached, done, pending, median hours, 90th percentile.
    assert steps["request → approval"] == ["3", "2", "1", "1.5 h", "1.9 h"]
    assert steps["approval → answers"] == ["3", "1", "2", "3.0 h", "3.0 h"]
    assert steps["answers → analysis"] == ["1", "1", "0", "1.0 h", "1.0 h"]
    assert steps["request → analysis"] == ["3", "1", "2", "5.0 h", "5.0 h"]

    busan_user = make_account(Role.REGIONAL_INVESTIGATOR, "reg-busan", region=places["busan"])
    html = signed_in(busan_user).get("/dashboard").content.decode()
    assert table_rows(html, "requests") == [["Agency", "ready"], ["Carrier A", "1"]]
    assert table_rows(html, "turnaround")[1][1:4] == ["1", "1", "0"]


def test_turnaround_under_an_hour_is_in_minutes(
    outbreak: list[Case],
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    t = dt.datetime(2020, 3, 2, 9, tzinfo=dt.UTC)
    minute = dt.timedelta(minutes=1)
    quick = add_request(outbreak[0], t, decided_at=t + 4 * minute, status="in progress")
    add_task(quick, places["carrier"], "answered", t + 30 * minute)
    html = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/dashboard").content.decode()
    steps = {row[0]: row[1:] for row in table_rows(html, "turnaround")[1:]}
    # Not "0.1" and "0.4" hours (issue #19): the minutes they took.
    assert steps["request → approval"][3] == "4 min"
    assert steps["approval → answers"][3] == "26 min"
    assert "Turnaround times (minutes)" in html


def test_the_curve_covers_the_period_asked_and_long_ones_per_week(
    outbreak: list[Case], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    html = client.get("/dashboard?from=2020-03-02&to=2020-03-03").content.decode()
    assert [r[0] for r in table_rows(html, "curve-confirmed")[1:]] == ["2020-03-02", "2020-03-03"]
    svg = re.search(r'id="chart-curve-confirmed">.*?<svg(.*?)</svg>', html, re.S).group(1)
    assert ">03-02<" in svg and ">03-03<" in svg and ">03-01<" not in svg
    html = client.get("/dashboard?from=2019-06-01&to=2020-05-31").content.decode()
    weeks = table_rows(html, "curve-confirmed")
    # 1 March 2020 was a Sunday: its cases count in the week of Monday 24 February.
    assert weeks[1:] == [["2020-02-24", "0", "2", "2"], ["2020-03-02", "2", "1", "3"]]
    assert "per week" in html
    # Dates the other way round are read as the period they name.
    swapped = client.get("/dashboard?from=2020-03-03&to=2020-03-02").content.decode()
    assert [r[0] for r in table_rows(swapped, "curve-confirmed")[1:]] == [
        "2020-03-02",
        "2020-03-03",
    ]
