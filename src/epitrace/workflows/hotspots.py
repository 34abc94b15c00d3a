"""Outbreak hotspots from a dataset folder: the work behind ``epitrace hotspots``.

For each confirmed case (a ``cases`` table) the case's records are read from
the dataset folder, their stays traced over the exposure-relevant window and
turned into case events by the rules of ``analysis.hotspots.case_events``;
the events are scanned, and ``hotspots.csv`` and ``hotspot_cases.csv`` are
written. Cases without records (no subscriber, card or GPS record, or no
stays in their window) are skipped and counted. The ``cases`` table gives
only the region; a district's centroid is kilometres from any place the case
went, and piling a district's cases on one point would make a "place" of a
whole district, so no fallback location is invented.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pyarrow as pa

from epitrace.analysis.hotspots.case_events import (
    DATED_BY,
    EVENT_COLUMNS,
    CaseWindow,
    case_events,
    events_in_clusters,
    events_table,
    exposure_windows,
    scan_events,
)
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.trajectory import trace_subject
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.errors import UserInputError
from epitrace.formats.manifest import read_manifest
from epitrace.formats.readers import read_given_table
from epitrace.formats.writers import SpreadsheetSafeWriter, write_table
from epitrace.providers.dataset import DatasetStore, UnknownSubject

if TYPE_CHECKING:
    from epitrace.analysis.hotspots.clusters import HotspotScan


class HotspotError(UserInputError):
    """The hotspot search cannot run on this input; the message says why."""


def skipped_case_warnings(skipped: dict[str, list[str]]) -> list[str]:
    """One warning line per reason cases were skipped, naming the first five."""
    return [
        f"warning: {len(ids)} case(s) skipped, {reason}: {', '.join(ids[:5])}"
        + (" ..." if len(ids) > 5 else "")
        for reason, ids in skipped.items()
    ]


@dataclass
class HotspotResult:
    out: Path
    scan: HotspotScan
    events: pa.Table  # one row per case event (see EVENT_COLUMNS) with its location
    cases_total: int
    cases_used: int
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> case ids
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    # What the input rows and a cluster's counts are, as the summary names them.
    rows_are: str = "case events"
    counts_are: str = "events"

    def messages(self) -> list[str]:
        return skipped_case_warnings(self.skipped)

    def describe(self) -> str:
        clusters = self.scan.clusters
        lines = [
            f"{self.cases_used} of {self.cases_total} cases, {self.events.num_rows} "
            f"{self.rows_are}: {len(clusters)} cluster(s) in {self.seconds:.1f} s; wrote "
            + ", ".join(p.name for p in self.files)
            + f" to {self.out}/"
        ]
        for number, c in enumerate(clusters[:5], start=1):
            hours = (
                ""
                if (c.start_hour, c.end_hour) == (0, 24)
                else (f" {c.start_hour:02d}-{c.end_hour:02d} h")
            )
            lines.append(
                f"  {number}. {c.lat:.5f}, {c.lon:.5f} r={c.radius_m:.0f} m "
                f"{c.first_day}..{c.last_day}{hours}: {c.cases} {self.counts_are}, "
                f"{c.expected:.1f} expected, p={c.p_value:.3g}"
            )
        return "\n".join(lines)

    def write(self, tz: str, write_cases: Callable[[Path], Path], began: float) -> HotspotResult:
        """Write ``hotspots.csv``, then ``hotspot_cases.csv`` by ``write_cases``, to
        ``out``; note the files and the seconds since ``began``."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.files = [
            write_table(self.scan.to_table(), self.out, "hotspots", "csv", tz=tz),
            write_cases(self.out / "hotspot_cases.csv"),
        ]
        self.seconds = time.perf_counter() - began
        return self


# --- reading inputs --------------------------------------------------------


def dataset_settings(folder: Path) -> tuple[str, str]:
    """The dataset's time zone and projected CRS (its manifest says; Korea's otherwise)."""
    manifest = read_manifest(folder)
    tz = DEFAULT_TZ if manifest.tz is None else manifest.tz
    return tz, PROJECTED_CRS if manifest.projected_crs is None else manifest.projected_crs


def read_cases(path: Path) -> pa.Table:
    """The ``cases`` table, or ``HotspotError`` naming its problems."""
    return read_given_table(path, "cases", HotspotError).table


