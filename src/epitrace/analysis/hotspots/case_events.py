"""Case events: the rules that turn confirmed cases' stays into what a scan counts.

A case's stays, traced over its exposure-relevant window, become *case
events* (a place and a day); Kulldorff's space-time permutation scan
(``analysis.hotspots.scan``) then looks for places where more cases were on
the same days than the cases' overall spread in space and time explains.
The file pipeline (``workflows.hotspots``) and the hub's hotspots page both
apply these rules, so a case counts the same way in each.

Choices, and why:

- **Window.** From 14 days before onset (before confirmation when the case
  had no symptoms) to the start of the confirmation day. 14 days is the
  longest usual COVID-19 incubation, so the place of infection falls inside;
  from confirmation on a case is isolated. ``start``/``end`` override both
  bounds for every case.
- **Stays to events.** A stay that covers 03:00 local time is left out: it
  is the night, almost always at home, and home is where a case lives, not a
  place they shared with other cases (household spread is found by contact
  tracing, not by a scan). Every other stay gives one event at its location
  on the local day it began.
- **One event per case and place.** A case who goes to the same pharmacy,
  office or cafe on several days would otherwise form a "cluster" of one
  person: the permutation model takes events as exchangeable, and a single
  person's repeat visits are not. So each case counts once per place (the
  named place when the evidence names one, else a 100 m grid square), on the
  visit nearest the most likely day of infection (onset − 5 days, the median
  incubation; confirmation − 8 days without onset).
- **Weekly schedules.** Churches gather on Sundays, clubs on weekend
  nights, so a church where a few cases worship can be a cluster by itself
  in a city without any outbreak. ``adjust_weekday`` (``--adjust-weekday``)
  applies SaTScan's space by day-of-week adjustment: a place's expected
  cases on a day follow its own share of that weekday's cases, and dates are
  permuted only within weekdays (``analysis/hotspots/scan.py``). It removes
  the Sunday-church alarms, but over two weeks it also removes the power:
  a planted Sunday event is then compared only with the one other Sunday,
  and is rarely found. Off by default; use it over periods of several
  weeks, and read a Sunday (or weekend-night) cluster at one venue without
  it as an upper bound on the evidence.

  How often each choice below finds a planted event, and raises a false
  alarm, on simulated cities: docs/accuracy.md, "Outbreak hotspots on
  simulated cities" (and its five-week and planted-city sections).
- **Cases as the unit** (``dated_by="case"``). Events of one case are not
  independent: they share the person and lie near their home. Dated by the
  case's likely day of infection instead of by the visit, a case counts once
  per cylinder and the permutation moves whole cases (``case_column`` of
  ``scan_hotspots``), so neither one case's many places nor a place's weekly
  schedule can make a cluster: the test's size holds by construction. It
  finds outbreaks whose cases' infection days stand out from the others'
  (the DS4C clusters of 2020), but not the planted event of a two-week
  simulated city, whose infectees are the church's own weekly members and
  most of that city's cases. Not the default yet.
- **Whole cases moved by whole weeks** (``week_shifts``). Visit-dated
  events as above, scanned with the same statistic, but the replications
  move each case's events together, by the whole weeks between its likely
  day of infection and another case's of the same weekday
  (``analysis/hotspots/shifts.py``). One case's places and a place's
  weekly schedule are then in the null distribution too, so neither makes
  a cluster. Cases anchored in the period's first 9 days stay in place (the
  period cut their windows, so their events bunch later than any other
  case's). The size holds on null cities, but a planted Sunday event in
  an epidemic under way is seldom significant: the event's own infectees
  weigh in the cases' calendar, and the replications put the congregation
  back on its Sundays. With the event the city's one cluster
  (``outbreak="planted"``) it is found far more often. Not the default
  yet.
- **Cases without records** (no subscriber, card or GPS record, or no stays
  in their window) are skipped and counted. The ``cases`` table gives only
  the region; a district's centroid is kilometres from any place the case
  went, and piling a district's cases on one point would make a "place" of a
  whole district, so no fallback location is invented.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots.cells import project
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS

if TYPE_CHECKING:
    # The scan loads Numba: imported when a scan runs (scan_events), not with the rules.
    from epitrace.analysis.hotspots.clusters import HotspotScan
from epitrace.analysis.home import covers_night

EXPOSURE_DAYS_BEFORE = 14  # longest usual incubation period of COVID-19


MEDIAN_INCUBATION_DAYS = 5  # onset − this = most likely day of infection


ASYMPTOMATIC_TEST_LAG_DAYS = 3  # confirmation − onset, typical (1 + Poisson(2))


# A window begins at most this many days before its likely day of infection
# (onset − 14 against onset − 5; confirmation − 14 against confirmation − 8):
# a case anchored sooner after the period's start had its window cut by it.
WINDOW_DAYS_BEFORE_ANCHOR = EXPOSURE_DAYS_BEFORE - MEDIAN_INCUBATION_DAYS


DEDUP_GRID_M = 100.0  # unnamed stays of one case within this square are one place


# "case": each event carries its case's likely day of infection, and the scan
# permutes those days among cases; "visit": the day of the stay, permuted
# among events (the former default; see the module docstring).
DATED_BY = "visit"


EVENT_COLUMNS = (
    "case_id",
    "person_ref",
    "ts",
    "seq",
    "start",
    "end",
    "lat",
    "lon",
    "place_name",
    "sources",
    "likely_infection",
)


@dataclass(frozen=True)
class CaseWindow:
    case_id: str
    person_ref: str
    start: dt.datetime
    end: dt.datetime
    likely_infection: dt.datetime  # visits nearest to it represent a place


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def exposure_windows(
    cases: pa.Table,
    tz: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[CaseWindow]:
    """Each case's exposure-relevant window (see the module docstring)."""
    windows = []
    for row in cases.to_pylist():
        confirmed: dt.date = row["confirmed_date"]
        onset: dt.date | None = row["onset_date"]
        reference = onset if onset is not None and onset <= confirmed else confirmed
        likely_onset = (
            reference
            if onset is not None
            else confirmed - dt.timedelta(days=ASYMPTOMATIC_TEST_LAG_DAYS)
        )
        infection_day = likely_onset - dt.timedelta(days=MEDIAN_INCUBATION_DAYS)
        windows.append(
            CaseWindow(
                case_id=row["case_id"],
                person_ref=row["person_ref"],
                start=start
                or _local_midnight(reference - dt.timedelta(days=EXPOSURE_DAYS_BEFORE), tz),
                end=end or _local_midnight(confirmed, tz),
                likely_infection=_local_midnight(infection_day, tz) + dt.timedelta(hours=12),
            )
        )
    return windows


