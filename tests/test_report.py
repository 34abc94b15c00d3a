"""report.html: what an investigator sees, escaped, offline, in the case's time zone."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import Trajectory, trace_subject
from epitrace.analysis.trajectory.interview import compare_with_interview
from epitrace.formats.schemas import table
from epitrace.report import render_report
from epitrace.report.model import ShownStay, district_names
from epitrace.report.pathmap import BADGE_GAP_PX, BADGE_RADIUS_PX, badge_offsets

SEOUL = ZoneInfo("Asia/Seoul")
HOSTILE = "<script>alert(1)</script>"
NOW = dt.datetime(2020, 3, 20, 12, 0, tzinfo=dt.UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2020, 3, day, hour, minute, tzinfo=SEOUL)


def rows(name: str, data: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(data, schema=table(name).arrow_schema)


def pings(cell: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """A record every 10 minutes, as a phone in use sends them."""
    out, ts = [], start
    while ts <= end:
        out.append(
            dict(carrier="SKT", subscriber="010-1111-2222", ts=ts, cell_id=cell, event="data")
        )
        ts += dt.timedelta(minutes=10)
    return out


def records(cafe_name: str = "Cafe Bom") -> SubjectRecords:
    """Home overnight, a bus to the cafe (paid there by card), home again; one
    record from a cell 300 km away in the middle of the cafe visit."""
    cells = rows(
        "cells",
        [
            dict(carrier="SKT", cell_id="home", lat=37.5665, lon=126.9780, radius_m=300.0),
            dict(carrier="SKT", cell_id="cafe", lat=37.5800, lon=126.9900, radius_m=200.0),
            dict(carrier="SKT", cell_id="busan", lat=35.1000, lon=129.0000, radius_m=500.0),
        ],
    )
    far = dict(
        carrier="SKT", subscriber="010-1111-2222", ts=at(2, 9, 35), cell_id="busan", event="data"
    )
    telecom = rows(
        "telecom_records",
        [
            *pings("home", at(2, 0), at(2, 8)),
            *pings("cafe", at(2, 9), at(2, 10, 30)),
            far,
            *pings("home", at(2, 11, 30), at(3, 9)),
        ],
    )
    merchants = rows(
        "merchants",
        [
            dict(
                merchant_id="m1",
                name=cafe_name,
                category="cafe",
                address="1 Jongno",
                lat=37.5802,
                lon=126.9903,
            )
        ],
    )
    cards = rows(
        "card_transactions",
        [
            dict(
                issuer="KB",
                card_id="c1",
                ts=at(2, 9, 45),
                merchant_id="m1",
                amount=4500.0,
                channel="offline",
            )
        ],
    )
    taps = rows(
        "transit_taps",
        [
            dict(
                issuer="KB",
                card_id="c1",
                ts=at(2, 8, 20),
                stop_id="s1",
                stop_name="City Hall",
                lat=37.5660,
                lon=126.9770,
                mode="bus",
                tap="in",
            ),
            dict(
                issuer="KB",
                card_id="c1",
                ts=at(2, 8, 45),
                stop_id="s2",
                stop_name="Anguk",
                lat=37.5790,
                lon=126.9880,
                mode="bus",
                tap="out",
            ),
        ],
    )
    return SubjectRecords(
        "P000123",
        telecom_records=telecom,
        cells=cells,
        card_transactions=cards,
        merchants=merchants,
        transit_taps=taps,
    )


def interview(gym_name: str = "Jongno Gym") -> pa.Table:
    """The cafe (as the data shows) and a gym the data knows nothing of, 4 km away
    while the phone was at home; the night at home is not mentioned."""
    return rows(
        "interview_visits",
        [
            dict(
                person_ref="P000123",
                start=at(2, 9),
                end=at(2, 10, 30),
                place_name="Cafe Bom",
                address=None,
                lat=37.5802,
                lon=126.9903,
            ),
            dict(
                person_ref="P000123",
                start=at(2, 19),
                end=at(2, 20),
                place_name=gym_name,
                address=None,
                lat=37.6030,
                lon=126.9900,
            ),
        ],
    )


@pytest.fixture(scope="module")
def trajectory() -> Trajectory:
    return trace_subject(records())


@pytest.fixture(scope="module")
def comparison(trajectory: Trajectory) -> pa.Table:
    return compare_with_interview(trajectory.stays, interview())


@pytest.fixture(scope="module")
def page(trajectory: Trajectory, comparison: pa.Table) -> str:
    return render_report(trajectory, comparison, "Asia/Seoul", now=NOW)


def test_every_stay_appears_with_its_seq_and_place(trajectory: Trajectory, page: str) -> None:
    stays = trajectory.stays.to_pylist()
    assert len(stays) >= 3
    for stay in stays:
        assert f'<tr data-seq="{stay["seq"]}"' in page
        assert re.search(rf'class="px badge [^"]*"[^>]*data-seq="{stay["seq"]}"', page)
    assert "Cafe Bom" in page
    # The home stays, which cells cannot name, read as their neighbourhood.
    assert '<span class="unnamed">서울특별시 중구 태평로1가</span>' in page
    assert "unnamed place" not in page
    assert "P000123" in page


def test_times_are_shown_in_the_given_zone(trajectory: Trajectory, page: str) -> None:
    assert "Asia/Seoul (UTC+09:00)" in page
    for stay in trajectory.stays.to_pylist():
        local = stay["start"].astimezone(SEOUL)
        assert f'<time datetime="{local.isoformat(timespec="minutes")}">' in page
        assert local.strftime("%a %-d %b %H:%M") in page
    in_utc = render_report(trajectory, None, "UTC", now=NOW)
    assert "+09:00" not in in_utc and "UTC (UTC+00:00)" in in_utc


def test_timeline_has_one_row_per_local_day(trajectory: Trajectory, page: str) -> None:
    stays = trajectory.stays.to_pylist()
    days = {
        (stays[0]["start"] + dt.timedelta(hours=h)).astimezone(SEOUL).date()
        for h in range(int((stays[-1]["end"] - stays[0]["start"]).total_seconds() // 3600) + 1)
    }
    assert page.count('<div class="tl-row">') == len(days)
    assert '<span style="left:50.000%">12</span>' in page  # hours are marked


def test_interview_comparison_has_three_lists_with_counts(comparison: pa.Table, page: str) -> None:
    statuses = comparison.column("status").to_pylist()
    for status, title in [
        ("confirmed", "Confirmed by both"),
        ("data_only", "Found only in the data"),
        ("interview_only", "Named only in the interview"),
    ]:
        count = statuses.count(status)
        assert count >= 1, status
        assert re.search(
            rf'id="list-{status}"><h3>{title} <span class="count">{count}</span>', page
        )
    confirmed = page[page.index('id="list-confirmed"') : page.index('id="list-data_only"')]
    assert "Cafe Bom" in confirmed
    assert "Jongno Gym" in page[page.index('id="list-interview_only"') :]


def test_without_an_interview_the_page_says_so(trajectory: Trajectory) -> None:
    page = render_report(trajectory, None, "Asia/Seoul", now=NOW)
    assert "No interview was given" in page
    assert 'id="list-confirmed"' not in page


def test_nothing_is_loaded_from_the_network(page: str) -> None:
    remote = r"""(?:https?:)?//"""
    attr = rf"""\b(?:src|href|xlink:href|action|srcset)\s*=\s*["']?\s*{remote}"""
    assert not re.search(attr, page, re.IGNORECASE)
    assert not re.search(rf"""url\(\s*["']?\s*{remote}""", page, re.IGNORECASE)
    assert "@import" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count("<script") == 1  # the page's own inline script, nothing fetched
    assert "<link" not in page


