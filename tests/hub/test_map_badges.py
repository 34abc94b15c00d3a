"""The case map's badges follow report.html's rule: ``static/epitrace/badges.js`` runs here
under Node, as the browser runs it, against ``report.pathmap.badge_offsets``."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from epitrace.report.model import ShownStay
from epitrace.report.pathmap import badge_offsets

BADGES = Path(__file__).parents[2] / "src/epitrace/hub/web/static/epitrace/badges.js"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def hub_offsets(points: list[dict[str, float]]) -> dict[int, list[float]]:
    script = (
        f"import {{ badgeOffsets }} from {json.dumps(BADGES.as_uri())};"
        f"console.log(JSON.stringify([...badgeOffsets({json.dumps(points)})]));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    return {int(seq): offset for seq, offset in json.loads(out.stdout)}


@pytest.mark.parametrize("metres_per_px", [1.0, 7.0, 60.0])
def test_the_hub_piles_badges_as_the_report_does(metres_per_px: float) -> None:
    rng = np.random.default_rng(11)
    now = dt.datetime(2020, 3, 2, tzinfo=dt.UTC)
    stays = [
        ShownStay(seq=seq, start=now, end=now, lat=0.0, lon=0.0, radius=30.0,
                  x=float(x), y=float(y), place="", sources="telecom", confidence=0.8)
        for seq, (x, y) in enumerate(rng.normal(0, 300, size=(50, 2)), start=1)
    ]  # fmt: skip
    # The hub's points are on screen: pixels, y down.
    points = [{"seq": s.seq, "x": s.x / metres_per_px, "y": -s.y / metres_per_px} for s in stays]
    hub = hub_offsets(points)
    report = badge_offsets(stays, metres_per_px)
    assert hub.keys() == report.keys()
    for seq, offset in report.items():
        assert hub[seq] == pytest.approx(offset, abs=1e-9)
    assert any(offset != (0.0, 0.0) for offset in report.values())  # some badges were piled
