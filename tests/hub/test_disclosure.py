"""Public disclosure in the hub: draft, review, publish, the public list and feed, withdrawal
and expiry, and who may do what."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from disclosure_analyses import FakeAnalysis, simulated_analysis
from django.test import Client
from django.utils import timezone

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.notes import shown_detail
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.disclosure import drafts
from epitrace.hub.disclosure.models import Disclosure, DisclosureEntry
from epitrace.hub.exchange import results

pytestmark = pytest.mark.django_db

SEOUL_TZ = zoneinfo.ZoneInfo("Asia/Seoul")
IDENTIFIERS = dict(
    name="Hong Gildong",
    national_id="800101-1234567",
    address="12 Dalgubeol-daero, Jung-gu",
    phones=["010-1234-5678"],
)


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


def shifted(analysis: FakeAnalysis, delta: dt.timedelta) -> FakeAnalysis:
    """The same movements, ``delta`` later (whole weeks keep weekdays and hours)."""

    def move(data: pa.Table | None) -> pa.Table | None:
        if data is None:
            return None
        for name in ("start", "end"):
            i = data.schema.get_field_index(name)
            moved = [t + delta for t in data.column(name).to_pylist()]
            data = data.set_column(i, data.schema.field(i), pa.array(moved, data.schema[i].type))
        return data

    features = []
    for feature in analysis.path["features"]:
        props = dict(feature["properties"])
        for name in ("start", "end"):
            if name in props:
                props[name] = (dt.datetime.fromisoformat(props[name]) + delta).isoformat()
        features.append({**feature, "properties": props})
    return dataclasses.replace(
        analysis,
        window=(analysis.window[0] + delta, analysis.window[1] + delta),
        stays=move(analysis.stays),
        contacts=move(analysis.contacts),
        path={"type": "FeatureCollection", "features": features},
    )


@pytest.fixture(scope="module")
def recent(csv_city: Path) -> FakeAnalysis:
    """The simulated case's path, moved to the last week (so nothing has expired yet)."""
    analysis = simulated_analysis(csv_city)
    last = max(analysis.stays.column("end").to_pylist())
    weeks = math.floor((dt.datetime.now(dt.UTC) - last) / dt.timedelta(days=7))
    return shifted(analysis, dt.timedelta(days=7 * weeks))


def case_for(region: Any, analysis: FakeAnalysis, number: int) -> Case:
    starts = analysis.stays.column("start").to_pylist()
    ends = analysis.stays.column("end").to_pylist()
    first = min(starts).astimezone(SEOUL_TZ).date()
    last = max(ends).astimezone(SEOUL_TZ).date()
    dates = CaseDates(
        onset_date=first + dt.timedelta(days=2),
        specimen_date=first + dt.timedelta(days=3),
        confirmation_date=last,
        isolation_date=last,
    )
    ids = Identifiers(birth_date=dt.date(1980, 1, 1), person_ref=f"P{number:06d}", **IDENTIFIERS)
    return register_case(region, dates, ids, by="setup")


@pytest.fixture
def cases(places: dict[str, Any], recent: FakeAnalysis) -> dict[str, Case]:
    return {
        "seoul": case_for(places["seoul"], recent, 1),
        "busan": case_for(places["busan"], recent, 2),
    }


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch, recent: FakeAnalysis) -> FakeAnalysis:
    monkeypatch.setattr(results, "latest_analysis", lambda case: recent)
    return recent


@pytest.fixture
def investigator(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> Client:
    return signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "lee"))  # Seoul


def step(client: Client, case: Case, name: str, **data: Any) -> Any:
    headers = {k: data.pop(k) for k in list(data) if k.startswith("HTTP_")}
    return client.post(f"/cases/{case.case_id}/disclosure/{name}", data, **headers)


def feed() -> dict[str, Any]:
    answer = Client().get("/public/exposures.json")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    return json.loads(answer.content)


def published(client: Client, case: Case) -> Disclosure:
    assert step(client, case, "prepare").status_code == 302
    disclosure = Disclosure.objects.get(case=case)
    for entry in disclosure.entries.filter(label="", category="place"):
        entry.neighbourhood = "Samdeok-dong"
        entry.save()
    assert step(client, case, "publish").status_code == 302
    return disclosure


# --- who may do what -------------------------------------------------------------