def test_hostile_names_render_as_text() -> None:
    trajectory = trace_subject(records(cafe_name=HOSTILE))
    comparison = compare_with_interview(trajectory.stays, interview(gym_name=HOSTILE))
    page = render_report(trajectory, comparison, "Asia/Seoul", now=NOW)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1
    assert re.search(r'data-tip="[^"<>]*&lt;script&gt;', page)  # tooltips escaped too


def test_an_unnamed_stay_reads_as_its_district_or_says_it_is_outside_korea() -> None:
    stays = pa.table(
        {
            "sido": ["대구광역시", None, "세종특별자치시"],
            "sigungu": ["중구", None, "세종시"],
            "emd": ["동인동1가", None, None],
        }
    )
    assert district_names(stays) == [
        "대구광역시 중구 동인동1가",
        "outside Korea or at sea",
        "세종특별자치시 세종시",
    ]
    # A stays table from before the district columns: looked up from its coordinates.
    before = pa.table({"seq": [1, 2], "lat": [35.8714, 35.0], "lon": [128.6014, 125.0]})
    assert district_names(before) == ["대구광역시 중구 동인동1가", "outside Korea or at sea"]


def test_an_empty_trajectory_still_renders_and_says_so() -> None:
    page = render_report(trace_subject(SubjectRecords("P000999")), None, "Asia/Seoul", now=NOW)
    assert "P000999" in page
    assert "No stays were found" in page
    assert "no records for this subject" in page  # the analysis' note
    assert page.rstrip().endswith("</html>")


