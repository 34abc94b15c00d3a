"""The hotspot page's scan: Kulldorff's space-time permutation scan over the stays of the
cases the investigator may see (issue 8), run as a durable job, its result cached.

The scan is the command line's (``analysis.hotspots.case_events``: daytime stays, one event per
case and place, then ``analysis.hotspots.scan_hotspots``); the hub feeds it the stays of
each case's latest analysis. 999 replications take too long for a web request, so the
page (exchange/views.py) asks for a ``HotspotScan`` of the visible cases (``scan_for``)
and the job runner computes it (``run_scan``, called by exchange/jobs.py), reporting its
progress: reading the cases' stays, then the scan itself. A scan is named by its
``signature``: the cases and their analyses; a new analysis or a case gone makes a new
scan, while the page shows the last result it may show.

Each case whose stays are shown is a view of its results and is recorded as such when
the page shows them (``record_views``: ``policy.decide(..., "result.view", case)``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise

from epitrace.analysis.hotspots import case_events
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.geography import locate
from epitrace.hub import crypto, policy
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange import results
from epitrace.hub.exchange.case_analysis import district_text
from epitrace.hub.exchange.models import AnalysisResult, HotspotScan, JobStatus
from epitrace.report.model import district_names

# The command line's settings (999 replications, seed 0); the scan's compiled
# kernels load only when a scan runs.
SCAN_PARAMS = ScanParams()
SCAN_CASE_LIMIT = 2000  # the page scans at most this many cases (the newest confirmed)
PURPOSE = "hotspot scan over the stays of visible cases"
READING_SHARE = 50  # percent of the progress bar for reading the cases' stays
RECENT_SCANS = 20  # finished scans looked through for the last one a user may see
SEAL_PURPOSE = b"epitrace hotspot cache v1"


@dataclass
class HotspotView:
    clusters: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    cases_scanned: list[str] = field(default_factory=list)
    without_path: list[str] = field(default_factory=list)
    without_daytime_stay: list[str] = field(default_factory=list)
    timezone: str = DEFAULT_TZ
    # The cases whose stays the scan read, in order: showing the result views each one.
    read: list[str] = field(default_factory=list)


def significance_level() -> float:
    """The p-value below which a cluster is a suspected outbreak area
    (``EPITRACE_HOTSPOT_ALPHA``, 0.05 unless the operator sets another)."""
    return float(settings.EPITRACE_HOTSPOT_ALPHA)


def split_by_significance(
    clusters: list[dict[str, Any]], alpha: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(suspected, not significant): clusters with ``p_value < alpha`` and the others,
    each in the scan's order (most likely first). Each cluster gains ``significant``."""
    for cluster in clusters:
        cluster["significant"] = cluster["p_value"] < alpha
    return [c for c in clusters if c["significant"]], [c for c in clusters if not c["significant"]]


def cluster_districts(clusters: list[dict[str, Any]]) -> list[str | Promise]:
    """Per cluster, the district of its centre ("대구광역시 중구 동인동1가"), as a stay's
    (outside Korea: translated when the page is rendered)."""
    if not clusters:
        return []
    found = locate([c["lat"] for c in clusters], [c["lon"] for c in clusters])
    return [district_text(name) for name in district_names(found)]


def _case_row(case: Case) -> dict[str, Any]:
    # The scan needs a reference per person; the case number names nobody.
    return {
        "case_id": case.case_id,
        "person_ref": case.case_id,
        "confirmed_date": case.confirmation_date,
        "onset_date": case.onset_date,
    }