EXPECTED = {
    Role.NATIONAL_INVESTIGATOR: (200, 200),
    Role.REGIONAL_INVESTIGATOR: (200, 404),
    Role.POLICE_APPROVER: (403, 403),
    Role.PROVIDER_OPERATOR: (403, 403),
    Role.AUDITOR: (403, 403),
    Role.ADMINISTRATOR: (403, 403),
    None: (403, 403),
}


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: str(r or "no-role"))
def test_role_by_page(
    role: Role | None,
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(role))
    own, other = EXPECTED[role]
    for case, status in ((cases["seoul"], own), (cases["busan"], other)):
        assert client.get(f"/cases/{case.case_id}/disclosure").status_code == status
        expected_post = 302 if status == 200 else status
        assert step(client, case, "prepare").status_code == expected_post
        assert step(client, case, "publish").status_code == expected_post
    assert client.get("/cases/C99999/disclosure").status_code == (404 if own == 200 else 403)
    # The public list and feed need no account at all.
    assert client.get("/public/exposures").status_code == 200


def test_sign_in_needed_for_the_review_but_not_for_the_public_list(cases: dict[str, Case]) -> None:
    anonymous = Client()
    answer = anonymous.get(f"/cases/{cases['seoul'].case_id}/disclosure")
    assert answer.status_code == 302 and answer["Location"] == "/login"
    assert step(anonymous, cases["seoul"], "publish").status_code == 302
    assert anonymous.get("/public/exposures").status_code == 200
    assert feed()["entries"] == []


def test_unknown_step_is_not_found(cases: dict[str, Case], investigator: Client) -> None:
    assert step(investigator, cases["seoul"], "delete-everything").status_code == 404


# --- the draft ----------------------------------------------------------------------


