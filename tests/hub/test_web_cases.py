"""The investigators' case pages: list, registration, the case page with its analysis,
hotspots and preferences; the same policy as the JSON API, every view audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
from django.test import Client
from django.utils import translation

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.notes import shown_detail
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange import case_analysis, jobs, results

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


@dataclass(frozen=True)
class Analysis:
    """Shaped like epitrace.hub.exchange.results.CaseAnalysis."""

    case_id: str
    computed_at: dt.datetime
    timezone: str
    window: tuple[dt.datetime, dt.datetime]
    stays: pa.Table
    path: dict
    comparison: pa.Table | None
    contacts: pa.Table | None
    provenance: list[dict]


STAYS = [  # seq, start hour (2026-11-02 UTC), hours, lat, lon, radius, place, sources
    (1, 0, 8, 37.5665, 126.9780, 150.0, "", "telecom"),
    (2, 9, 2, 37.5700, 126.9920, 30.0, "Cafe Namu", "card+telecom"),
    (3, 12, 3, 37.5600, 126.9750, 80.0, "City Library", "checkin+telecom"),
    (4, 16, 1, 37.5512, 126.9882, 400.0, "", "telecom"),
]


def sample_analysis(case_id: str = "C00001") -> Analysis:
    day = dt.datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        {
            "person_ref": "P1",
            "seq": seq,
            "start": day + dt.timedelta(hours=h),
            "end": day + dt.timedelta(hours=h + n),
            "lat": lat,
            "lon": lon,
            "radius_m": r,
            "place_name": place,
            "sources": src,
            "confidence": 0.9,
        }
        for seq, h, n, lat, lon, r, place, src in STAYS
    ]
    moves = [
        {
            "type": "Feature",
            "properties": {
                "start": a["end"].isoformat(),
                "end": b["start"].isoformat(),
                "mode": "walk",
            },
            "geometry": {
                "type": "LineString",
                "coordinates": [[a["lon"], a["lat"]], [b["lon"], b["lat"]]],
            },
        }
        for a, b in itertools.pairwise(rows)
    ]
    comparison = pa.Table.from_pylist(
        [
            {
                "status": "confirmed",
                "stay_seq": 2,
                "interview_row": 1,
                "place_name": "Cafe Namu",
                "start": rows[1]["start"],
                "end": rows[1]["end"],
                "lat": 37.57,
                "lon": 126.992,
                "distance_m": 12.0,
            },
            {
                "status": "data_only",
                "stay_seq": 3,
                "interview_row": None,
                "place_name": "City Library",
                "start": rows[2]["start"],
                "end": rows[2]["end"],
                "lat": 37.56,
                "lon": 126.975,
                "distance_m": None,
            },
            {
                "status": "interview_only",
                "stay_seq": None,
                "interview_row": 2,
                "place_name": "Gym Seoul",
                "start": rows[3]["start"],
                "end": rows[3]["end"],
                "lat": 37.55,
                "lon": 126.98,
                "distance_m": None,
            },
        ]
    )
    contacts = pa.Table.from_pylist(
        [
            {
                "person_ref": "P1",
                "contact_ref": "P2",
                "via": "card",
                "place_name": "Cafe Namu",
                "lat": 37.57,
                "lon": 126.992,
                "start": rows[1]["start"],
                "end": rows[1]["start"] + dt.timedelta(minutes=50),
                "overlap_min": 50.0,
                "score": 0.8,
            },
            {
                "person_ref": "P1",
                "contact_ref": "kt:0101",
                "via": "telecom",
                "place_name": "City Library",
                "lat": 37.56,
                "lon": 126.975,
                "start": rows[2]["start"],
                "end": rows[2]["start"] + dt.timedelta(minutes=30),
                "overlap_min": 30.0,
                "score": 0.4,
            },
        ]
    )
    return Analysis(
        case_id=case_id,
        computed_at=day + dt.timedelta(days=3),
        timezone="Asia/Seoul",
        window=(day - dt.timedelta(days=1), day + dt.timedelta(days=2)),
        stays=pa.Table.from_pylist(rows),
        path={"type": "FeatureCollection", "features": moves},
        comparison=comparison,
        contacts=contacts,
        provenance=[
            {
                "agency": "carrier-a",
                "task": "T1",
                "sha256": "ab" * 32,
                "rows": 120,
                "received_at": day,
            }
        ],
    )


def make_case(region: Any, person_ref: str = "P000001") -> Any:
    dates = CaseDates(
        specimen_date=dt.date(2026, 11, 4),
        confirmation_date=dt.date(2026, 11, 5),
        isolation_date=dt.date(2026, 11, 5),
        onset_date=dt.date(2026, 11, 3),
    )
    ids = Identifiers(
        name="Hong Gildong",
        birth_date=dt.date(1980, 1, 2),
        national_id="800102-1234567",
        address="1 Sejong-daero, Jung-gu",
        person_ref=person_ref,
        phones=["010-1234-5678"],
    )
    return register_case(region, dates, ids, by="test")


def without_path_and_token(html: bytes) -> bytes:
    """A page less what differs by request: the CSRF token and the page's own address."""
    html = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", html)
    return re.sub(rb'name="next" value="[^"]*"', b"", html)