@dataclass(frozen=True)
class HotspotSearch:
    """What every hotspot search is given: the dataset ``folder``, the ``cases``
    table's file, the folder to write to, the window replacing every case's own
    (``start``, ``end``: aware datetimes, None for the case's) and the scan's
    settings (None: ``ScanParams()``)."""

    folder: Path
    cases_file: Path
    out: Path
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    params: ScanParams | None = None

    def read_case_windows(self) -> tuple[str, str, pa.Table, list[CaseWindow]]:
        """The dataset's time zone and projected CRS, the cases (``HotspotError``
        if none) and their exposure windows: what every hotspot search starts from."""
        tz, crs = dataset_settings(self.folder)
        cases = read_cases(self.cases_file)
        if cases.num_rows == 0:
            raise HotspotError(f"{self.cases_file} has no cases")
        return tz, crs, cases, exposure_windows(cases, tz, self.start, self.end)


# --- stays to events -------------------------------------------------------


def trace_case_events(
    folder: Path,
    windows: list[CaseWindow],
    tz: str,
    crs: str,
    on_case: Callable[[], None] | None = None,
) -> tuple[pa.Table, dict[str, list[str]]]:
    """Events of every case traced from the dataset folder, and the cases skipped."""
    store = DatasetStore(folder)
    rows: list[dict] = []
    skipped: dict[str, list[str]] = {}
    for window in windows:
        try:
            records = store.subject(window.person_ref).window(window.start, window.end)
        except UnknownSubject:
            skipped.setdefault("no provider record of the person", []).append(window.case_id)
        else:
            events = case_events(trace_subject(records).stays, window, tz, crs)
            if events:
                rows.extend(events)
            else:
                skipped.setdefault("no daytime stay in the window", []).append(window.case_id)
        if on_case is not None:
            on_case()
    return events_table(rows), skipped


# --- scan and outputs ------------------------------------------------------


def write_cluster_cases(rows: list[dict], path: Path, tz: str) -> Path:
    """``hotspot_cases.csv``: which cases and stays fall in each cluster."""
    zone = ZoneInfo(tz)
    columns = ["cluster_id", "p_value", *EVENT_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = SpreadsheetSafeWriter(csv.DictWriter(handle, fieldnames=columns))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **row,
                    "ts": row["ts"].astimezone(zone).isoformat(),
                    "start": row["start"].astimezone(zone).isoformat(),
                    "end": row["end"].astimezone(zone).isoformat(),
                    "likely_infection": row["likely_infection"].astimezone(zone).isoformat(),
                }
            )
    return path


def _study_days(
    start: dt.datetime | None, end: dt.datetime | None, tz: str
) -> tuple[dt.date | None, dt.date | None]:
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date() if start is not None else None
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date() if end is not None else None
    return first, last


def find_outbreak_hotspots(
    search: HotspotSearch,
    *,
    dated_by: str = DATED_BY,
    week_shifts: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_case: Callable[[], None] | None = None,
) -> HotspotResult:
    """Trace every case, scan their events, write hotspots.csv and hotspot_cases.csv
    to ``search.out``.

    ``dated_by`` and ``week_shifts`` choose the null hypothesis
    (``analysis.hotspots.case_events.scan_events``)."""
    began = time.perf_counter()
    folder = search.folder
    tz, crs, cases, windows = search.read_case_windows()
    if on_start is not None:
        on_start(len(windows))
    events, skipped = trace_case_events(folder, windows, tz, crs, on_case)
    if events.num_rows == 0:
        raise HotspotError(
            f"none of the {cases.num_rows} cases has a daytime stay in its window in {folder}"
        )
    first_day, last_day = _study_days(search.start, search.end, tz)
    try:
        scan = scan_events(
            events,
            search.params,
            tz=tz,
            crs=crs,
            first_day=first_day,
            last_day=last_day,
            dated_by=dated_by,
            week_shifts=week_shifts,
        )
    except ValueError as exc:
        raise HotspotError(str(exc)) from None
    used = len(set(events.column("case_id").to_pylist()))
    result = HotspotResult(search.out, scan, events, cases.num_rows, used, skipped)
    return result.write(
        tz,
        lambda path: write_cluster_cases(events_in_clusters(scan, events, tz, dated_by), path, tz),
        began,
    )