def case_events(
    stays: pa.Table, window: CaseWindow, tz: str, crs: str = PROJECTED_CRS
) -> list[dict]:
    """One case's events: daytime stays, one per place, nearest the likely infection."""
    rows = [
        row
        for row in stays.to_pylist()
        if row["end"] > window.start
        and row["start"] < window.end
        and not covers_night(row["start"], row["end"], tz)
    ]
    if not rows:
        return []
    x, y = project(np.array([r["lat"] for r in rows]), np.array([r["lon"] for r in rows]), crs)
    best: dict[object, dict] = {}
    for row, px, py in zip(rows, x, y, strict=True):
        key = row["place_name"] or (
            int(np.floor(px / DEDUP_GRID_M)),
            int(np.floor(py / DEDUP_GRID_M)),
        )
        distance = abs((row["start"] - window.likely_infection).total_seconds())
        if key not in best or distance < best[key][0]:
            best[key] = (distance, row)
    events = [row for _, row in best.values()]
    events.sort(key=lambda r: r["start"])
    return [
        {
            "case_id": window.case_id,
            "person_ref": window.person_ref,
            # A stay begun before the window counts from the window's start.
            "ts": max(row["start"], window.start),
            "seq": row["seq"],
            "start": row["start"],
            "end": row["end"],
            "lat": row["lat"],
            "lon": row["lon"],
            "place_name": row["place_name"] or "",
            "sources": row["sources"],
            "likely_infection": window.likely_infection,
        }
        for row in events
    ]


