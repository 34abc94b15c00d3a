"""A case, and requests for it sent through the pages, for the hub's page tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.models import DataRequest

JUSTIFICATION = "확진자 감염 가능 기간 동선 확인"


def make_case(region: Any, person_ref: str = "P000001") -> Any:
    """A case of ``region`` confirmed 2026-11-05, onset 11-03 (window 11-01 to 11-05)."""
    dates = CaseDates(
        specimen_date=dt.date(2026, 11, 4),
        confirmation_date=dt.date(2026, 11, 5),
        isolation_date=dt.date(2026, 11, 5),
        onset_date=dt.date(2026, 11, 3),
    )
    person = Identifiers(
        name="홍길동",
        birth_date=dt.date(1980, 1, 2),
        national_id="800102-1234567",
        address="서울특별시 중구 세종대로 1",
        person_ref=person_ref,
        phones=["010-1234-5678"],
    )
    return register_case(region, dates, person, by="u0")


def ask(client: Client, case: Any, kinds: list[str]) -> DataRequest:
    """A request sent through the form, in the guideline's window."""
    sent = client.post(
        f"/cases/{case.case_id}/request", {"kinds": kinds, "justification": JUSTIFICATION}
    )
    assert sent.status_code == 302, sent.content.decode()
    return DataRequest.objects.get(request_id=sent["Location"].rsplit("/", 1)[-1])


def cluster(number: int, p_value: float, case_ids: list[str], lat: float = 37.5636) -> dict:
    """A cluster as the hotspot scan stores it (hub/exchange/hotspots.py), in 서울 중구."""
    return {
        "number": number,
        "lat": lat,
        "lon": 126.9976,
        "radius_m": 400.0,
        "first_day": dt.date(2026, 11, 2),
        "last_day": dt.date(2026, 11, 3),
        "cases": len(case_ids),
        "expected": 0.8,
        "p_value": p_value,
        "case_ids": case_ids,
        "places": ["명동 칼국수"],
    }


def scanned(cases: list[Any], clusters: list[dict]) -> Any:
    """A finished hotspot scan of ``cases`` holding ``clusters``: what the page shows
    without running the job (its compiled kernels take tens of seconds)."""
    from django.utils import timezone

    from epitrace.hub.exchange import hotspots
    from epitrace.hub.exchange.models import HotspotScan, JobStatus

    view = hotspots.HotspotView(
        clusters=clusters,
        cases_scanned=[c.case_id for c in cases],
        read=[c.case_id for c in cases],
    )
    return HotspotScan.objects.create(
        signature=hotspots.signature(cases),
        cases=[c.pk for c in cases],
        status=JobStatus.DONE,
        run_after=timezone.now(),
        finished_at=timezone.now(),
        result_enc=hotspots.seal_view(view),
    )
