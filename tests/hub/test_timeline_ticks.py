"""The case timeline's ticks fall on round local times of the page's zone (issue #19:
they fell at 09:00, 03:00, 15:00 in Seoul, UTC's round hours, and never marked local
midnight). ``static/epitrace/ticks.js`` runs here under Node, as the browser runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

TICKS = Path(__file__).parents[2] / "src/epitrace/hub/web/static/epitrace/ticks.js"
HOUR_MS = 3_600_000

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def ticks(start: datetime, end: datetime, step_hours: float, zone: str) -> list[dict]:
    script = (
        f"import {{ localTicks }} from {json.dumps(TICKS.as_uri())};"
        f"console.log(JSON.stringify(localTicks({start.timestamp() * 1000}, "
        f"{end.timestamp() * 1000}, {step_hours * HOUR_MS}, {json.dumps(zone)})));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def local(tick: dict, zone: str) -> datetime:
    return datetime.fromtimestamp(tick["t"] / 1000, ZoneInfo(zone))


def test_daily_ticks_fall_on_seoul_midnight_and_say_so() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    found = ticks(datetime(2020, 2, 18, 15, tzinfo=seoul), datetime(2020, 2, 22, tzinfo=seoul),
                  24, "Asia/Seoul")  # fmt: skip
    assert [local(t, "Asia/Seoul").strftime("%m-%d %H:%M") for t in found] == [
        "02-19 00:00",
        "02-20 00:00",
        "02-21 00:00",
        "02-22 00:00",
    ]
    assert all(t["midnight"] for t in found)


def test_six_hourly_ticks_are_round_local_hours_with_midnight_marked() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    found = ticks(datetime(2020, 2, 20, 1, tzinfo=seoul), datetime(2020, 2, 21, 1, tzinfo=seoul),
                  6, "Asia/Seoul")  # fmt: skip
    hours = [local(t, "Asia/Seoul").hour for t in found]
    assert hours == [6, 12, 18, 0]
    assert [t["midnight"] for t in found] == [False, False, False, True]


def test_ticks_follow_a_change_of_summer_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks go forward on 2020-03-29 at 02:00
    start = datetime(2020, 3, 27, 12, tzinfo=berlin)
    found = ticks(start, start + timedelta(days=4), 24, "Europe/Berlin")
    assert {local(t, "Europe/Berlin").strftime("%H:%M") for t in found} == {"00:00"}
    assert len(found) == 4