def events_table(rows: list[dict]) -> pa.Table:
    ts = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("case_id", pa.string()),
            ("person_ref", pa.string()),
            ("ts", ts),
            ("seq", pa.int64()),
            ("start", ts),
            ("end", ts),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("place_name", pa.string()),
            ("sources", pa.string()),
            ("likely_infection", ts),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def scan_events(
    events: pa.Table,
    params: ScanParams | None = None,
    *,
    tz: str = DEFAULT_TZ,
    crs: str = PROJECTED_CRS,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    dated_by: str = DATED_BY,
    week_shifts: bool = False,
) -> HotspotScan:
    """The space-time permutation scan over case events (lat, lon, ts, case_id,
    likely_infection), with the settings ``params`` (``ScanParams``).

    ``dated_by="visit"`` (default) dates events by their stay and permutes
    days among events; ``"case"`` dates every event by its case's likely day
    of infection, counts each case once per cylinder and permutes days among
    cases (``case_column``: the permutation test's unit is then the case).
    ``week_shifts`` (with ``"visit"``) keeps the visit-dated statistic but
    moves whole cases by whole weeks in the replications
    (``analysis.hotspots.shifts``). The study period stretches to hold every
    date scanned. ``params.adjust_weekday`` adjusts for space by day-of-week
    interaction (``analysis.hotspots.find_hotspots``); see the module docstring."""
    from epitrace.analysis.hotspots.clusters import scan_hotspots

    if dated_by not in ("case", "visit"):
        raise ValueError(f"dated_by must be 'case' or 'visit', got {dated_by!r}")
    if dated_by == "case":
        points = events.select(["lat", "lon", "likely_infection", "case_id"]).rename_columns(
            ["lat", "lon", "ts", "case_id"]
        )
    elif week_shifts:
        points = events.select(["lat", "lon", "ts", "case_id", "likely_infection"])
    else:
        points = events.select(["lat", "lon", "ts"])
    first_day, last_day = _period_holding(points, first_day, last_day, tz)
    return scan_hotspots(
        points,
        params,
        tz=tz,
        crs=crs,
        first_day=first_day,
        last_day=last_day,
        case_column="case_id" if dated_by == "case" else None,
        week_shifts=("case_id", "likely_infection") if week_shifts else None,
        movable_from=(
            first_day + dt.timedelta(days=WINDOW_DAYS_BEFORE_ANCHOR) if week_shifts else None
        ),
    )


def _local_days(ts: pa.ChunkedArray, tz: str) -> list[dt.date]:
    zone = ZoneInfo(tz)
    return [t.astimezone(zone).date() for t in ts.to_pylist()]


def _period_holding(
    points: pa.Table, first_day: dt.date | None, last_day: dt.date | None, tz: str
) -> tuple[dt.date | None, dt.date | None]:
    """The study period widened to hold every scanned date: a case's likely
    day of infection may fall before the --from of the stays."""
    if points.num_rows == 0:
        return first_day, last_day
    days = _local_days(points.column("ts"), tz)
    first = min(days) if first_day is None else min(first_day, min(days))
    last = max(days) if last_day is None else max(last_day, max(days))
    return first, last


def events_in_clusters(
    scan: HotspotScan, events: pa.Table, tz: str, dated_by: str = DATED_BY
) -> list[dict]:
    """Each cluster's case events: at one of its locations, dated (by the case's
    likely infection, or by the visit) on one of its days."""
    if not scan.clusters or scan.cells is None:
        return []
    zone = ZoneInfo(tz)
    date_column = "likely_infection" if dated_by == "case" else "ts"
    rows = events.to_pylist()
    out = []
    for number, cluster in enumerate(scan.clusters, start=1):
        inside = {(float(scan.cells.lat[i]), float(scan.cells.lon[i])) for i in cluster.locations}
        for row in rows:
            day = row[date_column].astimezone(zone).date()
            if (row["lat"], row["lon"]) in inside and cluster.first_day <= day <= cluster.last_day:
                out.append({"cluster_id": number, "p_value": cluster.p_value, **row})
    return out
