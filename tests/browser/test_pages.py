"""A case from registration to its path on screen, through the pages, in chromium:
sign in with TOTP, request data, approve as police (the requester's status updates
live), the agencies answer, the case page draws the path, export; accessibility (axe),
keyboard, Korean, tablet width, and the README's screenshots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def shoot(page: Any, shots: Path, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"{name}.png"))


def check_accessible(page: Any) -> None:
    problems = serious_violations(page)
    assert not problems, f"{page.url}: " + "; ".join(problems)


def test_a_case_from_request_to_path_in_the_browser(
    contexts: Any, city_hub: dict[str, Any], shots: Path, tmp_path: Path
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
    # The interview compared with the data: three lists, and the places the patient
    # named are either confirmed by the data or listed as only in the interview.
    assert investigator.locator(".comparison").count() == 3
    named = "#comparison-confirmed li, #comparison-only-in-interview li"
    assert (investigator.locator(named).count() > 0) == (interview_rows > 0)

    # The timeline zooms with its buttons and with the keyboard, and comes back whole.
    def span() -> int:
        return int(investigator.get_attribute("#case-timeline svg", "data-span"))

    whole = span()
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

    # Export the stays as CSV, with a reason.
    investigator.click("text=Export")
    investigator.fill("#reason-1", "sharing with the district's investigation team")
    with investigator.expect_download() as download:
        investigator.click("form:has(#reason-1) button[type=submit]")
    assert download.value.suggested_filename.endswith((".csv", ".geojson", ".pdf"))

    # Korean, switched from the header and kept for the account.
    investigator.goto(f"{base}/cases/{case.case_id}")
    investigator.select_option("#language-switch", "ko")
    investigator.click("header form >> text=Switch")
    investigator.wait_for_selector("html[lang=ko]")
    assert investigator.locator("h3:text('동선')").count() == 1
    investigator.wait_for_selector("#case-map[data-rendered-stays]", timeout=30000)
    check_accessible(investigator)
    shoot(investigator, shots, "case-ko")

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
