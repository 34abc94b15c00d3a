"""Browser tests: headless Debian chromium driven by Playwright against a live hub.

Chromium comes from Debian (scripts/install-browser.sh, run by ``make test``); Playwright's
own browser download needs the internet. Without chromium the tests fail under CI and
are skipped locally, with the reason. Screenshots go to a temporary folder, or to
``EPITRACE_SCREENSHOTS`` (``docs/screenshots`` refreshes the README's).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.demo import demo_config
from epitrace.formats.readers import read_dataset_table
from epitrace.hub.accounts.models import Role
from epitrace.hub.accounts.roles import assign_role
from epitrace.hub.exchange import workflow
from epitrace.hub.exchange.credentials import issue_token
from epitrace.hub.exchange.models import Status
from epitrace.hub.exchange.provisioning import register_dataset_cases, register_store_agencies
from epitrace.hub.web.models import Preference
from epitrace.providers.store import build_stores
from epitrace.simulate import simulate_city
from epitrace.simulate.run import cases_confirmed_last

# Playwright's sync API runs an event loop in this thread; Django's ORM, called by the
# tests between browser steps, would otherwise refuse to run "from an async context".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("EPITRACE_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VENDOR = Path(__file__).parents[2] / "src/epitrace/hub/web/static/vendor"
PASSWORD = "quiet-orchard-compass-62"
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _missing() -> str:
    if not CHROMIUM.exists():
        return f"Debian's chromium is not installed ({CHROMIUM}); run scripts/install-browser.sh"
    if not (VENDOR / "maplibre-gl/maplibre-gl.mjs").exists():
        return "the front-end libraries are not vendored; run scripts/vendor-frontend.sh"
    return ""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("EPITRACE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def live_hub(
    request: pytest.FixtureRequest, transactional_db: None, settings: Any, tmp_path: Path
) -> str:
    """The hub served over plain HTTP on loopback, as the demo serves it."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.HOME = tmp_path
    settings.LANGUAGE_CODE = "en"
    # The server (one per session) is started only now: its middleware reads the HTTPS
    # redirect setting once, when it is built.
    return request.getfixturevalue("live_server").url


@pytest.fixture
def account(transactional_db: None) -> Callable[..., Any]:
    """An account with a role and a confirmed TOTP device."""

    def make(username: str, role: str, **binding: Any) -> Any:
        user = get_user_model().objects.create(username=username, password=make_password(PASSWORD))
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        assign_role(user, role, by="setup", reason="browser test", **binding)
        return user

    return make


def current_code(user: Any) -> str:
    device = TOTPDevice.objects.get(user=user)
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


@pytest.fixture
def contexts(browser: Any, live_hub: str) -> Iterator[Callable[..., Any]]:
    """New browser contexts, all closed before the live server's test database goes (so
    that no page still polls the hub after its test)."""
    opened: list[Any] = []

    def new_context(viewport: dict[str, int] = LAPTOP) -> Any:
        context = browser.new_context(viewport=viewport, locale="en-GB")
        opened.append(context)
        return context

    yield new_context
    for context in opened:
        context.close()


def sign_in(
    contexts: Callable[..., Any], base: str, user: Any, viewport: dict[str, int] = LAPTOP
) -> Any:
    """A new browser context signed in as ``user`` through the pages: password, then TOTP."""
    page = contexts(viewport).new_page()
    page.goto(f"{base}/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/verify")
    page.fill("input[name=token]", current_code(user))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page (loaded from the hub's own
    static files: the CSP allows only 'self' scripts)."""
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# --- the demo's city, analysed: for the disclosure and the interview ------------------


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small city dated as the demo dates its own (ending yesterday in Seoul), and
    each agency's store cut from it."""
    root = tmp_path_factory.mktemp("demo-city")
    config = demo_config(residents=800, days=7)
    assert config.start + dt.timedelta(days=7) == dt.datetime.now(workflow.local_zone()).date()
    simulate_city(config, root / "city", fmt="csv")
    build_stores(root / "city", root / "stores")
    return {"city": root / "city", "stores": root / "stores"}


@pytest.fixture
def analysed_case(live_hub: str, account: Any, demo_city: dict[str, Path]) -> dict[str, Any]:
    """The case confirmed last, its data asked for, approved and analysed (the pages of
    that are tests/browser/test_pages.py's)."""
    from .test_pages import run_exchange  # the agents and the job runner, as there

    agencies = register_store_agencies(demo_city["stores"])
    cases = read_dataset_table(demo_city["city"], "cases")
    assert cases is not None
    (case,) = register_dataset_cases(demo_city["city"], cases_confirmed_last(cases.table, 1))
    investigator = account("inv", Role.NATIONAL_INVESTIGATOR)
    police = account("cop", Role.POLICE_APPROVER)
    Preference.objects.create(user=investigator, language="ko")
    hub = {
        "agencies": {a.code: a for a in agencies},
        "tokens": {a.code: issue_token(a.agency, by="admin") for a in agencies},
    }
    for user in (investigator, police):
        user.is_verified = lambda: True  # signed in with both factors, as on the pages
    kinds = ["telecom", "cards", "transit", "checkins"]
    request = workflow.create_request(investigator, case, kinds, "확진자 동선 공개를 위한 분석")
    workflow.decide_request(police, request, approve=True, reason="감염 가능 기간의 위치 확인")
    assert run_exchange(hub, request).status == Status.ANALYSED
    return {"url": live_hub, "case": case, "investigator": investigator}
