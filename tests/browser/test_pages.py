"""A case from registration to its path on screen, through the pages, in chromium:
sign in with TOTP, request data, approve as police (the requester's status updates
live), the agencies answer, the case page draws the path, export; accessibility (axe),
keyboard, Korean, tablet width, and the README's screenshots."""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from pdf_tools import pdf_pages, pdf_text
from PIL import Image
from street_archive import write_street_archive

from epitrace.formats.readers import read_dataset_table
from epitrace.formats.writers import write_table
from epitrace.hub.exchange import jobs
from epitrace.hub.exchange.credentials import issue_token
from epitrace.hub.exchange.models import DataRequest, Status
from epitrace.hub.exchange.provisioning import register_dataset_cases, register_store_agencies
from epitrace.hub.exchange.results import latest_analysis
from epitrace.providers.protocol import answer, pack_answers, sha256_of
from epitrace.providers.queries import ProviderStore
from epitrace.simulate.run import cases_confirmed_last

from .conftest import LAPTOP, TABLET, serious_violations, sign_in

pytestmark = pytest.mark.browser
KINDS = ["telecom", "cards", "transit", "checkins", "contacts"]


@pytest.fixture
def city_hub(live_hub: str, account: Any, stores: Path, parquet_city: Path) -> dict[str, Any]:
    agencies = register_store_agencies(stores)
    cases = read_dataset_table(parquet_city, "cases")
    assert cases is not None
    # Several cases for the lists and the dashboard; the first is taken to its path.
    first = cases_confirmed_last(cases.table, 1)[0]
    (case,) = register_dataset_cases(parquet_city, [first])
    register_dataset_cases(
        parquet_city, [p for p in cases_confirmed_last(cases.table, 12) if p != first]
    )
    return {
        "url": live_hub,
        "case": case,
        "person": first,
        "city": parquet_city,
        "agencies": {a.code: a for a in agencies},
        "tokens": {a.code: issue_token(a.agency, by="admin") for a in agencies},
        "investigator": account("inv", "national_investigator"),
        "police": account("cop", "police_approver"),
    }


def agents_answer(hub: dict[str, Any]) -> int:
    """Each agency's agent answers its ready tasks, as `epitrace agent` does."""
    client, answered = Client(), 0
    for code, token in hub["tokens"].items():
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        for task in client.get("/api/agent/tasks", **auth).json()["tasks"]:
            provider = ProviderStore(hub["agencies"][code].store)
            blob = pack_answers(
                task["fingerprints"], [answer(provider, q) for q in task["questions"]]
            )
            put = client.generic(
                "PUT",
                f"/api/agent/tasks/{task['id']}/answer",
                blob,
                content_type="application/zip",
                HTTP_X_ANSWER_SHA256=sha256_of(blob),
                **auth,
            )
            assert put.status_code == 201, put.content
            answered += 1
    return answered


def attach_interview(hub: dict[str, Any], folder: Path) -> int:
    """The places the patient named, uploaded as an investigator does through the API."""
    visits = read_dataset_table(hub["city"], "interview_visits")
    assert visits is not None
    named = visits.table.filter(pc.equal(visits.table["person_ref"], hub["person"]))
    path = write_table(named, folder, "interview_visits", "csv")
    client = Client()
    client.force_login(hub["investigator"])
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=hub["investigator"]).persistent_id
    session.save()
    with path.open("rb") as handle:
        sent = client.post(f"/api/cases/{hub['case'].case_id}/interview", {"file": handle})
    assert sent.status_code == 201, sent.content
    return named.num_rows


