"""report.html's map in chromium: its script keeps every seq badge readable as the
investigator zooms (the same rule as the server's first drawing and the hub's map)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from epitrace.analysis.trajectory import trace_subject
from epitrace.formats.readers import read_dataset_table
from epitrace.providers.dataset import DatasetStore
from epitrace.report import render_report
from epitrace.simulate.run import cases_confirmed_last

from .conftest import LAPTOP

pytestmark = pytest.mark.browser

BADGES = """() => [...document.querySelectorAll("#map-svg .badge")].map((badge) => {
  const r = badge.querySelector("circle").getBoundingClientRect();
  return { seq: badge.dataset.seq, centre: [r.left + r.width / 2, r.top + r.height / 2],
    width: r.width, number: badge.querySelector("text").textContent };
})"""


def test_report_badges_stay_apart_as_the_map_zooms(
    browser: Any, csv_city: Path, tmp_path: Path
) -> None:
    cases = read_dataset_table(csv_city, "cases")
    assert cases is not None
    person = cases_confirmed_last(cases.table, 1)[0]
    trajectory = trace_subject(DatasetStore(csv_city).subject(person))
    html = tmp_path / "report.html"
    html.write_text(render_report(trajectory, None, "Asia/Seoul"), encoding="utf-8")
    page = browser.new_page(viewport=LAPTOP)
    try:
        page.goto(html.as_uri())
        page.wait_for_selector("html[data-ready='1']")
        # From the fitted path out to the whole city, then in past the fit.
        for step in ["out", "out", "out", "out", "reset", "in", "in"]:
            page.click(f"button[data-zoom={step}]")
            badges = page.evaluate(BADGES)
            assert len(badges) == trajectory.stays.num_rows
            assert all(b["number"] == b["seq"] for b in badges)
            width = badges[0]["width"]
            assert width == pytest.approx(18, abs=0.5)
            nearest = min(
                math.dist(a["centre"], b["centre"])
                for i, a in enumerate(badges)
                for b in badges[:i]
            )
            assert nearest >= width, f"badges overlap after zoom {step}: {nearest:.1f} px"
    finally:
        page.close()