@pytest.fixture
def with_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "latest_analysis", lambda case: sample_analysis(case.case_id))


def test_case_list_shows_only_the_jurisdiction(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    seoul, busan = make_case(places["seoul"]), make_case(places["busan"], "P000002")
    regional = signed_in(make_account(Role.REGIONAL_INVESTIGATOR)).get("/cases")
    assert regional.status_code == 200
    text = regional.content.decode()
    assert seoul.case_id in text and busan.case_id not in text
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, "nat")).get("/cases").content
    assert seoul.case_id.encode() in national and busan.case_id.encode() in national
    # Names never appear in a list.
    assert b"Hong Gildong" not in national


@pytest.mark.parametrize(
    "role", [Role.POLICE_APPROVER, Role.PROVIDER_OPERATOR, Role.AUDITOR, Role.ADMINISTRATOR]
)
def test_other_roles_may_not_open_case_pages(
    role: Role,
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(make_account(role))
    for page in ["/cases", "/cases/new", f"/cases/{case.case_id}", "/hotspots"]:
        assert client.get(page).status_code == 403, page


def test_a_case_outside_the_region_is_not_found_like_a_missing_one(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    busan = make_case(places["busan"])
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    outside, missing = client.get(f"/cases/{busan.case_id}"), client.get("/cases/C99999")
    assert outside.status_code == missing.status_code == 404
    assert without_path_and_token(outside.content) == without_path_and_token(missing.content)


def test_registration_form_creates_an_encrypted_case_and_audits_it(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    form = {
        "region": "11140",
        "name": "Kim Minji",
        "birth_date": "1990-05-06",
        "national_id": "900506-2345678",
        "address": "2 Jong-ro",
        "person_ref": "P000760",
        "phones": "010-2222-3333, +82 10 4444 5555",
        "onset_date": "2026-11-01",
        "specimen_date": "2026-11-02",
        "confirmation_date": "2026-11-03",
        "isolation_date": "2026-11-03",
    }
    answer = client.post("/cases/new", form)
    assert answer.status_code == 302
    case_id = answer["Location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"C\d{5}", case_id)
    assert AuditEntry.objects.filter(action="case.created", detail__case_id=case_id).exists()
    # A region outside the jurisdiction is refused, and the values are not echoed back.
    refused = client.post("/cases/new", {**form, "region": "26110"})
    assert refused.status_code == 400 and b"region" in refused.content
    assert b"Kim Minji" not in refused.content and b"900506" not in refused.content


def test_case_page_shows_the_analysis_and_audits_the_view(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    page = client.get(f"/cases/{case.case_id}")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('<tr id="stay-') == len(STAYS)
    assert 'data-stays="4"' in text
    for status in ("confirmed", "only-in-data", "only-in-interview"):
        assert f'id="comparison-{status}"' in text
    assert "Gym Seoul" in text  # only in the interview
    # Contacts ranked with their evidence per stay: P2 (0.8) before kt:0101 (0.4).
    assert text.index(">P2<") < text.index(">kt:0101<")
    assert 'id="contacts-stay-2"' in text and 'id="contacts-stay-3"' in text
    data = json.loads(re.search(r'id="case-map-data"[^>]*>(.*?)</script>', text, re.S).group(1))
    assert len(data["stays"]) == 4 and data["stays"][1]["source"] == "card"
    assert len(data["moves"]) == 3 and data["time_zone"] == "Asia/Seoul"
    # Times are shown in the user's zone (Asia/Seoul by default): 09:00 UTC is 18:00 KST.
    assert "11-02 18:00" in text
    # No name without a purpose; the view is in the audit log.
    assert "Hong Gildong" not in text
    entry = AuditEntry.objects.filter(action="result.view", object_id=case.case_id).last()
    assert entry is not None and entry.detail["allowed"] is True
    # With a purpose: the identifiers, and a case.view entry carrying that purpose.
    named = client.get(f"/cases/{case.case_id}", {"purpose": "calling the patient"})
    assert "Hong Gildong" in named.content.decode()
    viewed = AuditEntry.objects.filter(action="case.view", object_id=case.case_id).last()
    assert shown_detail(viewed.detail)["purpose"] == "calling the patient"


def test_case_page_loads_only_the_hubs_own_scripts(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    case = make_case(places["seoul"])
    page = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get(f"/cases/{case.case_id}")
    scripts = re.findall(r"<script([^>]*)>", page.content.decode())
    assert scripts  # the data block and the page's module
    for attributes in scripts:
        assert 'type="application/json"' in attributes or 'src="/static/' in attributes
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    assert "worker-src 'self'" in page["Content-Security-Policy"]


def hotspot_views() -> list[AuditEntry]:
    """The hotspot page's recorded views of results (their purpose, as auditors read it)."""
    views = AuditEntry.objects.filter(action="result.view")
    return [e for e in views if shown_detail(e.detail).get("purpose", "").startswith("hotspot")]


def test_case_page_without_analysis_says_so(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])
    page = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get(f"/cases/{case.case_id}")
    assert page.status_code == 200 and b"No analysis yet" in page.content
    assert b"case-map-data" not in page.content


def test_hotspot_page_scans_the_visible_cases(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    cases = [make_case(places["seoul"], f"P{n:06d}") for n in range(3)]
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    first = client.get("/hotspots")  # the scan runs in the background, not in the request
    assert first.status_code == 200 and b'id="hotspot-progress"' in first.content
    assert b"hotspot-map-data" not in first.content
    assert jobs.run_pending() == 1
    page = client.get("/hotspots")
    assert page.status_code == 200 and b'id="hotspot-progress"' not in page.content
    data = json.loads(
        re.search(r'id="hotspot-map-data"[^>]*>(.*?)</script>', page.content.decode(), re.S).group(
            1
        )
    )
    # Daytime stays only (the one covering 03:00 KST is the night at home), one per place.
    assert {e["case_id"] for e in data["events"]} == {c.case_id for c in cases}
    assert len(hotspot_views()) == len(cases)


def test_hotspot_page_shows_the_last_result_while_a_new_scan_runs(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    cases = [make_case(places["seoul"], f"P{n:06d}") for n in range(2)]
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    client.get("/hotspots")
    jobs.run_pending()
    assert client.get("/hotspots/progress")["HX-Refresh"] == "true"  # done: reload the page
    make_case(places["seoul"], "P000009")  # the visible cases change: the cache is stale
    page = client.get("/hotspots", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "스캔 중… 0 %" in page and 'id="hotspot-computed"' in page
    assert 'hx-get="/hotspots/progress"' in page
    assert len(hotspot_views()) == len(cases), "the last result shown: its cases viewed once"
    assert "HX-Refresh" not in client.get("/hotspots/progress")
    assert jobs.run_pending() == 1


def test_static_files_are_served_by_the_hub(client: Client) -> None:
    css = client.get("/static/hub.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    script = client.get("/static/epitrace/case-page.js")
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    # MapLibre's ES modules, the worker beside the library (vendored by scripts/vendor-frontend.sh).
    for module in ("maplibre-gl.mjs", "maplibre-gl-worker.mjs"):
        answer = client.get(f"/static/vendor/maplibre-gl/{module}")
        assert answer.status_code == 200, module
        assert answer["Content-Type"].startswith("text/javascript"), module
    assert client.get("/static/vendor/maplibre-gl/LICENSE.txt").status_code == 200


def test_language_switch_is_saved_per_user(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    user = make_account(Role.NATIONAL_INVESTIGATOR)
    client = signed_in(user)
    assert b'lang="en"' in client.get("/cases").content
    switched = client.post("/preferences/language", {"language": "ko", "next": "/cases"})
    assert switched.status_code == 302 and switched["Location"] == "/cases"
    page = signed_in(user).get("/cases").content.decode()  # a new session: the saved choice
    assert 'lang="ko"' in page and "확진자" in page
    # An address elsewhere is not followed.
    away = client.post("/preferences/language", {"language": "en", "next": "https://evil.example/"})
    assert away["Location"] == "/"


def test_time_zone_preference_changes_the_times_shown(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    with_analysis: None,
) -> None:
    case = make_case(places["seoul"])
    user = make_account(Role.NATIONAL_INVESTIGATOR)
    client = signed_in(user)
    saved = client.post("/preferences", {"language": "en", "time_zone": "UTC"})
    assert saved.status_code == 200
    assert "11-02 09:00" in client.get(f"/cases/{case.case_id}").content.decode()
    bad = client.post("/preferences", {"language": "en", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 400


def test_a_tile_server_is_the_only_other_origin_the_maps_may_use() -> None:
    from epitrace.hub.security import CONTENT_SECURITY_POLICY, content_security_policy

    assert content_security_policy("") == CONTENT_SECURITY_POLICY
    policy = content_security_policy("https://tiles.internal:8443/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tiles.internal:8443;" in policy
    assert "connect-src 'self' https://tiles.internal:8443;" in policy
    assert "script-src 'self';" in policy and "worker-src 'self';" in policy


def test_case_page_without_an_interview_says_so(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = make_case(places["seoul"])
    without = dataclasses.replace(sample_analysis(case.case_id), comparison=None)
    monkeypatch.setattr(results, "latest_analysis", lambda _: without)
    page = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get(f"/cases/{case.case_id}")
    text = page.content.decode()
    assert "No interview record" in text and 'id="comparison-confirmed"' not in text


AT_SEA = (36.0, 125.0)  # the Yellow Sea west of Taean: no district holds it


def analysis_with_a_stay_at_sea(case_id: str) -> Analysis:
    """The sample analysis with its last stay (unnamed, seq 4) out at sea."""
    analysis = sample_analysis(case_id)
    rows = analysis.stays.to_pylist()
    rows[-1] |= {"lat": AT_SEA[0], "lon": AT_SEA[1]}
    return dataclasses.replace(analysis, stays=pa.Table.from_pylist(rows))


def stay_row(page: str, seq: int) -> str:
    return re.search(rf'<tr id="stay-{seq}".*?</tr>', page, re.S).group(0)


def test_a_stay_at_sea_reads_so_in_the_language_of_the_page(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = make_case(places["seoul"])
    monkeypatch.setattr(
        results, "latest_analysis", lambda _: analysis_with_a_stay_at_sea(_.case_id)
    )
    with translation.override("ko"):
        korean_words = translation.gettext("outside Korea or at sea")
    assert re.search(r"[가-힣]", korean_words)
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    for language, words in (("en", "outside Korea or at sea"), ("ko", korean_words)):
        client.post("/preferences/language", {"language": language, "next": "/cases"})
        page = client.get(f"/cases/{case.case_id}").content.decode()
        assert f'lang="{language}"' in page
        assert words in stay_row(page, 4)
        data = json.loads(re.search(r'id="case-map-data"[^>]*>(.*?)</script>', page, re.S)[1])
        assert data["stays"][3]["district"] == words == data["stays"][3]["label"]
        other = korean_words if language == "en" else "outside Korea or at sea"
        assert other not in page


def test_an_analysis_shaped_in_one_language_is_worded_in_the_one_it_is_rendered_in() -> None:
    with translation.override("en"):
        view = case_analysis.view_of(analysis_with_a_stay_at_sea("C00001"))
    with translation.override("ko"):
        assert str(view.stays[3].district) == translation.gettext("outside Korea or at sea")
        assert str(view.stays[3].district) != "outside Korea or at sea"
    with translation.override("en"):
        assert str(view.stays[3].label) == "outside Korea or at sea"
