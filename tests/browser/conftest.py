"""Browser tests: headless Debian chromium driven by Playwright against a live hub.

Chromium comes from Debian (scripts/install-browser.sh, run by ``make test``); Playwright's
own browser download needs the internet. Without chromium the tests fail under CI and
are skipped locally, with the reason. Screenshots go to a temporary folder, or to
``EPITRACE_SCREENSHOTS`` (``docs/screenshots`` refreshes the README's).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub.accounts.roles import assign_role

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
