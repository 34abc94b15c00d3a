"""Every page of the hub, for every role that may open it, in Korean (issue #19): no
visible English word outside a short allowlist.

The detector and its allowlist are in ``tests/support/visible_text.py`` (the offline
report's test uses them too).

``PAGES`` lists every page route of the url confs (hub/*/urls.py), the roles that may
see it and the data it needs; the seed makes a case with an analysis, requests (one
approved, one refused), a disclosure draft and audit entries. The pages of the other
parts of issue #19 are rendered but not yet asserted: ``NOT_YET_ASSERTED``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from disclosure_analyses import simulated_analysis
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from hub_seed import ask, cluster, make_case, scanned
from visible_text import english_lines, english_words

from epitrace.analysis.trajectory.interview import (
    COMPARISON_SCHEMA,
    CONFIRMED,
    DATA_ONLY,
    INTERVIEW_ONLY,
    NOTE_ADDRESS_ONLY,
    NOTE_NO_DATA,
    NOTE_NOT_MENTIONED,
)
from epitrace.hub.accounts.models import Agency, Region, Role
from epitrace.hub.accounts.roles import assign_role
from epitrace.hub.exchange import results

pytestmark = pytest.mark.django_db


def test_the_detector_finds_english_and_spares_codes_and_scripts() -> None:
    html = (
        "<html><head><title>감사 기록</title><style>body{color:red}</style></head><body>"
        '<p title="Open">열기</p><code>case.view</code><code>Hello world</code>'
        '<input type="submit" value="Send"><input name="x" value="typed"><script>var a;</script>'
        "<p>CSV 파일 C00001</p></body></html>"
    )
    assert english_words(html) == ["Hello", "Open", "Send", "world"]


def test_the_detector_spares_english_marked_as_english() -> None:
    html = (
        '<p>대구광역시 북구 <small>(<span lang="en">Buk-gu, <b>Daegu</b></span>)</small> Left</p>'
    )
    assert english_words(html) == ["Left"]


# --- the hub's pages ----------------------------------------------------------

EVERY_ROLE = tuple(Role)
INVESTIGATORS = (Role.NATIONAL_INVESTIGATOR, Role.REGIONAL_INVESTIGATOR)


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # {case} and {request}: the seeded case's and request's numbers
    roles: tuple[Role | None, ...]  # None: nobody signed in (or half-way)
    method: str = "get"
    status: int = 200


PAGES = [
    # accounts/urls.py
    Page("login", "/login", (None,)),
    Page("enrol", "/enrol", (None,)),  # password given, no authenticator yet
    Page("verify", "/verify", (None,)),  # password given, the code not yet
    Page("password", "/password", EVERY_ROLE),
    Page("regions", "/regions", INVESTIGATORS),
    Page("users", "/users", (Role.ADMINISTRATOR,)),
    Page("users-add-refused", "/users", (Role.ADMINISTRATOR,), method="post", status=400),
    Page("user", "/users/{user}", (Role.ADMINISTRATOR,)),
    Page("own-account", "/users/{admin}", (Role.ADMINISTRATOR,)),
    Page("password-reset", "/users/{user}/password-reset", (Role.ADMINISTRATOR,), method="post"),
    # audit/urls.py
    Page("audit", "/audit", (Role.AUDITOR,)),
    Page("audit-verify", "/audit/verify", (Role.AUDITOR,), method="post"),
    Page("audit-review", "/audit/review", (Role.AUDITOR,)),
    # cases/urls.py
    Page("cases", "/cases", INVESTIGATORS),
    Page("case-new", "/cases/new", INVESTIGATORS),
    Page("case", "/cases/{case}", INVESTIGATORS),
    # disclosure/urls.py
    Page("disclosure-review", "/cases/{case}/disclosure", INVESTIGATORS),
    Page("public-exposures", "/public/exposures", (None,)),
    # exchange/urls.py
    Page("request-new", "/cases/{case}/request", INVESTIGATORS),
    Page("interview", "/cases/{case}/interview", INVESTIGATORS),
    Page("interview-refused", "/cases/{case}/interview", INVESTIGATORS, method="post", status=422),
    Page("exports", "/cases/{case}/exports", INVESTIGATORS),
    Page("requests", "/requests", (*INVESTIGATORS, Role.POLICE_APPROVER, Role.PROVIDER_OPERATOR)),
    Page("request", "/requests/{request}", (*INVESTIGATORS, Role.POLICE_APPROVER)),
    Page("request-decided", "/requests/{refused}", (*INVESTIGATORS, Role.POLICE_APPROVER)),
    Page("notifications", "/notifications", EVERY_ROLE),
    Page("hotspots", "/hotspots", INVESTIGATORS),
    # retention/urls.py
    Page("retention", "/retention", (Role.ADMINISTRATOR,)),
    # web/urls.py
    Page("home", "/", EVERY_ROLE),
    Page("dashboard", "/dashboard", (*INVESTIGATORS, Role.ADMINISTRATOR)),
    Page("preferences", "/preferences", EVERY_ROLE),
    # The refusal pages: a role that may not (403), an object that is not there (404).
    Page("refused", "/audit", (Role.POLICE_APPROVER, Role.NATIONAL_INVESTIGATOR), status=403),
    Page("not-found", "/requests/R99999", (Role.POLICE_APPROVER,), status=404),
]
# Pages that the other parts of issue #19 make Korean (the case page and its map, the
# hotspots, the exports, the disclosure, the account forms): rendered for every role
# above, not yet asserted. Each of those branches removes its pages from this set.
NOT_YET_ASSERTED: frozenset[str] = frozenset()


@pytest.fixture
def seeded(
    places: dict[str, Any],
    signed_in: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    csv_city: Path,
) -> dict[str, Any]:
    """A case with an analysis, two requests (one awaiting the police, one refused), a
    disclosure draft, a hotspot scan's result, audit entries: the data every page above
    needs. Names are Korean, as they are in service; usernames have no two Latin letters
    in a row."""
    Region.objects.filter(code="seoul").update(name="서울특별시")
    Region.objects.filter(code="busan").update(name="부산광역시")
    Agency.objects.filter(code="carrier-a").update(name="가통신사")
    Agency.objects.filter(code="cards-b").update(name="나카드")
    accounts = {role: korean_account(role, f"u{n}", places) for n, role in enumerate(Role)}
    case = make_case(places["seoul"])
    analysis = in_korean(simulated_analysis(csv_city, case.case_id))
    monkeypatch.setattr(results, "latest_analysis", lambda found: analysis)
    investigator = signed_in(accounts[Role.REGIONAL_INVESTIGATOR])
    police = signed_in(accounts[Role.POLICE_APPROVER])
    waiting = ask(investigator, case, ["telecom", "cards"])
    refused = ask(investigator, case, ["transit"])
    police.post(f"/requests/{refused.request_id}/decision",
                {"decision": "refuse", "reason": "요청 범위가 지나치게 넓음"})  # fmt: skip
    investigator.post(f"/cases/{case.case_id}/disclosure/prepare")
    investigator.post(f"/cases/{case.case_id}", {"purpose": "역학조사 동선 확인"})
    # A hotspot scan's result: a suspected outbreak area and a cluster not significant.
    scanned([case], [cluster(1, 0.002, [case.case_id]), cluster(2, 0.93, [case.case_id])])
    return {
        "accounts": accounts,
        "values": {
            "case": case.case_id,
            "request": waiting.request_id,
            "refused": refused.request_id,
            "user": accounts[Role.AUDITOR].username,
            "admin": accounts[Role.ADMINISTRATOR].username,
        },
    }


KOREAN_PLACES = ("다솔국밥", "화신갈비", "가온갈비", "동성로 카페", "칠성시장")


def in_korean(analysis: Any) -> Any:
    """The simulated analysis as it reads in service: places named in Korean (the city
    names them in romanised Korean), an interview compared, the answers it used."""
    names = {}
    for name in analysis.stays.column("place_name").to_pylist():
        if name and name not in names:
            names[name] = KOREAN_PLACES[len(names) % len(KOREAN_PLACES)]

    def renamed(table: pa.Table) -> pa.Table:
        column = [names.get(n, n) for n in table.column("place_name").to_pylist()]
        index = table.schema.get_field_index("place_name")
        return table.set_column(index, "place_name", pa.array(column, pa.string()))

    stays = renamed(analysis.stays)
    first, second = stays.to_pylist()[:2]
    comparison = pa.Table.from_pylist(
        [
            {"status": CONFIRMED, "stay_seq": first["seq"], "interview_row": 1,
             "place_name": first["place_name"], "start": first["start"], "end": first["end"],
             "distance_m": None, "note": NOTE_ADDRESS_ONLY},
            {"status": DATA_ONLY, "stay_seq": second["seq"], "interview_row": None,
             "place_name": second["place_name"], "start": second["start"],
             "end": second["end"], "distance_m": None, "note": NOTE_NOT_MENTIONED},
            {"status": INTERVIEW_ONLY, "stay_seq": None, "interview_row": 2,
             "place_name": "할머니 댁", "start": first["start"], "end": first["end"],
             "distance_m": None, "note": NOTE_NO_DATA},
        ],
        schema=COMPARISON_SCHEMA,
    )  # fmt: skip
    provenance = [
        {"agency": "carrier-a", "task": 1, "round": 1, "sha256": "ab" * 32, "rows": 40},
        {"agency": "cards-b", "task": 2, "round": 1, "declined": "보관 기간 경과"},
    ]
    return dataclasses.replace(
        analysis,
        stays=stays,
        contacts=renamed(analysis.contacts),
        comparison=comparison,
        provenance=provenance,
    )


def korean_account(role: Role, username: str, places: dict[str, Any]) -> Any:
    """An account as an administrator grants it in service: a reason in Korean."""
    user = get_user_model().objects.create(username=username, password="!")  # force_login
    TOTPDevice.objects.create(user=user, name="인증 앱", confirmed=True)
    binding: dict[str, Any] = {}
    if role == Role.REGIONAL_INVESTIGATOR:
        binding["region"] = places["seoul"]
    if role == Role.PROVIDER_OPERATOR:
        binding["agency"] = places["carrier"]
    assign_role(user, role, by="u9", reason="신규 담당자 배정", **binding)
    return user


def client_for(role: Role | None, page: Page, seeded: dict[str, Any], signed_in: Any) -> Client:
    if role is not None:
        return signed_in(seeded["accounts"][role])
    if page.name == "verify":  # the password given, the second factor not yet
        return signed_in(seeded["accounts"][Role.AUDITOR], second_factor=False)
    if page.name == "enrol":
        user = seeded["accounts"][Role.AUDITOR]
        TOTPDevice.objects.filter(user=user).delete()
        return signed_in(user, second_factor=False)
    return Client()


def rendered(page: Page, role: Role | None, seeded: dict[str, Any], signed_in: Any) -> str:
    client = client_for(role, page, seeded, signed_in)
    answer = getattr(client, page.method)(page.path.format(**seeded["values"]))
    assert answer.status_code == page.status, (page.name, role, answer.status_code)
    html = answer.content.decode()
    assert '<html lang="ko">' in html, (page.name, role)
    return html


def test_every_page_route_is_listed() -> None:
    """A new page must join PAGES (and, if it is not Korean yet, NOT_YET_ASSERTED)."""
    from epitrace.hub import urls

    routes = set()
    for included in urls.urlpatterns:
        for pattern in included.url_patterns:
            route = str(pattern.pattern)
            routes.add(route)
    not_pages = {
        "logout",
        "audit/export.csv",
        "audit/export.fhir",
        "public/exposures.json",
        "cases/<str:case_id>/disclosure/<slug:step>",
        "users/<str:username>/<slug:step>",
        "role-grants/<int:pk>/<slug:decision>",
        "cases/<str:case_id>/exports/<str:name>",
        "requests/<str:request_id>/status",
        "requests/<str:request_id>/decision",
        "hotspots/progress",
        "static/hub.css",
        "favicon.ico",
        "map/base.geojson",
        "map/outlines.geojson",
        "map/palette.css",
        "map/streets.pmtiles",
        "preferences/language",
    }  # fmt: skip  (files, fragments and form posts, shown on the pages listed)
    listed = {
        re.sub(r"\{(case|request|refused|user|admin)\}", "<id>", p.path.lstrip("/")) for p in PAGES
    }
    for route in routes - not_pages:
        if route.startswith("api/"):
            continue
        shape = re.sub(r"<str:(case_id|request_id|username)>", "<id>", route)
        assert shape in listed, f"route {route!r} is in no Page of PAGES"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_page_is_korean_for_every_role(
    page: Page, seeded: dict[str, Any], signed_in: Callable[..., Client]
) -> None:
    for role in page.roles:
        html = rendered(page, role, seeded, signed_in)
        if page.name in NOT_YET_ASSERTED:
            continue
        words = english_words(html)
        where = english_lines(html)[:12]
        assert not words, f"{page.name} as {role}: English on the Korean page: {words} {where}"
