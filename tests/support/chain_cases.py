"""Cases with stored analyses whose stays meet, for the hub's link tests.

Case A (onset 11-03) and case B (onset 11-07) lunch together at one restaurant on 11-02
(A infectious from 11-01, B falling ill 5 days later): the link A -> B. Case C, of
Busan, meets nobody.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.models import AnalysisResult, DataRequest, Status
from epitrace.hub.exchange.results import CaseAnalysis, seal_bundle

KST = dt.timezone(dt.timedelta(hours=9))
RESTAURANT = "한빛식당"


def dates(onset: dt.date) -> CaseDates:
    confirmed = onset + dt.timedelta(days=2)
    return CaseDates(
        specimen_date=confirmed - dt.timedelta(days=1),
        confirmation_date=confirmed,
        isolation_date=confirmed,
        onset_date=onset,
    )


def person(ref: str) -> Identifiers:
    return Identifiers(
        name="홍길동",
        birth_date=dt.date(1980, 1, 2),
        national_id="800102-1234567",
        address="서울특별시 중구 세종대로 1",
        person_ref=ref,
        phones=["010-1234-5678"],
    )


def stay(ref: str, day: dt.date, hour: int, hours: float, lat: float, lon: float, place: str):
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=KST)
    return {
        "person_ref": ref,
        "start": start.astimezone(dt.UTC),
        "end": (start + dt.timedelta(hours=hours)).astimezone(dt.UTC),
        "lat": lat,
        "lon": lon,
        "radius_m": 30.0,
        "place_name": place,
        "sources": "card",
    }


def store_analysis(case: Any, rows: list[dict[str, Any]], number: int) -> AnalysisResult:
    """An analysis with ``rows`` as its stays, stored as the exchange stores one."""
    moment = dt.datetime.combine(case.confirmation_date, dt.time(12), tzinfo=dt.UTC)
    request = DataRequest.objects.create(
        request_id=f"R{number:05d}",
        case=case,
        kinds=["cards"],
        start=moment - dt.timedelta(days=14),
        end=moment,
        justification="contact tracing",
        needs_approval=False,
        status=Status.ANALYSED,
        requested_by="national",
        requested_role="national_investigator",
        deadline=moment,
    )
    analysis = CaseAnalysis(
        case_id=case.case_id,
        computed_at=moment,
        timezone="Asia/Seoul",
        window=(moment - dt.timedelta(days=14), moment),
        stays=pa.Table.from_pylist(rows),
        path={"type": "FeatureCollection", "features": []},
        comparison=None,
        contacts=None,
        provenance=[],
    )
    return AnalysisResult.objects.create(
        request=request,
        case=case,
        computed_at=moment,
        stays=len(rows),
        provenance=[],
        bundle_enc=seal_bundle(case, request.pk, analysis),
    )


def plant_chain(places: dict[str, Any]) -> dict[str, Any]:
    """Cases A and B of Seoul 중구 (A -> B at the restaurant), C of Busan; analyses stored."""
    a = register_case(places["seoul"], dates(dt.date(2026, 11, 3)), person("PA"), by="setup")
    b = register_case(places["seoul"], dates(dt.date(2026, 11, 7)), person("PB"), by="setup")
    c = register_case(places["busan"], dates(dt.date(2026, 11, 8)), person("PC"), by="setup")
    lunch = dt.date(2026, 11, 2)
    spot = (37.5663, 126.9779)
    store_analysis(a, [stay("PA", lunch, 12, 1.5, *spot, RESTAURANT)], 1)
    store_analysis(b, [stay("PB", lunch, 12, 1.0, *spot, RESTAURANT)], 2)
    store_analysis(c, [stay("PC", lunch, 19, 2.0, 35.1, 129.03, "부산식당")], 3)
    return {"a": a, "b": b, "c": c}