def run_exchange(hub: dict[str, Any], request: DataRequest) -> DataRequest:
    """The job runner and the agents, until the request is settled. A job step that hit a
    locked test database (SQLite in memory, shared with the server's threads) is retried
    after its backoff, as the hub's runner would."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        jobs.run_pending()
        agents_answer(hub)
        jobs.run_pending()
        request.refresh_from_db()
        if request.status in (Status.ANALYSED, Status.FAILED, Status.REFUSED):
            break
        time.sleep(1)
    return request


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def layer_ids(page: Any, selector: str) -> list[str]:
    return page.evaluate(
        "(s) => document.querySelector(s).epitraceMap.getStyle().layers.map((l) => l.id)",
        selector,
    )


def check_districts_under(page: Any, selector: str, top_layer: str, korean: bool) -> None:
    """The map draws Korea's district boundaries with their names, under ``top_layer``:
    in Korean on a Korean page, romanised on an English one."""
    page.wait_for_selector(f"{selector}[data-rendered-district-labels]", timeout=30000)
    assert page.get_attribute(selector, "data-district-level") in ("sigungu", "emd")
    drawn = page.get_attribute(selector, "data-rendered-district-labels").split("|")
    assert len(drawn) >= 3, drawn
    if korean:
        assert all(HANGUL.search(name) for name in drawn), drawn
    else:
        assert all(name.isascii() and "-" in name for name in drawn), drawn
    layers = layer_ids(page, selector)
    for base in ("district-line", "district-parent-line", "district-label"):
        assert layers.index(base) < layers.index(top_layer), layers
    assert "NGII" in page.inner_text(f"{selector} .maplibregl-ctrl-attrib")


def stay_on_screen(page: Any, seq: int) -> dict[str, float]:
    """Where stay ``seq``'s badge is on the page, in CSS pixels."""
    return page.evaluate(
        """(seq) => {
          const box = document.getElementById("case-map");
          const stay = JSON.parse(document.getElementById("case-map-data").textContent)
            .stays.find((s) => s.seq === seq);
          const at = box.epitraceMap.project([stay.lon, stay.lat]);
          const frame = box.getBoundingClientRect();
          return { x: frame.left + at.x, y: frame.top + at.y };
        }""",
        seq,
    )


# Forget which stay the row click selected, so that only the map click can select again.
FORGET_SELECTION = """() => {
  for (const r of document.querySelectorAll("#stays tr.selected")) r.classList.remove("selected");
  delete document.getElementById("case-map").dataset.selectedStay;
}"""


def check_stay_popup_and_rows(page: Any) -> None:
    """A click on a stay opens its popup and highlights its row; a click on a row
    highlights and centres its stay."""
    data = json.loads(page.inner_text("#case-map-data"))
    first = data["stays"][0]["seq"]
    page.click(f"#stay-{first} td:nth-of-type(2)")  # a row: the map centres its stay
    page.wait_for_selector(f"#case-map[data-selected-stay='{first}']")
    page.wait_for_selector(f"#stay-{first}.selected")
    page.wait_for_timeout(700)  # the map eases to it
    centre = page.evaluate(
        "() => document.getElementById('case-map').epitraceMap.getCenter().toArray()"
    )
    assert centre == pytest.approx([data["stays"][0]["lon"], data["stays"][0]["lat"]], abs=1e-4)
    page.click("#case-map .maplibregl-popup-close-button")
    # The other way: a click on the last stay's badge opens its popup, highlights its row.
    last = data["stays"][-1]
    page.click(f"#stay-{last['seq']} td:nth-of-type(2)")
    page.wait_for_timeout(700)
    page.click("#case-map .maplibregl-popup-close-button")
    where = stay_on_screen(page, last["seq"])
    page.evaluate(FORGET_SELECTION)
    page.mouse.click(where["x"], where["y"])
    page.wait_for_selector("#case-map .maplibregl-popup")
    page.wait_for_selector("#case-map[data-selected-stay]")
    clicked = int(page.get_attribute("#case-map", "data-selected-stay"))
    stay = next(s for s in data["stays"] if s["seq"] == clicked)
    assert page.locator(f"#stay-{clicked}.selected").count() == 1
    assert page.locator("#stays tr.selected").count() == 1
    popup = page.inner_text("#case-map .maplibregl-popup")
    assert f"#{clicked} " in popup and stay["district"] in popup and stay["label"] in popup
    assert HANGUL.search(stay["district"])  # a stay on land reads as its neighbourhood
    page.click("#case-map .maplibregl-popup-close-button")


def leg_metres(a: list[float], b: list[float]) -> float:
    east = (b[0] - a[0]) * math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot(east, b[1] - a[1]) * 111_320


