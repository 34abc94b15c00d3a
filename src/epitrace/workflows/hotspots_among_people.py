"""``epitrace hotspots --among-people``: outbreak hotspots where a carrier's
records are, counting cases among the people present.

The default search (``workflows/hotspots.py``) traces each case's stays and scans them
against each other. This one needs every subscriber's records, so it runs
where they are (a carrier's store, or a simulated city, which holds all
carriers'): each subscriber's main cell in every daytime hour locates the
person; a circle's people in a 3-hour slot are its presence, the cases among
them on their days (each case's exposure window, within 3 days of its likely
infection) its cases; p-values by giving the cases' days to people drawn at
random (``analysis/hotspots/persons.py``). How often it finds a planted
church service, and raises a false alarm, on simulated cities:
docs/accuracy.md, "Planted cities". Only counts leave it:
``hotspots.csv`` has circles, slots and counts; ``hotspot_cases.csv`` names
the cases (whom the health authority already knows) in each cluster.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from epitrace.analysis.hotspots.case_events import CaseWindow
from epitrace.analysis.hotspots.persons import PeopleScan, scan_relabelled
from epitrace.formats.readers import read_dataset_table
from epitrace.formats.writers import SpreadsheetSafeWriter
from epitrace.workflows.hotspots import HotspotError, HotspotResult, HotspotSearch

DAYTIME_HOURS = (7, 21)  # local hours whose main cell locates a person (07:00-21:59)
DAYS_AROUND_INFECTION = 3  # a case's days: its window's, this close to the likely infection
SLOT_HOURS = 3  # a gathering is a place at a time of day
MAX_SLOTS = 1


def main_cells_by_hour(folder: Path, tz: str) -> pa.Table:
    """Every subscriber's cell with the most records in each daytime hour, as
    (person, lat, lon, ts): the person's ``person_ref``, the antenna, the hour."""
    tables = {}
    for name in ("telecom_records", "cells", "subscribers"):
        loaded = read_dataset_table(folder, name)
        if loaded is None:
            raise HotspotError(f"{folder} has no {name} table: --among-people needs a carrier's")
        if loaded.problems:
            raise HotspotError(f"{folder}/{name} breaks its contract: {loaded.problems[0]}")
        tables[name] = loaded.table
    connection = duckdb.connect()
    connection.sql(f"SET TimeZone = '{tz}'")
    for name, table in tables.items():
        connection.register(name, table)
    low, high = DAYTIME_HOURS
    return connection.sql(f"""
        WITH per_hour AS (
            SELECT carrier, subscriber, date_trunc('hour', ts) AS hour, cell_id,
                   count(*) AS records
            FROM telecom_records WHERE hour(ts) BETWEEN {low} AND {high}
            GROUP BY ALL),
        main AS (
            SELECT carrier, subscriber, hour,
                   first(cell_id ORDER BY records DESC, cell_id) AS cell_id
            FROM per_hour GROUP BY ALL)
        SELECT s.person_ref AS person, c.lat, c.lon, m.hour AS ts
        FROM main m JOIN cells c USING (carrier, cell_id)
             JOIN subscribers s USING (carrier, subscriber)
        WHERE s.person_ref IS NOT NULL""").to_arrow_table()


def case_days(windows: list[CaseWindow], tz: str) -> pa.Table:
    """Each case's days (person, first_day, last_day): those of its exposure
    window within ``DAYS_AROUND_INFECTION`` of its likely day of infection."""
    zone, around = ZoneInfo(tz), dt.timedelta(days=DAYS_AROUND_INFECTION)
    rows = []
    for w in windows:
        likely = w.likely_infection.astimezone(zone).date()
        first = max(w.start.astimezone(zone).date(), likely - around)
        last = min((w.end - dt.timedelta(microseconds=1)).astimezone(zone).date(), likely + around)
        if first <= last:
            rows.append((w.person_ref, w.case_id, first, last))
    person, case_id, first, last = zip(*rows, strict=True) if rows else ([], [], [], [])
    return pa.table(
        {
            "person": pa.array(person, pa.string()),
            "case_id": pa.array(case_id, pa.string()),
            "first_day": pa.array(first, pa.date32()),
            "last_day": pa.array(last, pa.date32()),
        }
    )


def find_hotspots_among_people(search: HotspotSearch) -> HotspotResult:
    """Scan the cases among everyone present; write hotspots.csv and hotspot_cases.csv
    to ``search.out``.

    Windows are one ``SLOT_HOURS`` slot, whatever ``search.params.max_days`` says."""
    began = time.perf_counter()
    folder = search.folder
    tz, crs, cases, windows = search.read_case_windows()
    days = case_days(windows, tz)
    if days.num_rows == 0:
        raise HotspotError(f"no case of {search.cases_file} has a day to scan in its window")
    rows = main_cells_by_hour(folder, tz)
    first_day, last_day = min(days["first_day"].to_pylist()), max(days["last_day"].to_pylist())
    try:
        scan = scan_relabelled(
            rows,
            days.drop_columns(["case_id"]),
            search.params,
            crs=crs,
            tz=tz,
            first_day=first_day,
            last_day=last_day,
            slot_hours=SLOT_HOURS,
            max_slots=MAX_SLOTS,
        )
    except ValueError as exc:
        raise HotspotError(str(exc)) from None
    if scan.n_cases == 0:
        raise HotspotError(f"none of the {cases.num_rows} cases is a subscriber in {folder}")
    events = case_rows(rows, days, tz)
    result = HotspotResult(
        search.out,
        scan,
        events,
        cases.num_rows,
        scan.n_cases,
        rows_are="case-hours located",
        counts_are="cases",
    )
    return result.write(tz, lambda path: _write_members(scan, days, path), began)


def case_rows(rows: pa.Table, days: pa.Table, tz: str) -> pa.Table:
    """The cases' rows on their days (what the scan counted)."""
    connection = duckdb.connect()
    connection.sql(f"SET TimeZone = '{tz}'")
    connection.register("rows", rows)
    connection.register("days", days)
    return connection.sql(
        "SELECT r.* FROM rows r JOIN days d ON r.person = d.person "
        "AND CAST(r.ts AS DATE) BETWEEN d.first_day AND d.last_day"
    ).to_arrow_table()


def _write_members(scan: PeopleScan, days: pa.Table, path: Path) -> Path:
    """``hotspot_cases.csv``: each cluster's cases (cluster_id, p_value, case_id, person_ref)."""
    case_of = dict(zip(days["person"].to_pylist(), days["case_id"].to_pylist(), strict=True))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = SpreadsheetSafeWriter(csv.writer(handle))
        writer.writerow(["cluster_id", "p_value", "case_id", "person_ref"])
        for number, (cluster, people) in enumerate(
            zip(scan.clusters, scan.cluster_cases, strict=True), start=1
        ):
            for person in people:
                writer.writerow([number, cluster.p_value, case_of[person], person])
    return path
