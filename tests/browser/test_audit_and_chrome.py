"""The auditor's verification button, and the shared chrome, in chromium (issue #19):
the chain verified from the page in English and Korean, no request of any page answered
404 (the icon), the English header on one line at 1366 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from epitrace.hub.audit.models import AuditEntry

from .conftest import LAPTOP, serious_violations, sign_in

pytestmark = pytest.mark.browser


def test_an_auditor_verifies_the_chain_from_the_page(
    contexts: Any, live_hub: str, account: Any, shots: Path
) -> None:
    auditor = account("aud", "auditor")
    page = sign_in(contexts, live_hub, auditor)
    page.goto(f"{live_hub}/audit")
    page.click("#verify-chain")
    page.wait_for_selector("#verify-result")
    result = page.locator("#verify-result")
    assert result.get_attribute("data-ok") == "true", result.inner_text()
    assert "The audit log is intact" in result.inner_text()
    assert AuditEntry.objects.filter(action="audit.verify", actor="aud").count() == 1
    assert not serious_violations(page)
    page.screenshot(path=str(shots / "audit-verify-en.png"), full_page=False)
    # In Korean, through the header's switch: the same check, said in Korean.
    page.goto(f"{live_hub}/audit")
    page.select_option("#language-switch", "ko")
    page.click("header form.inline button[type=submit]")
    page.wait_for_function("document.documentElement.lang === 'ko'")
    page.click("#verify-chain")
    page.wait_for_selector("#verify-result")
    assert "감사 기록이 온전합니다" in page.locator("#verify-result").inner_text()
    # The verification is itself in the log, shown by name.
    assert "감사 기록 무결성 검증" in page.locator("#audit-entries").inner_text()
    page.screenshot(path=str(shots / "audit-verify-ko.png"), full_page=False)


@pytest.mark.parametrize("role", ["national_investigator", "administrator", "auditor"])
def test_no_request_of_a_page_is_answered_404(
    contexts: Any, live_hub: str, account: Any, role: str
) -> None:
    user = account("someone", role)
    page = sign_in(contexts, live_hub, user)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    for path in ("/", "/preferences", "/notifications"):
        page.goto(live_hub + path)
        page.wait_for_load_state("networkidle")
    assert missing == []
    icon = page.request.get(f"{live_hub}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize("role", ["national_investigator", "administrator", "auditor"])
def test_the_english_header_holds_on_one_line_at_1366_px(
    contexts: Any, live_hub: str, account: Any, role: str
) -> None:
    page = sign_in(contexts, live_hub, account("a-long-username", role), viewport=LAPTOP)
    page.goto(f"{live_hub}/")
    assert page.evaluate("document.documentElement.lang") == "en"
    boxes = page.evaluate(
        """() => ['header h1', 'header nav', 'header .account'].map(s => {
            const r = document.querySelector(s).getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, height: r.height};
        })"""
    )
    title, nav, accounts = boxes
    # One row: the three parts side by side, none below another, the nav unwrapped.
    assert nav["top"] < title["bottom"] and accounts["top"] < title["bottom"], boxes
    assert nav["height"] < 40, boxes
