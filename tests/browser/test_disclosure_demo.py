"""The public disclosure on the demo's city, from draft to publication to expiry, in Korean
(issue #19): the demo dates its city to end yesterday (``epitrace.demo.demo_config``, the
``analysed_case`` fixture of conftest.py), so with the hub's real clock its places have not
expired; an investigator prepares the
draft, includes a stay the guess left out, names its neighbourhood and publishes; an
anonymous visitor reads the public list; 14 days after the last exposure (the
disclosure's clock moved forward) the list is empty."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.disclosure import drafts
from epitrace.hub.disclosure.models import Disclosure, DisclosureEntry
from epitrace.hub.exchange.results import latest_analysis

from .conftest import serious_violations, sign_in

pytestmark = pytest.mark.browser
HANGUL = "가힣"


def overrulable_in_window(case: Any) -> int:
    """A stay the draft left out as home, workplace or private place, inside the window
    (a stay outside it stays out whatever its kind): workplaces and private places first."""
    disclosure = Disclosure.objects.get(case=case)
    stays = {s["seq"]: s for s in latest_analysis(case).stays.to_pylist()}
    inside = [
        item
        for item in disclosure.exclusions
        if item["rule"].startswith(drafts.OVERRULABLE)
        and item["seq"] in stays
        and stays[item["seq"]]["end"] > disclosure.window_start
        and stays[item["seq"]]["start"] < disclosure.window_end
    ]
    assert inside, disclosure.exclusions
    inside.sort(key=lambda item: item["rule"].startswith("home"))
    return int(inside[0]["seq"])


def test_the_demo_city_disclosed_from_draft_to_expiry(
    contexts: Any, analysed_case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, shots: Path
) -> None:
    base, case = analysed_case["url"], analysed_case["case"]
    page = sign_in(contexts, base, analysed_case["investigator"])
    page.goto(f"{base}/cases/{case.case_id}/disclosure")
    assert page.get_attribute("html", "lang") == "ko"

    # The draft lists places: the city is recent, nothing has expired.
    page.click("#prepare")
    page.wait_for_selector("#disclosure-entries")
    drafted = page.locator("#disclosure-entries tbody tr").count()
    assert drafted >= 1
    assert page.locator("#disclosure-status").inner_text() == "초안 (비공개)"
    assert "만료" not in page.locator("#disclosure-exclusions").inner_text()

    # Include a stay the guess left out: accepted (not the 400 of an expired city).
    seq = overrulable_in_window(case)
    page.locator(f"#disclosure-exclusions form:has(input[name=seq][value='{seq}']) button").click()
    page.wait_for_selector("#disclosure-entries")
    assert page.locator("#disclosure-error").count() == 0
    included = DisclosureEntry.objects.get(disclosure__case=case, stays=[seq])
    assert page.locator("#disclosure-entries tbody tr").count() >= drafted  # merged or added
    if not included.label and not included.neighbourhood:  # a private place: by its dong
        row = page.locator("#disclosure-entries tbody tr", has=page.locator(f"#nb-{included.pk}"))
        row.locator("summary").click()
        page.fill(f"#nb-{included.pk}", "삼덕동")
        row.locator("button[type=submit]").click()
        page.wait_for_selector("#disclosure-entries")
    assert not serious_violations(page)
    page.screenshot(path=str(shots / "disclosure-draft-ko.png"), full_page=False)

    # Reviewed, approved, published.
    page.click("#publish")
    page.wait_for_selector("#disclosure-status:text('공개됨')")
    entries = DisclosureEntry.objects.filter(disclosure__case=case)
    published = entries.count()
    assert published >= 1

    # Anyone reads the public list, in Korean, without signing in.
    public = contexts().new_page()  # a browser set to English: Korean by the header's switch
    public.goto(f"{base}/public/exposures")
    public.select_option("#language-switch", "ko")
    public.click("header form.inline button[type=submit]")
    public.wait_for_function("document.documentElement.lang === 'ko'")
    assert public.locator("#exposures tbody tr").count() == published
    assert "삼덕동" in public.locator("#exposures").inner_text() or included.neighbourhood == ""
    assert any(HANGUL[0] <= ch <= HANGUL[1] for ch in public.locator("h2").inner_text())
    assert not serious_violations(public)
    public.screenshot(path=str(shots / "public-exposures-ko.png"), full_page=False)

    # A minute before the last entry expires it is still listed; 14 days after its last
    # exposure nothing is (the disclosure's clock moved; the job marks them expired).
    last = max(e.expires_at for e in entries)
    monkeypatch.setattr(drafts, "now", lambda: last - dt.timedelta(minutes=1))
    public.reload()
    assert public.locator("#exposures tbody tr").count() >= 1
    monkeypatch.setattr(drafts, "now", lambda: last + dt.timedelta(minutes=1))
    assert last - max(e.end for e in entries) == dt.timedelta(days=14)
    public.reload()
    public.wait_for_selector("#no-exposures")
    assert public.locator("#no-exposures").inner_text() == "현재 공개된 장소가 없습니다."
    assert drafts.expire_entries() == published
    assert AuditEntry.objects.filter(action="disclosure.expired").count() == 1
    page.reload()
    expired = page.locator("#disclosure-entries tbody tr", has_text="만료됨").count()
    assert expired == published