def check_move_arrows(page: Any) -> None:
    """Each move carries one chevron in its mode's colour two fifths of the way along its
    longest leg, as report.html draws it (none on a leg under a metre)."""
    page.wait_for_selector("#case-map[data-rendered-arrows]")
    moves = json.loads(page.inner_text("#case-map-data"))["moves"]
    expected = {}
    for index, move in enumerate(moves):
        legs = list(itertools.pairwise(move["coordinates"]))
        longest = max(legs, key=lambda leg: leg_metres(*leg), default=None)
        if longest is not None and leg_metres(*longest) >= 1:
            (x1, y1), (x2, y2) = longest
            expected[index] = (move["mode_class"], [x1 + 0.4 * (x2 - x1), y1 + 0.4 * (y2 - y1)])
    assert expected, "the simulated case moves about"
    drawn = page.evaluate(
        """() => {
          const map = document.getElementById("case-map").epitraceMap;
          return map.queryRenderedFeatures({ layers: ["move-arrows"] }).map((f) => ({
            move: f.properties.move, mode: f.properties.mode_class, at: f.geometry.coordinates,
            image: map.hasImage(`arrow-${f.properties.mode_class}`) }));
        }"""
    )
    assert page.get_attribute("#case-map", "data-rendered-arrows") == str(len(expected))
    assert {arrow["move"] for arrow in drawn} == set(expected)
    for arrow in drawn:
        mode, middle = expected[arrow["move"]]
        assert arrow["mode"] == mode and arrow["image"]
        # Rendered features come back on the tile grid: within a metre or so.
        assert arrow["at"] == pytest.approx(middle, abs=2e-5)


# Each stay's badge on screen: its centre, size and number, and where its leader line ends
# next to where the map puts the stay's own point.
BADGES_ON_SCREEN = """() => {
  const box = document.getElementById("case-map");
  const frame = box.epitraceMap.getCanvas().getBoundingClientRect(); // inside the border
  const stays = JSON.parse(document.getElementById("case-map-data").textContent).stays;
  return stays.map((stay) => {
    const badge = box.querySelector(`.stay-badge[data-seq="${stay.seq}"]`);
    const r = badge.getBoundingClientRect();
    const line = badge.querySelector("line");
    const at = box.epitraceMap.project([stay.lon, stay.lat]);
    const centre = [r.left + r.width / 2, r.top + r.height / 2];
    const [x2, y2] = ["x2", "y2"].map((name) => Number(line.getAttribute(name)));
    const end = [centre[0] + x2, centre[1] + y2];
    return { seq: stay.seq, number: badge.textContent, centre, size: [r.width, r.height], end,
      point: [frame.left + at.x, frame.top + at.y] };
  });
}"""


def check_badges_apart(page: Any) -> None:
    """Every stay's numbered badge is drawn, tied to its stay by its leader line, and no
    two badges overlap: at the opening view and zoomed out to the whole city."""
    opening = page.evaluate("() => document.getElementById('case-map').epitraceMap.getZoom()")
    for zoom in (opening, 11.0):
        page.evaluate(
            "(z) => document.getElementById('case-map').epitraceMap.jumpTo({ zoom: z })", zoom
        )
        badges = page.evaluate(BADGES_ON_SCREEN)
        for badge in badges:
            assert badge["number"] == str(badge["seq"]) and badge["size"] == [18, 18]
            assert badge["end"] == pytest.approx(badge["point"], abs=1.0), badge
        nearest = min(
            math.dist(a["centre"], b["centre"]) for i, a in enumerate(badges) for b in badges[:i]
        )
        assert nearest >= 18, f"badges overlap at zoom {zoom}: {nearest:.1f} px apart"
    page.evaluate(
        "(z) => document.getElementById('case-map').epitraceMap.jumpTo({ zoom: z })", opening
    )


def shoot(page: Any, shots: Path, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"{name}.png"))


def check_accessible(page: Any) -> None:
    problems = serious_violations(page)
    assert not problems, f"{page.url}: " + "; ".join(problems)


def map_is_drawn(png: bytes) -> bool:
    """An image of the map shows a drawing: many colours, not a blank (or one-colour) box."""
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((200, 120))
    colours = image.getcolors(maxcolors=200 * 120) or []
    return len(colours) > 20 and max(n for n, _ in colours) < 0.9 * 200 * 120


def check_printed(page: Any, shots: Path) -> None:
    """Printing the case page (issue #19: 126 A4 pages, a blank map, the navigation): a
    few pages, the content only, the map drawn."""
    pdf = page.pdf(format="A4", print_background=True)
    (shots / "case-print.pdf").write_bytes(pdf)
    assert pdf_pages(pdf) <= 5
    text = pdf_text(pdf)
    assert "Stays" in text and "Dashboard" not in text and "Sign out" not in text
    page.emulate_media(media="print")
    try:
        assert page.locator("header nav").is_hidden()
        assert page.locator(".maplibregl-ctrl-zoom-in").is_hidden()
        assert map_is_drawn(page.locator("#case-map").screenshot())
        shoot(page, shots, "case-print")
    finally:
        page.emulate_media(media="screen")


