"""The case page and the request pages as people read them (issue #19): a window of whole
days ends on its last day, stays running past the window are cut and marked, sources and
notes in the page's words, the map's controls in the page's language."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from disclosure_analyses import simulated_analysis
from django.template import Context, Template
from django.test import Client
from django.utils import timezone
from hub_seed import ask, make_case

from epitrace.hub.accounts.models import Role
from epitrace.hub.exchange import results

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


def window_text(start: dt.datetime, end: dt.datetime) -> str:
    with timezone.override(SEOUL):
        return Template("{% load hub %}{% window start end %}").render(
            Context({"start": start, "end": end})
        )


def test_a_window_of_whole_days_ends_on_its_last_day() -> None:
    # Kept as [02-15 00:00, 02-22 00:00) in Seoul: read as 02-15 to 02-21, both included.
    start = dt.datetime(2020, 2, 15, tzinfo=SEOUL)
    end = dt.datetime(2020, 2, 22, tzinfo=SEOUL)
    assert window_text(start, end) == "2020-02-15 – 2020-02-21"
    # Not whole days: to the minute, as kept.
    late = dt.datetime(2020, 2, 21, 18, 30, tzinfo=SEOUL)
    assert window_text(start, late) == "2020-02-15 00:00 – 2020-02-21 18:30"


def test_the_request_pages_show_the_last_day_asked_for(
    places: dict[str, Any], make_account: Callable[..., Any], signed_in: Callable[..., Client]
) -> None:
    case = make_case(places["seoul"])  # the guideline's window: 11-01 to 11-05
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR))
    sent = ask(client, case, ["cards"])
    assert sent.end == dt.datetime(2026, 11, 6, tzinfo=SEOUL)  # kept as before: exclusive
    page = client.get(f"/requests/{sent.request_id}").content.decode()
    assert re.search(r'id="request-window">2026-11-01 – 2026-11-05<', page)
    assert "2026-11-06" not in page
    listed = client.get("/requests").content.decode()
    assert "2026-11-01 – 2026-11-05" in listed and "11-06" not in listed


@pytest.fixture
def cut_analysis(csv_city: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulated case's analysis with a window that begins inside its second stay and
    ends inside its last stay but one: the first and the last stays lie outside."""
    analysis = simulated_analysis(csv_city)
    rows = analysis.stays.to_pylist()
    second, before_last = rows[1], rows[-2]
    start = second["start"] + (second["end"] - second["start"]) / 2
    end = before_last["start"] + (before_last["end"] - before_last["start"]) / 2
    cut = dataclasses.replace(analysis, window=(start, end))
    monkeypatch.setattr(results, "latest_analysis", lambda case: cut)
    return cut


def stay_rows(html: str) -> list[str]:
    return re.findall(r'<tr id="stay-(\d+)"', html)


def test_stays_running_past_the_window_are_cut_and_marked(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    cut_analysis: Any,
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    html = client.get(f"/cases/{case.case_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    seqs = cut_analysis.stays.column("seq").to_pylist()
    assert stay_rows(html) == [str(s) for s in seqs[1:-1]]  # none wholly outside
    assert html.count('class="cut"') == 2  # the first shown began before, the last ran on
    data = json.loads(re.search(r'id="case-map-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    first, last = data["stays"][0], data["stays"][-1]
    start, end = cut_analysis.window
    assert dt.datetime.fromisoformat(first["start"]) == start
    assert dt.datetime.fromisoformat(last["end"]) == end


def test_sources_notes_and_map_controls_in_korean(
    places: dict[str, Any],
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    cut_analysis: Any,
) -> None:
    case = make_case(places["seoul"])
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    html = client.get(f"/cases/{case.case_id}", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    badges = re.findall(r'<span class="tag src-(\w+)">([^<]*)</span>', html)
    assert badges and ("telecom", "기지국") in badges
    assert all(code != label for code, label in badges if code != "gps")
    data = json.loads(re.search(r'id="case-map-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert data["locale"]["NavigationControl.ZoomIn"] == "확대"
    assert any("기지국" in stay["source_labels"] for stay in data["stays"])
    english = client.get(f"/cases/{case.case_id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    data = json.loads(re.search(r'id="case-map-data"[^>]*>(.*?)</script>', english, re.S).group(1))
    assert data["locale"]["NavigationControl.ZoomIn"] == "Zoom in"
    assert ("telecom", "Telecom") in re.findall(
        r'<span class="tag src-(\w+)">([^<]*)</span>', english
    )