def test_dropped_records_and_notes_are_listed(trajectory: Trajectory, page: str) -> None:
    assert trajectory.outliers, "the far cell should be dropped"
    assert "SKT:busan" in page
    assert 'class="px cross"' in page
    for note in trajectory.notes:
        assert note in page


def test_an_unknown_zone_falls_back_to_utc_with_a_note(trajectory: Trajectory) -> None:
    page = render_report(trajectory, None, "Mars/Olympus", now=NOW)
    assert "unknown time zone &#x27;Mars/Olympus&#x27;: times are shown in UTC" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium to render the page")
def test_a_browser_renders_the_page_offline(page: str, tmp_path: Path) -> None:
    """The page's script runs to the end without network (data-ready set) and draws."""
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'data-ready="1"' in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000


def test_the_map_draws_the_districts_around_the_path_under_the_stays(page: str) -> None:
    svg = page[page.index('<svg id="map-svg"') : page.index("</svg>")]
    districts = svg[svg.index('<g id="districts">') :]
    # The home stays lie in 태평로1가 (Seoul City Hall): its outline and Korean name are drawn.
    assert re.search(r'<path class="district emd" d="M[-\d. L]+Z', districts)
    assert re.search(r'class="px district-label emd"[^>]*><text>태평로1가</text>', districts)
    assert re.search(r'<path class="district parent sigungu"', districts)
    # Under the stays: the districts come first in the SVG, the stays' areas and badges after.
    assert svg.index('<g id="districts">') < svg.index('class="area ') < svg.index('id="badges"')
    assert "Boundaries: NGII (국토지리정보원), 2023-09-15" in page
    assert "district boundary" in page  # and the legend says what the lines are


def stay_at(seq: int, x: float, y: float) -> ShownStay:
    return ShownStay(
        seq=seq, start=NOW, end=NOW, lat=0.0, lon=0.0, radius=50.0, x=x, y=y,
        place="", sources="telecom", confidence=0.8,
    )  # fmt: skip


@pytest.mark.parametrize("metres_per_px", [0.5, 4.0, 30.0, 250.0])
def test_no_two_seq_badges_overlap_at_any_scale(metres_per_px: float) -> None:
    """Home every night (its stays metres apart), a workplace, errands around them and
    one trip away: every badge at least two radii and the gap from every other."""
    rng = np.random.default_rng(7)
    spots = [(0.0, 0.0, 2.0), (900.0, 300.0, 5.0), (400.0, -200.0, 300.0), (9000.0, 9000.0, 1.0)]
    stays = []
    for seq in range(1, 61):
        x, y, jitter = spots[seq % 4 if seq % 5 else 0]
        stays.append(stay_at(seq, x + rng.normal(0, jitter), y + rng.normal(0, jitter)))
    offsets = badge_offsets(stays, metres_per_px)
    badges = [
        (s.x / metres_per_px + offsets[s.seq][0], -s.y / metres_per_px + offsets[s.seq][1])
        for s in stays
    ]
    nearest = min(math.dist(a, b) for i, a in enumerate(badges) for b in badges[:i])
    assert nearest >= 2 * BADGE_RADIUS_PX + BADGE_GAP_PX - 1e-9
    # Far enough apart, a badge sits on its own point.
    lone = badge_offsets([stay_at(1, 0.0, 0.0), stay_at(2, 1000.0, 0.0)], metres_per_px / 100)
    assert lone == {1: (0.0, 0.0), 2: (0.0, 0.0)}