def _events_of(cases: list[Case], view: HotspotView, progress: Callable[[int], None]) -> list[dict]:
    rows: list[dict] = []
    for number, case in enumerate(cases, start=1):
        analysis = results.latest_analysis(case)
        progress(READING_SHARE * number // len(cases))
        if analysis is None:
            view.without_path.append(case.case_id)
            continue
        view.read.append(case.case_id)
        view.timezone = analysis.timezone or view.timezone
        (window,) = case_events.exposure_windows(
            pa.Table.from_pylist([_case_row(case)]), view.timezone
        )
        events = case_events.case_events(analysis.stays, window, view.timezone, PROJECTED_CRS)
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


def scan_cases(cases: list[Case], progress: Callable[[int], None]) -> HotspotView:
    """Scan the stays of ``cases``' latest analyses; ``progress(percent)`` as it goes.

    The caller decides who may see the result: this reads every case it is given."""
    view = HotspotView()
    rows = _events_of(cases, view, progress)
    if not rows:
        return view
    events = case_events.events_table(rows)
    scan = case_events.scan_events(events, SCAN_PARAMS, tz=view.timezone, crs=PROJECTED_CRS)
    members = case_events.events_in_clusters(scan, events, view.timezone)
    view.clusters = _cluster_rows(scan, members)
    view.events = [
        {"case_id": r["case_id"], "lat": r["lat"], "lon": r["lon"], "day": _day(r["ts"], view)}
        for r in rows
    ]
    return view


def _day(ts: dt.datetime, view: HotspotView) -> str:
    return ts.astimezone(ZoneInfo(view.timezone)).date().isoformat()


# --- the cached result ------------------------------------------------------------


def seal_view(view: HotspotView) -> bytes:
    clusters = [
        {**c, "first_day": c["first_day"].isoformat(), "last_day": c["last_day"].isoformat()}
        for c in view.clusters
    ]
    text = json.dumps({**asdict(view), "clusters": clusters})
    return crypto.seal(crypto.hub_key(SEAL_PURPOSE), text.encode(), b"hotspot scan")


def open_view(blob: bytes) -> HotspotView:
    data = json.loads(crypto.open_sealed(crypto.hub_key(SEAL_PURPOSE), blob, b"hotspot scan"))
    for cluster in data["clusters"]:
        for name in ("first_day", "last_day"):
            cluster[name] = dt.date.fromisoformat(cluster[name])
    return HotspotView(**data)


def signature(cases: list[Case]) -> str:
    """Names the cases (in order) and every analysis stored for them."""
    analyses = AnalysisResult.objects.filter(case__in=cases).order_by("case_id", "id")
    named = {
        "cases": [case.pk for case in cases],
        "analyses": [[a, b.isoformat()] for a, b in analyses.values_list("id", "computed_at")],
    }
    return hashlib.sha256(json.dumps(named).encode()).hexdigest()


def scan_for(cases: list[Case]) -> HotspotScan:
    """The scan of exactly these cases and analyses: the cached one, or a new job."""
    name = signature(cases)
    found = HotspotScan.objects.filter(signature=name).first()
    if found is None:
        try:
            with transaction.atomic():
                found = HotspotScan.objects.create(
                    signature=name, cases=[case.pk for case in cases], run_after=timezone.now()
                )
        except IntegrityError:  # another request queued the same scan at the same moment
            found = HotspotScan.objects.get(signature=name)
    elif found.status == JobStatus.FAILED:  # given up earlier: a new visit tries again
        HotspotScan.objects.filter(pk=found.pk, status=JobStatus.FAILED).update(
            status=JobStatus.QUEUED, attempts=0, run_after=timezone.now(), progress=0
        )
        found.refresh_from_db()
    return found


def last_result(scan: HotspotScan, visible: set[int]) -> HotspotScan | None:
    """``scan`` if done, else the newest finished scan of cases all still ``visible``."""
    if scan.status == JobStatus.DONE:
        return scan
    done = HotspotScan.objects.filter(status=JobStatus.DONE).exclude(pk=scan.pk)
    for earlier in done.order_by("-finished_at", "-id")[:RECENT_SCANS]:
        if set(earlier.cases) <= visible:
            return earlier
    return None


def record_views(user: Any, ip: str, view: HotspotView) -> None:
    """Each case whose stays are shown is a recorded view of its results."""
    shown = Case.objects.select_related("region").in_bulk(view.read, field_name="case_id")
    for case_id in view.read:
        if case_id in shown:
            policy.decide(user, "result.view", shown[case_id], ip=ip, purpose=PURPOSE)


def forget_scans(**kwargs: Any) -> None:
    """An analysis or a case was destroyed: no cached scan may outlive it."""
    HotspotScan.objects.all().delete()
