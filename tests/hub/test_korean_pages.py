"""Every page of the hub, for every role that may open it, in Korean (issue #19): no
visible English word outside a short allowlist.

Visible text is what a person reads: the rendered HTML's text nodes (not scripts nor
styles) and the attributes shown to people (title, placeholder, aria-label, alt, and
the value of buttons). A word is a run of two or more Latin letters; the allowlist
below names the product and format names, and codes are left out where the page shows
them as codes (an auditor types an action's code into a filter).

``PAGES`` lists every page route of the url confs (hub/*/urls.py), the roles that may
see it and the data it needs; the seed makes a case with an analysis, requests (one
approved, one refused), a disclosure draft and audit entries. The pages of the other
parts of issue #19 are rendered but not yet asserted: ``NOT_YET_ASSERTED``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from disclosure_analyses import simulated_analysis
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from hub_seed import ask, make_case

from epitrace.hub.accounts.models import Agency, Region, Role
from epitrace.hub.accounts.roles import assign_role
from epitrace.hub.exchange import results

pytestmark = pytest.mark.django_db

# Names that are not English words to translate: the product, formats and standards,
# units and zone abbreviations people read as they are, carrier brands.
ALLOWED_WORDS = frozenset(
    {
        "epitrace",  # the product
        "CSV", "PDF", "GeoJSON", "JSON", "Parquet", "FHIR", "AuditEvent",  # formats
        "TOTP", "QR", "API", "HTTP", "IP", "GPS",  # standards and technologies
        "KST", "UTC", "Asia", "Seoul",  # time zones (Asia/Seoul is the zone's name)
        "YYYY", "MM", "DD", "HH",  # date formats shown as hints
        "SKT", "KT", "LG", "U+",  # carrier brands
        "English",  # the language switch offers English by its own name
    }
)  # fmt: skip
WORD = re.compile(r"[A-Za-z]{2,}")
# Text of a <code> element without a space is a code (an action's, a seal, a key, an
# address), not prose; so is an address in running text (/api/users).
CODE = re.compile(r"^\S+$|^epitrace( [a-z-]+)+$")
ADDRESS = re.compile(r"(?<![\w.])/[a-z0-9_./-]+")
COMMAND = re.compile(r"\bepitrace(?: (?:audit|purge|verify|demo|agent))+\b")  # the CLI's
USER_VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class VisibleText(HTMLParser):
    """The text a person reads on a page (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0  # inside <script>, <style>, <template>
        self._code: list[str] | None = None
        # Open elements marked lang="en": a deliberate English second label (a district's
        # romanised name beside its Korean one), announced as English to screen readers.
        self._english: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if tag == "code":
            self._code = []
        if (values.get("lang") or "").startswith("en") or self._english:
            self._english.append(tag)
            return
        for name in USER_VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.parts.append(str(values[name]))
        submit = tag == "input" and values.get("type") in ("submit", "button", "reset")
        if submit and values.get("value"):
            self.parts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self._english and self._english[-1] == tag:
            self._english.pop()
        if tag in ("script", "style", "template"):
            self._hidden = max(0, self._hidden - 1)
        if tag == "code" and self._code is not None:
            text = "".join(self._code).strip()
            if not CODE.match(text):
                self.parts.append(text)
            self._code = None

    def handle_data(self, data: str) -> None:
        if self._hidden or self._english:
            return
        if self._code is not None:
            self._code.append(data)
        else:
            self.parts.append(data)


def english_words(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    text = COMMAND.sub(" ", ADDRESS.sub(" ", " ".join(parser.parts)))
    words = WORD.findall(text)
    return sorted({w for w in words if w not in ALLOWED_WORDS})


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
NOT_YET_ASSERTED = frozenset(
    {
        "cases", "case-new", "case", "request-new", "exports", "hotspots",
    }
)  # fmt: skip


@pytest.fixture
def seeded(
    places: dict[str, Any],
    signed_in: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    csv_city: Path,
) -> dict[str, Any]:
    """A case with an analysis, two requests (one awaiting the police, one refused), a
    disclosure draft, audit entries: the data every page above needs. Names are Korean,
    as they are in service; usernames have no two Latin letters in a row."""
    Region.objects.filter(code="seoul").update(name="서울특별시")
    Region.objects.filter(code="busan").update(name="부산광역시")
    Agency.objects.filter(code="carrier-a").update(name="가통신사")
    Agency.objects.filter(code="cards-b").update(name="나카드")
    accounts = {role: korean_account(role, f"u{n}", places) for n, role in enumerate(Role)}
    case = make_case(places["seoul"])
    analysis = simulated_analysis(csv_city, case.case_id)
    monkeypatch.setattr(results, "latest_analysis", lambda found: analysis)
    investigator = signed_in(accounts[Role.REGIONAL_INVESTIGATOR])
    police = signed_in(accounts[Role.POLICE_APPROVER])
    waiting = ask(investigator, case, ["telecom", "cards"])
    refused = ask(investigator, case, ["transit"])
    police.post(f"/requests/{refused.request_id}/decision",
                {"decision": "refuse", "reason": "요청 범위가 지나치게 넓음"})  # fmt: skip
    investigator.post(f"/cases/{case.case_id}/disclosure/prepare")
    investigator.post(f"/cases/{case.case_id}", {"purpose": "역학조사 동선 확인"})
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


def english_lines(html: str) -> list[str]:
    """The visible texts holding English words: for a failure's message."""
    parser = VisibleText()
    parser.feed(html)
    return [p.strip() for p in parser.parts if english_words(f"<p>{p}</p>")]
