"""The interview form in chromium, in Korean (issue #19): an investigator types two places
the patient named beside the CSV upload, and the case page compares them with the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from epitrace.hub.exchange.models import InterviewRecord
from epitrace.hub.exchange.results import latest_analysis

from .conftest import serious_violations, sign_in

pytestmark = pytest.mark.browser
SEOUL = ZoneInfo("Asia/Seoul")


def test_two_places_typed_in_the_form_are_compared_with_the_data(
    contexts: Any, analysed_case: dict[str, Any], shots: Path
) -> None:
    base, case = analysed_case["url"], analysed_case["case"]
    # Two places the patient remembers: stays of the data under 12 hours, by the name the
    # data knows (a card, an entry log) or, for a place the cells cannot name, a name of
    # their own (an address-only visit agrees with an unnamed stay at that time).
    stays = latest_analysis(case).stays.to_pylist()
    short = [s for s in stays if (s["end"] - s["start"]).total_seconds() < 12 * 3600]
    short.sort(key=lambda s: not s["place_name"])  # places the data names first
    named = [
        {**stay, "place_name": stay["place_name"] or name}
        for stay, name in zip(short[:2], ("동네 식당", "친구 집"), strict=False)
    ]
    assert len(named) == 2, stays

    page = sign_in(contexts, base, analysed_case["investigator"])
    page.goto(f"{base}/cases/{case.case_id}")
    page.click("#interview-link")
    page.wait_for_selector("#interview-form")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.locator("#interview-upload input[type=file]").count() == 1  # beside the form
    for row, stay in enumerate(named, start=1):
        start, end = stay["start"].astimezone(SEOUL), stay["end"].astimezone(SEOUL)
        page.fill(f"#place-{row}", stay["place_name"])
        page.fill(f"#date-{row}", start.strftime("%Y-%m-%d"))
        page.fill(f"#start-{row}", start.strftime("%H:%M"))
        page.fill(f"#end-{row}", end.strftime("%H:%M"))
    assert not serious_violations(page)
    page.screenshot(path=str(shots / "interview-form-ko.png"), full_page=False)
    page.click("#save-typed")

    # Back on the case page: the two places the patient named, confirmed by the data.
    page.wait_for_selector("#comparison-confirmed")
    assert InterviewRecord.objects.get(case=case).rows == 2
    confirmed = page.locator("#comparison-confirmed").inner_text()
    for stay in named:
        assert stay["place_name"] in confirmed
    assert page.locator("#comparison-only-in-interview li").count() == 0
    assert "자료로 확인됨" in confirmed

    # Typing again asks to confirm the replacement; without it nothing changes.
    page.goto(f"{base}/cases/{case.case_id}/interview")
    assert page.locator("#interview-earlier").count() == 1
    page.fill("#place-1", "다른 곳")
    page.fill("#date-1", named[0]["start"].astimezone(SEOUL).strftime("%Y-%m-%d"))
    page.fill("#start-1", "10:00")
    page.fill("#end-1", "11:00")
    page.evaluate("document.getElementById('replace-typed').removeAttribute('required')")
    page.click("#save-typed")
    page.wait_for_selector("#interview-problems")
    assert "바꾸려면 확인란을 선택하십시오" in page.locator("#interview-problems").inner_text()
    assert InterviewRecord.objects.get(case=case).rows == 2