def test_a_draft_follows_the_guideline_and_is_not_public(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    assert step(investigator, case, "prepare").status_code == 302
    disclosure = Disclosure.objects.get(case=case)
    entries = list(disclosure.entries.all())
    named = {s["place_name"] for s in analysed.stays.to_pylist() if s["place_name"]}
    assert entries and {e.label for e in entries if e.category == "place"} <= named | {""}
    # The nights were spent at home: those stays are left out, and say why.
    assert any(x["rule"].startswith("home") for x in disclosure.exclusions)
    assert all(e.expires_at == e.end + dt.timedelta(days=14) for e in entries)
    assert all(disclosure.window_start <= e.start < e.end <= disclosure.window_end for e in entries)
    assert feed()["entries"] == []
    page = investigator.get(f"/cases/{case.case_id}/disclosure").content.decode()
    assert "draft, not public" in page and "Left out, and why" in page
    # The contact search's people at each entry's stays (the fake has one per stay, all
    # known only by a phone line), to help decide a withdrawal.
    cells = re.findall(r'<td class="contacts">(.*?)</td>', page)
    assert len(cells) == len(entries) and "1 (1)" in cells
    actions = list(AuditEntry.objects.filter(action="disclosure.drafted"))
    assert len(actions) == 1 and actions[0].detail["entries"] == len(entries)


def test_without_an_analysis_there_is_nothing_to_prepare(
    cases: dict[str, Case], investigator: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "latest_analysis", lambda case: None)
    answer = step(investigator, cases["seoul"], "prepare")
    assert answer.status_code == 400 and "no analysis yet" in answer.content.decode()
    assert not Disclosure.objects.exists()


def test_review_edit_merge_and_remove(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    step(investigator, case, "prepare")
    disclosure = Disclosure.objects.get(case=case)
    first, second, *_ = list(disclosure.entries.order_by("start"))
    # Nothing finer than the neighbourhood: a street address is refused.
    answer = step(investigator, case, "edit", entry=first.pk, neighbourhood="12 Dongdeok-ro")
    assert answer.status_code == 400 and "street address" in answer.content.decode()
    local = first.start.astimezone(SEOUL_TZ) - dt.timedelta(minutes=30)
    answer = step(
        investigator,
        case,
        "edit",
        entry=first.pk,
        neighbourhood="Samdeok-dong",
        start=local.strftime("%Y-%m-%dT%H:%M"),
    )
    assert answer.status_code == 302
    first.refresh_from_db()
    assert first.neighbourhood == "Samdeok-dong"
    assert first.start == local.astimezone(dt.UTC)
    count = disclosure.entries.count()
    assert step(investigator, case, "merge", entry=[first.pk, second.pk]).status_code == 302
    assert disclosure.entries.count() == count - 1
    merged = disclosure.entries.get(pk=first.pk)
    assert merged.end == max(first.end, second.end) and merged.start == first.start
    assert step(investigator, case, "merge", entry=[first.pk]).status_code == 400
    assert step(investigator, case, "remove", entry=[first.pk]).status_code == 302
    assert disclosure.entries.count() == count - 2
    # Another case's entry cannot be reached through this case.
    step(investigator, cases["seoul"], "prepare")
    assert step(investigator, case, "remove", entry=[999999]).status_code == 400
    kinds = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"disclosure.edited", "disclosure.merged", "disclosure.removed"} <= kinds


def test_including_a_place_left_out_needs_its_neighbourhood_before_publishing(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    step(investigator, case, "prepare")
    disclosure = Disclosure.objects.get(case=case)
    for entry in disclosure.entries.filter(label="", category="place"):
        entry.neighbourhood = "Samdeok-dong"
        entry.save()
    home = next(x for x in disclosure.exclusions if x["rule"].startswith("home"))
    before = disclosure.entries.count()
    assert step(investigator, case, "include", seq=home["seq"]).status_code == 302
    disclosure.refresh_from_db()
    assert disclosure.entries.count() == before + 1
    assert home["seq"] not in [x["seq"] for x in disclosure.exclusions]
    added = disclosure.entries.get(stays=[home["seq"]])
    assert (added.label, added.lat, added.lon) == ("", None, None)  # unnamed: a private place
    answer = step(investigator, case, "publish")
    assert answer.status_code == 400 and "neighbourhood" in answer.content.decode()
    step(investigator, case, "edit", entry=added.pk, neighbourhood="Namsan-dong")
    assert step(investigator, case, "publish").status_code == 302


# --- published ----------------------------------------------------------------------


def test_published_entries_are_public_without_anything_personal(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    disclosure = published(investigator, case)
    shown = feed()["entries"]
    assert len(shown) == disclosure.entries.count() > 0
    assert {e["reported_by"] for e in shown} == {"서울특별시 중구"}
    assert set().union(*(e.keys() for e in shown)) <= {
        "category", "reported_by", "neighbourhood", "start", "end", "expires",
        "place", "lat", "lon", "mode", "line",
    }  # fmt: skip
    page = Client().get("/public/exposures").content.decode()
    body = json.dumps(feed(), ensure_ascii=False) + page
    person_ref = analysed.stays.column("person_ref")[0].as_py()
    for secret in (*IDENTIFIERS["phones"], IDENTIFIERS["name"], IDENTIFIERS["national_id"],
                   IDENTIFIERS["address"], person_ref, case.case_id, "P000001"):  # fmt: skip
        assert secret not in body
    # The home's position is never published (only named public places carry coordinates).
    homes = {x["seq"] for x in disclosure.exclusions if x["rule"].startswith("home")}
    for stay in analysed.stays.to_pylist():
        if stay["seq"] in homes:
            assert f"{round(stay['lat'], 4)}" not in body
    assert "Samdeok-dong" in page or all(e["place"] for e in shown if e["category"] == "place")
    assert AuditEntry.objects.filter(action="disclosure.published").count() == 1
    assert verify_chain().ok


def test_a_published_disclosure_is_not_edited_and_entries_are_withdrawn(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    disclosure = published(investigator, case)
    entry = disclosure.entries.first()
    assert step(investigator, case, "edit", entry=entry.pk, label="x").status_code == 400
    assert step(investigator, case, "publish").status_code == 400  # already published
    count = len(feed()["entries"])
    assert step(investigator, case, "withdraw", entry=entry.pk, reason="").status_code == 400
    answer = step(investigator, case, "withdraw", entry=entry.pk, reason="all contacts identified")
    assert answer.status_code == 302
    assert len(feed()["entries"]) == count - 1
    assert (
        step(
            investigator, case, "withdraw", entry=entry.pk, reason="withdrawn once more"
        ).status_code
        == 400
    )
    logged = AuditEntry.objects.get(action="disclosure.withdrawn")
    assert shown_detail(logged.detail)["reason"] == "all contacts identified"
    assert logged.actor == "lee"


def test_expiry_applies_at_read_time_and_by_the_scheduled_job(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    disclosure = published(investigator, cases["seoul"])
    count = disclosure.entries.count()
    old = disclosure.entries.first()
    old.expires_at = timezone.now() - dt.timedelta(minutes=1)
    old.save()
    assert len(feed()["entries"]) == count - 1  # gone at once, before any job ran
    assert drafts.expire_entries() == 1
    assert drafts.expire_entries() == 0  # already marked
    assert DisclosureEntry.objects.get(pk=old.pk).expired_at is not None
    assert AuditEntry.objects.get(action="disclosure.expired").detail == {"entries": 1}
    later = timezone.now() + dt.timedelta(days=15)
    assert list(drafts.shown_entries(later)) == []  # 14 days after the last exposure


def test_preparing_again_takes_the_case_off_the_public_list_until_approved(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    published(investigator, cases["seoul"])
    assert feed()["entries"]
    step(investigator, cases["seoul"], "prepare")
    assert feed()["entries"] == []


def test_entries_go_with_their_case(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    published(investigator, cases["seoul"])
    assert DisclosureEntry.objects.exists()
    Case.objects.filter(pk=cases["seoul"].pk).delete()
    assert not Disclosure.objects.exists() and not DisclosureEntry.objects.exists()


def test_the_review_speaks_korean(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    case = cases["seoul"]
    step(investigator, case, "prepare")
    page = investigator.get(f"/cases/{case.case_id}/disclosure", HTTP_ACCEPT_LANGUAGE="ko")
    text = page.content.decode()
    assert "자택: 공개하지 않음" in text  # the rule that left the home out
    answer = step(investigator, case, "merge", entry=[], HTTP_ACCEPT_LANGUAGE="ko")
    assert "이 초안에 없는 항목입니다" in answer.content.decode()
    public = Client().get("/public/exposures", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "노출 가능 장소와 시간" in public


def test_the_draft_names_neighbourhoods_from_the_citys_outlines(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    investigator: Client,
    tmp_path: Path,
    settings: Any,
) -> None:
    lats = analysed.stays.column("lat").to_pylist()
    lons = analysed.stays.column("lon").to_pylist()
    ring = [[min(lons) - 0.01, min(lats) - 0.01], [max(lons) + 0.01, min(lats) - 0.01],
            [max(lons) + 0.01, max(lats) + 0.01], [min(lons) - 0.01, max(lats) + 0.01]]  # fmt: skip
    outlines = tmp_path / "city.geojson"
    outlines.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Jung-gu"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    settings.EPITRACE_MAP_BASE_GEOJSON = str(outlines)
    step(investigator, cases["seoul"], "prepare")
    places = DisclosureEntry.objects.filter(category="place")
    assert places.exists() and {e.neighbourhood for e in places} == {"Jung-gu"}
    rides = DisclosureEntry.objects.filter(category="transport")
    assert {e.neighbourhood for e in rides} <= {""}


def test_the_review_reads_and_shows_times_in_the_reviewers_zone(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    from epitrace.hub.web.preferences import save_preference

    user = make_account(Role.NATIONAL_INVESTIGATOR, "abroad")
    save_preference(user, language="en", time_zone="UTC")
    client = signed_in(user)
    case = cases["seoul"]
    step(client, case, "prepare")
    entry = Disclosure.objects.get(case=case).entries.order_by("start").first()
    page = client.get(f"/cases/{case.case_id}/disclosure").content.decode()
    assert "Times in UTC." in page
    assert entry.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") in page
    later = entry.start.astimezone(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    step(client, case, "edit", entry=entry.pk, start=later.strftime("%Y-%m-%dT%H:%M"))
    entry.refresh_from_db()
    assert entry.start == later.replace(tzinfo=dt.UTC)


def test_rides_read_as_the_stays_they_went_between(
    cases: dict[str, Case], analysed: FakeAnalysis, investigator: Client
) -> None:
    """Issue #19: rides were shown as "stays 15-23" on a case with 14 stays (their draft
    numbers, after the stays). The review names a ride by the stays around it."""
    case = cases["seoul"]
    step(investigator, case, "prepare")
    rides = DisclosureEntry.objects.filter(category="transport")
    assert rides.exists(), "the simulated case rides a bus or the subway"
    page = investigator.get(f"/cases/{case.case_id}/disclosure").content.decode()
    cells = re.findall(r'<td class="nowrap">([^<]*)</td>', page)
    last = analysed.stays.num_rows
    ride_cells = [c for c in cells if "→" in c]
    assert len(ride_cells) == rides.count()
    for cell in ride_cells:
        before, after = (int(n) for n in cell.split(" → "))
        assert 1 <= before < after <= last
    numbers = [int(n) for c in cells if "→" not in c for n in c.split(", ") if n.isdigit()]
    assert numbers and max(numbers) <= last  # places: the stays they come from
