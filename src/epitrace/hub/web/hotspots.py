"""The hotspot page: Kulldorff's space-time permutation scan over the stays of the cases
the investigator may see (issue 8), on a map and as a list with each cluster's cases.

The scan is the command line's (``analysis.hotspots.case_events``: daytime stays, one event per
case and place, then ``analysis.hotspots.scan_hotspots``); the hub feeds it the stays of
each case's latest analysis. Each case whose stays enter the scan is a view of its
results and is recorded as such (``policy.decide(..., "result.view", case)``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.hub import policy
from epitrace.hub.cases.models import Case
from epitrace.hub.security import client_ip
from epitrace.hub.web import case_analysis
from epitrace.hub.web.basemap import map_settings
from epitrace.hub.web.pages import refused

# The scan's own default (analysis/hotspots/clusters.py); imported lazily with the scan,
# which loads Numba only when the page is opened.
REPLICATIONS = 999
SCAN_CASE_LIMIT = 2000  # the page scans at most this many cases (the newest confirmed)
PURPOSE = "hotspot scan over the stays of visible cases"


@dataclass
class HotspotView:
    clusters: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    cases_scanned: list[str] = field(default_factory=list)
    without_path: list[str] = field(default_factory=list)
    without_daytime_stay: list[str] = field(default_factory=list)
    timezone: str = DEFAULT_TZ


def _case_row(case: Case) -> dict[str, Any]:
    # The scan needs a reference per person; the case number names nobody.
    return {
        "case_id": case.case_id,
        "person_ref": case.case_id,
        "confirmed_date": case.confirmation_date,
        "onset_date": case.onset_date,
    }


def _events_of(request: HttpRequest, cases: list[Case], view: HotspotView) -> list[dict]:
    from epitrace.analysis.hotspots import case_events as outbreaks

    rows: list[dict] = []
    for case in cases:
        analysis = case_analysis.latest_analysis(case)
        if analysis is None:
            view.without_path.append(case.case_id)
            continue
        policy.decide(request.user, "result.view", case, ip=client_ip(request), purpose=PURPOSE)
        view.timezone = analysis.timezone or view.timezone
        (window,) = outbreaks.exposure_windows(
            pa.Table.from_pylist([_case_row(case)]), view.timezone
        )
        events = outbreaks.case_events(analysis.stays, window, view.timezone, PROJECTED_CRS)
        if events:
            view.cases_scanned.append(case.case_id)
            rows.extend(events)
        else:
            view.without_daytime_stay.append(case.case_id)
    return rows


def _cluster_rows(scan: Any, members: list[dict]) -> list[dict[str, Any]]:
    clusters = []
    for number, cluster in enumerate(scan.clusters, start=1):
        inside = [m for m in members if m["cluster_id"] == number]
        clusters.append(
            {
                "number": number,
                "lat": cluster.lat,
                "lon": cluster.lon,
                "radius_m": cluster.radius_m,
                "first_day": cluster.first_day,
                "last_day": cluster.last_day,
                "cases": cluster.cases,
                "expected": cluster.expected,
                "p_value": cluster.p_value,
                "case_ids": sorted({m["case_id"] for m in inside}),
                "places": sorted({m["place_name"] for m in inside if m["place_name"]}),
            }
        )
    return clusters


def scan_visible_cases(request: HttpRequest, cases: list[Case]) -> HotspotView:
    from epitrace.analysis.hotspots import case_events as outbreaks
    from epitrace.analysis.hotspots.params import ScanParams

    view = HotspotView()
    rows = _events_of(request, cases, view)
    if not rows:
        return view
    events = outbreaks.events_table(rows)
    scan = outbreaks.scan_events(
        events, ScanParams(replications=REPLICATIONS, seed=0), tz=view.timezone, crs=PROJECTED_CRS
    )
    members = outbreaks.events_in_clusters(scan, events, view.timezone)
    view.clusters = _cluster_rows(scan, members)
    view.events = [
        {"case_id": r["case_id"], "lat": r["lat"], "lon": r["lon"], "day": _day(r["ts"], view)}
        for r in rows
    ]
    return view


def _day(ts: dt.datetime, view: HotspotView) -> str:
    return ts.astimezone(ZoneInfo(view.timezone)).date().isoformat()


@require_GET
def hotspots_page(request: HttpRequest) -> HttpResponse:
    decision = policy.decide(request.user, "case.list", ip=client_ip(request))
    if not decision.allowed:
        return refused(request, decision)
    cases = policy.visible(
        request.user,
        "case.list",
        Case.objects.select_related("region").order_by("-confirmation_date", "case_id"),
    )
    view = scan_visible_cases(request, list(cases[:SCAN_CASE_LIMIT]))
    map_data = {
        **map_settings(),
        "clusters": [
            {k: c[k] for k in ("number", "lat", "lon", "radius_m", "p_value", "cases")}
            for c in view.clusters
        ],
        "events": view.events,
    }
    return render(
        request,
        "web/hotspots.html",
        {"view": view, "map_data": map_data, "replications": REPLICATIONS},
    )
