"""The server-rendered pages: sign-in with TOTP, and each role sees only its own links."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts.models import Role

PASSWORD = "violet-harbour-lantern-47"  # the test accounts' password (conftest.py)

pytestmark = pytest.mark.django_db

PAGES = ["/regions", "/users", "/audit", "/audit/review"]
# Which pages each role may open (the rest answer 403), as policy.RULES says.
MAY_OPEN: dict[Role | None, set[str]] = {
    Role.NATIONAL_INVESTIGATOR: {"/regions"},
    Role.REGIONAL_INVESTIGATOR: {"/regions"},
    Role.POLICE_APPROVER: set(),
    Role.PROVIDER_OPERATOR: set(),
    Role.AUDITOR: {"/audit", "/audit/review"},
    Role.ADMINISTRATOR: {"/users"},
    None: set(),
}


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


def without_token(html: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", html)


@pytest.mark.parametrize("role", list(MAY_OPEN), ids=lambda r: str(r or "no-role"))
def test_each_role_sees_only_its_pages(
    role: Role | None, make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(role))
    home = client.get("/")
    assert home.status_code == 200
    text = home.content.decode()
    assert (role.label if role else "no role") in text
    for page in PAGES:
        linked = f'href="{page}"' in text
        status = client.get(page).status_code
        expected = page in MAY_OPEN[role]
        assert linked == expected, (role, page)
        assert status == (200 if expected else 403), (role, page, status)


def test_home_shows_the_jurisdiction(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    regional = signed_in(make_account(Role.REGIONAL_INVESTIGATOR)).get("/").content.decode()
    assert "서울특별시 중구" in regional and "Jung-gu, Seoul" in regional and "11140" in regional
    provider = signed_in(make_account(Role.PROVIDER_OPERATOR)).get("/").content.decode()
    assert '<dd id="agency">Carrier A</dd>' in provider
    national = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/").content.decode()
    assert "nationwide" in national


def test_regional_investigator_sees_only_its_region(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    page = signed_in(make_account(Role.REGIONAL_INVESTIGATOR)).get("/regions").content.decode()
    assert "서울특별시 중구" in page and "부산광역시" not in page and "종로구" not in page
    page = signed_in(make_account(Role.NATIONAL_INVESTIGATOR)).get("/regions").content.decode()
    assert "서울특별시 중구" in page and "부산광역시 중구" in page


def test_pages_need_both_factors(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    for page in ["/", *PAGES]:
        assert Client().get(page)["Location"] == "/login"
    half = signed_in(make_account(Role.AUDITOR), second_factor=False)
    for page in ["/", *PAGES]:
        assert half.get(page)["Location"] == "/verify"


def test_password_then_totp(make_account: Callable[..., Any]) -> None:
    user = make_account(Role.AUDITOR)
    client = Client()
    wrong = client.post("/login", {"username": user.username, "password": "not-it-at-all"})
    assert wrong.status_code == 401 and b"Invalid username or password" in wrong.content
    unknown = Client().post("/login", {"username": "nobody-here", "password": "not-it-at-all"})
    # The same answer for both (but for each form's own CSRF token).
    assert without_token(unknown.content) == without_token(wrong.content)
    answer = client.post("/login", {"username": user.username, "password": PASSWORD})
    assert answer["Location"] == "/verify"
    assert client.post("/verify", {"token": "000000x"}).status_code == 401
    device = TOTPDevice.objects.get(user=user)
    device.throttle_reset()  # a wrong code slows the next attempt down (django-otp)
    code = current_code(device)
    assert client.post("/verify", {"token": code})["Location"] == "/"
    assert b"Auditor" in client.get("/").content
    assert client.post("/logout")["Location"] == "/login"
    assert client.get("/")["Location"] == "/login"


def test_first_sign_in_enrols_with_a_qr_code(places: dict[str, Any]) -> None:
    user = get_user_model().objects.create(username="newcomer", password=make_password(PASSWORD))
    client = Client()
    answer = client.post("/login", {"username": "newcomer", "password": PASSWORD})
    assert answer["Location"] == "/enrol"
    page = client.get("/enrol").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page and "otpauth://totp/" in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    codes_page = client.post("/enrol", {"token": current_code(device)})
    assert codes_page.status_code == 200
    assert codes_page.content.decode().count("<li>") == 10  # the recovery codes, once
    assert client.get("/enrol")["Location"] == "/verify"  # never shown again
    assert client.get("/").status_code == 200  # no role, but signed in


def test_pages_keep_the_strict_csp(
    make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    client = signed_in(make_account(Role.AUDITOR))
    for page in ["/", "/audit", "/audit/review"]:
        answer = client.get(page)
        assert "script-src 'self'" in answer["Content-Security-Policy"]
        assert b"<script" not in answer.content and b"style=" not in answer.content
    assert Client().get("/static/hub.css")["Content-Type"].startswith("text/css")


def test_a_locked_out_person_sees_the_sign_in_page_with_the_reason(
    make_account: Callable[..., Any],
) -> None:
    name = make_account(Role.AUDITOR).username
    client = Client()
    for _ in range(5):
        client.post("/login", {"username": name, "password": "wrong-password-123456"})
    page = client.post("/login", {"username": name, "password": PASSWORD})
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert b"or until an administrator unlocks it" in page.content
    api = Client().post(
        "/api/login", {"username": name, "password": PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 403 and api["Content-Type"] == "application/json"