def test_a_case_from_request_to_path_in_the_browser(
    contexts: Any, city_hub: dict[str, Any], shots: Path, tmp_path: Path, settings: Any
) -> None:
    hub, case = city_hub, city_hub["case"]
    base = hub["url"]
    investigator = sign_in(contexts, base, hub["investigator"])
    check_accessible(investigator)

    # The case list, then the case: no path yet.
    investigator.click("nav >> text=Cases")
    investigator.wait_for_selector("#case-list")
    assert investigator.locator(f"#case-list a:text('{case.case_id}')").count() == 1
    # Its region: the 시군구 of the simulated home, in Korean with the English label.
    row = investigator.locator("#case-list tr", has_text=case.case_id).inner_text()
    assert case.region.name in row and case.region.name_en in row
    assert case.region.code.isdigit() and len(case.region.code) == 5
    assert all(not "가" <= ch <= "힣" for ch in case.region.name_en)  # romanised
    check_accessible(investigator)
    shoot(investigator, shots, "cases")
    investigator.click(f"#case-list a:text('{case.case_id}')")
    investigator.wait_for_selector("text=No analysis yet")

    # Ask for everything in the guideline's window.
    investigator.click("text=Request data")
    for kind in KINDS:
        investigator.check(f"#kind-{kind}")
    investigator.fill("#justification", "confirmed case: trace the infectious period")
    check_accessible(investigator)
    shoot(investigator, shots, "request-form")
    investigator.click("#request-form button[type=submit]")
    investigator.wait_for_selector("#request-status[data-status='awaiting approval']")
    request = DataRequest.objects.get(case=case)
    interview_rows = attach_interview(hub, tmp_path)

    # The police approver decides from the queue.
    police = sign_in(contexts, base, hub["police"])
    police.click("nav >> text=Data requests")
    police.wait_for_selector(f"#request-list a:text('{request.request_id}')")
    check_accessible(police)
    shoot(police, shots, "approval-queue")
    police.click(f"#request-list a:text('{request.request_id}')")
    police.fill("#reason", "location data proportionate to the infectious period")
    check_accessible(police)
    police.click("button[value=approve]")
    police.wait_for_selector("#request-status[data-status='in progress']")

    # The requester's page follows without a reload (htmx polls the status fragment).
    investigator.wait_for_selector("#request-status[data-status='in progress']", timeout=15000)
    # The agencies answer and the job analyses; the pages step aside meanwhile (the test
    # database is SQLite in memory, shared by the server's threads and this one).
    police.goto("about:blank")
    investigator.goto("about:blank")
    request = run_exchange(hub, request)
    assert request.status == Status.ANALYSED, request.failure
    investigator.goto(f"{base}/requests/{request.request_id}")
    investigator.wait_for_selector("#request-status[data-status='analysed']")
    assert investigator.locator("#tasks tbody tr").count() >= 1
    check_accessible(investigator)
    shoot(investigator, shots, "request-status")

    # The case page: the map and the timeline draw every stay.
    stays = latest_analysis(case).stays.num_rows
    assert stays > 0
    investigator.goto(f"{base}/cases/{case.case_id}")
    investigator.wait_for_selector("#case-map[data-rendered-stays]", timeout=30000)
    assert investigator.get_attribute("#case-map", "data-rendered-stays") == str(stays)
    assert investigator.locator("#case-map canvas.maplibregl-canvas").count() == 1
    assert investigator.locator("#case-timeline rect.stay").count() == stays
    assert investigator.locator("#stays tbody tr").count() == stays
    check_districts_under(investigator, "#case-map", "stay-centre", korean=False)
    check_move_arrows(investigator)
    check_badges_apart(investigator)
    check_stay_popup_and_rows(investigator)
    # The interview compared with the data: three lists, and the places the patient
    # named are either confirmed by the data or listed as only in the interview.
    assert investigator.locator(".comparison").count() == 3
    named = "#comparison-confirmed li, #comparison-only-in-interview li"
    assert (investigator.locator(named).count() > 0) == (interview_rows > 0)

    # The timeline zooms with its buttons and with the keyboard, and comes back whole.
    def span() -> int:
        return int(investigator.get_attribute("#case-timeline svg", "data-span"))

    whole = span()
    # Its ticks mark the local midnights of the page's zone (Seoul), labelled with the date.
    midnights = investigator.locator("#case-timeline line.tick.midnight")
    assert midnights.count() >= 1
    for iso in midnights.evaluate_all("lines => lines.map(line => line.dataset.time)"):
        seoul = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(
            ZoneInfo("Asia/Seoul")
        )
        assert (seoul.hour, seoul.minute) == (0, 0)
    investigator.click("button[data-zoom=in]")
    assert span() == whole // 2 or abs(span() - whole / 2) <= 1
    investigator.focus("#case-timeline")
    investigator.keyboard.press("+")
    assert span() < whole / 2
    investigator.keyboard.press("Home")
    assert span() == whole
    assert investigator.locator("#case-timeline rect.stay").count() == stays
    check_accessible(investigator)
    shoot(investigator, shots, "case")
    check_printed(investigator, shots)

    # Export the files, chosen together with one reason: a zip named by the case.
    investigator.click("text=Export")
    investigator.fill("#reason", "sharing with the district's investigation team")
    with investigator.expect_download() as download:
        investigator.click("#export-form button[type=submit]")
    assert download.value.suggested_filename == f"{case.case_id}-exports.zip"

    # Korean, switched from the header and kept for the account.
    investigator.goto(f"{base}/cases/{case.case_id}")
    investigator.select_option("#language-switch", "ko")
    investigator.click("header form >> text=Switch")
    investigator.wait_for_selector("html[lang=ko]")
    assert investigator.locator("h3:text('동선')").count() == 1
    investigator.wait_for_selector("#case-map[data-rendered-stays]", timeout=30000)
    check_districts_under(investigator, "#case-map", "stay-centre", korean=True)
    check_accessible(investigator)
    shoot(investigator, shots, "case-ko")

    # With the operator's street basemap in place, its roads are drawn under the districts.
    first = latest_analysis(case).stays.to_pylist()[0]
    archive = write_street_archive(tmp_path / "korea.pmtiles", first["lat"], first["lon"])
    settings.EPITRACE_MAP_PMTILES = str(archive)
    investigator.goto(f"{base}/cases/{case.case_id}")
    investigator.wait_for_selector("#case-map[data-rendered-roads]", timeout=30000)
    assert "중앙대로" in investigator.get_attribute("#case-map", "data-rendered-roads")
    layers = layer_ids(investigator, "#case-map")
    roads = max(i for i, layer in enumerate(layers) if layer.startswith("roads_"))
    assert roads < layers.index("district-line") < layers.index("stay-centre")
    assert "OpenStreetMap" in investigator.inner_text("#case-map .maplibregl-ctrl-attrib")
    settings.EPITRACE_MAP_PMTILES = ""

    # The operations dashboard and the public disclosure draft of the case.
    investigator.goto(f"{base}/dashboard")
    check_accessible(investigator)
    shoot(investigator, shots, "dashboard-ko")
    investigator.goto(f"{base}/cases/{case.case_id}/disclosure")
    check_accessible(investigator)

    # Hotspots over the visible cases' stays: the page shows the scan's progress, the job
    # runner scans (the first scan compiles the Numba kernels), the page reloads itself.
    investigator.goto(f"{base}/hotspots")
    investigator.wait_for_selector("#hotspot-progress")
    jobs.run_pending()
    investigator.wait_for_selector("#hotspot-map[data-rendered]", timeout=30000)
    check_districts_under(investigator, "#hotspot-map", "clusters", korean=True)
    # Each cluster's row names the district of its centre, in Korean.
    assert HANGUL.search(
        investigator.inner_text("table[id^=clusters] tbody tr:first-child td:nth-of-type(2)")
    )
    check_accessible(investigator)
    shoot(investigator, shots, "hotspots")


def test_keyboard_and_tablet(contexts: Any, city_hub: dict[str, Any], shots: Path) -> None:
    hub = city_hub
    page = sign_in(contexts, hub["url"], hub["investigator"], viewport=TABLET)
    page.goto(f"{hub['url']}/cases")
    # The first Tab reaches the skip link, which jumps over the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    # Nothing overflows sideways at tablet width.
    for path in [
        "/cases",
        f"/cases/{hub['case'].case_id}",
        f"/cases/{hub['case'].case_id}/request",
    ]:
        page.goto(hub["url"] + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.set_viewport_size(LAPTOP)


def test_sign_in_pages_are_accessible(contexts: Any, live_hub: str, shots: Path) -> None:
    page = contexts().new_page()
    page.goto(f"{live_hub}/login")
    check_accessible(page)
    shoot(page, shots, "login")
