"""Validation of the space-time Poisson scan against people present
(``analysis/hotspots/population.py``; docs/accuracy.md).

    .venv/bin/python bench/validate_hotspots_population.py [--seeds 20] [--days 35]
        [--event-from-day 15] [--null-attack-rate 0.08] [--replications 999]
        [--cities DIR] [--json FILE] [--outbreak planted] [--only null]
        [--event-infectiousness 60] [--pairs 0,1,2] [--slot-hours 3] [--max-slots 1]

The cities are those of ``bench/validate_hotspots.py`` (same settings, same
seeds; ``--cities`` shares its folder). The Poisson model needs case events and
presence counted the same way, so each city is scanned with two such pairs,
each case event dated by its stay and kept only within ``--around`` days of
its case's likely day of infection (onset - 5 days; the days on which a case's
whereabouts say where it was infected):

- **places** (the statistic alone): case events are the cases' true daytime
  visits (``truth/visits``, a visit that does not cover 03:00) in their
  exposure windows, one per case, place and day; presence is the distinct
  residents with such a visit per place and day. The truth stands in for a
  carrier that locates everyone as well as the events are located.
- **carrier cells** (what carriers could give): every subscriber's cell with
  the most records in each daytime hour (07-21 h), in 250 m squares; presence
  is the distinct subscribers per square and day, and a case's events are its
  own squares and days.
- **carrier cells, people relabelled** (``analysis/hotspots/persons.py``): the
  same hourly cells, counted in people (each once per circle and time slot,
  ``--slot-hours``, windows of up to ``--max-slots`` slots), p-values by
  giving the cases' days to people drawn at random; a case's days are its
  exposure window's within ``--around`` days of its likely infection.

``--pairs`` picks some of them (indices, in this order); ``--outbreak
planted`` scans the planted cities (the null background plus the event
alone) beside the null ones, ``--only`` one kind, ``--event-infectiousness``
sizes the event (``bench/validate_hotspots.py``).

Scored as ``bench/validate_hotspots.py`` does: a hit when the most likely
cluster has p < 0.05 and holds the planted place (within its radius plus an
area's half-diagonal) and day; a false alarm when a null city's does. Also
reported for the clustered cities: whether the planted event is in *any*
cluster at p < 0.05, and whether a significant top cluster is a real outbreak
(truth: at least 5 infections at one place in its circle within 3 days of its
window); the simulated epidemic has outbreaks of its own at offices and
restaurants besides the planted one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).parent))
from epitrace.analysis.hotspots import HotspotScan
from epitrace.analysis.hotspots.case_events import exposure_windows
from epitrace.analysis.hotspots.cells import project
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.analysis.hotspots.persons import scan_relabelled
from epitrace.analysis.hotspots.population import AREA_M, scan_population
from epitrace.formats.readers import read_dataset_table
from epitrace.workflows.hotspots import dataset_settings
from epitrace.workflows.hotspots_among_people import case_days, case_rows, main_cells_by_hour
from validate_hotspots import (
    add_city_arguments,
    every_run,
    metres_between,
    outbreaks_of,
    planted_event,
)

SIGNIFICANCE = 0.05
REAL_OUTBREAK = 5  # true infections at one place in a cylinder (± 3 days) make it real
DAYTIME_HOURS = (7, 21)  # carrier records from 07:00 to 21:59 local
# A visit that covers 03:00 local is the night (the events leave it out too).
NOT_NIGHT = """NOT ((date_trunc('day', v.start) + INTERVAL 3 HOUR > v.start
                AND date_trunc('day', v.start) + INTERVAL 3 HOUR < v."end")
             OR (date_trunc('day', v.start) + INTERVAL 27 HOUR > v.start
                AND date_trunc('day', v.start) + INTERVAL 27 HOUR < v."end"))"""


@dataclass
class Run:
    seed: int
    outbreak: str
    variant: str
    events: int
    top_cases: int
    top_expected: float
    top_llr: float
    top_p: float
    top_radius_m: float
    top_days: str
    contains_event: bool
    event_rank: int  # of the first cluster holding the planted event (0: none)
    event_p: float
    top_infections: int  # most true infections at one place in the top cylinder (±3 days)
    # People relabelled: the top cluster's cases, and how many were infected at the event.
    top_people: int = 0
    top_event_people: int = 0

    @property
    def significant(self) -> bool:
        return self.top_p < SIGNIFICANCE

    @property
    def hit(self) -> bool:
        return self.significant and self.contains_event

    @property
    def hit_by_people(self) -> bool:
        """Significant, and most of the top cluster's cases were infected at the event
        (its window holding the event's day: cases are counted on their days only)."""
        return self.significant and self.top_event_people * 2 > self.top_people > 0


def _connection(tz: str, city: Path, cases: pa.Table) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.sql(f"SET TimeZone='{tz}'")
    windows = exposure_windows(cases, tz)
    connection.register(
        "windows",
        pa.table(
            {
                "case_id": [w.case_id for w in windows],
                "person_ref": [w.person_ref for w in windows],
                "window_start": [w.start for w in windows],
                "window_end": [w.end for w in windows],
                "likely_infection": [w.likely_infection for w in windows],
            }
        ),
    )
    return connection


def place_pairs(connection: duckdb.DuckDBPyConnection, city: Path, period: tuple[dt.date, dt.date]):
    """Case events and presence from the true daytime visits at places."""
    first, last = period
    connection.sql(f"""
        CREATE OR REPLACE TEMP VIEW daytime AS
        SELECT v.person_ref, v.place_id, v.start, CAST(v.start AS DATE) AS day, p.lat, p.lon
        FROM '{city}/truth/visits.parquet' v JOIN '{city}/truth/places.parquet' p USING (place_id)
        WHERE {NOT_NIGHT} AND CAST(v.start AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'""")
    presence = connection.sql(
        "SELECT lat, lon, day, count(DISTINCT person_ref)::BIGINT AS persons "
        "FROM daytime GROUP BY ALL"
    ).to_arrow_table()
    events = connection.sql("""
        SELECT w.case_id, min(d.start) AS ts, any_value(d.lat) AS lat, any_value(d.lon) AS lon,
               any_value(w.likely_infection) AS likely_infection
        FROM daytime d JOIN windows w ON d.person_ref = w.person_ref
             AND d.start >= w.window_start AND d.start < w.window_end
        GROUP BY w.case_id, d.place_id, d.day""").to_arrow_table()
    return events, presence


def _cell_squares(connection: duckdb.DuckDBPyConnection, city: Path, crs: str) -> None:
    """``squares``: each cell's 250 m square (centre, projected and lat/lon)."""
    cells = connection.sql(
        f"SELECT carrier, cell_id, lat, lon FROM '{city}/cells.parquet'"
    ).to_arrow_table()
    x, y = project(cells["lat"].to_numpy(), cells["lon"].to_numpy(), crs)
    centre_x = (np.floor(x / AREA_M) + 0.5) * AREA_M
    centre_y = (np.floor(y / AREA_M) + 0.5) * AREA_M
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(centre_x, centre_y)
    connection.register(
        "squares",
        pa.table({
            "carrier": cells["carrier"], "cell_id": cells["cell_id"], "lat": lat, "lon": lon,
            "x": centre_x, "y": centre_y,
        }),
    )  # fmt: skip


def _main_cells_by_hour(
    connection: duckdb.DuckDBPyConnection, city: Path, crs: str, period: tuple[dt.date, dt.date]
) -> None:
    """``main_hours``: each subscriber's cell with the most records in each hour, as its square."""
    _cell_squares(connection, city, crs)
    first, last = period
    connection.sql(f"""
        CREATE OR REPLACE TEMP TABLE main_hours AS
        WITH per_hour AS (
            SELECT carrier, subscriber, date_trunc('hour', ts) AS hour, cell_id, count(*) AS records
            FROM '{city}/telecom_records.parquet'
            WHERE CAST(ts AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'
            GROUP BY ALL),
        main AS (SELECT carrier, subscriber, hour, arg_max(cell_id, records) AS cell_id
                 FROM per_hour GROUP BY ALL)
        SELECT m.carrier, m.subscriber, m.hour, s.lat, s.lon, s.x, s.y
        FROM main m JOIN squares s USING (carrier, cell_id)""")


def _events_and_presence(connection: duckdb.DuckDBPyConnection, city: Path, rows: str):
    """Presence (distinct subscribers per square and day) of the table ``rows``
    (carrier, subscriber, day, ts, lat, lon) and its rows of cases in their windows."""
    presence = connection.sql(
        f"SELECT lat, lon, day, count(*)::BIGINT AS persons FROM {rows} GROUP BY lat, lon, day"
    ).to_arrow_table()
    events = connection.sql(f"""
        SELECT w.case_id, h.ts, h.lat, h.lon, w.likely_infection
        FROM {rows} h JOIN '{city}/subscribers.parquet' s USING (carrier, subscriber)
             JOIN windows w ON w.person_ref = s.person_ref
        WHERE h.ts >= w.window_start AND h.ts < w.window_end""").to_arrow_table()
    return events, presence


def carrier_pairs(
    connection: duckdb.DuckDBPyConnection, city: Path, crs: str, period: tuple[dt.date, dt.date]
):
    """Case events and presence from each subscriber's main cell per daytime hour."""
    _main_cells_by_hour(connection, city, crs, period)
    low, high = DAYTIME_HOURS
    connection.sql(f"""
        CREATE OR REPLACE TEMP TABLE hourly AS
        SELECT carrier, subscriber, CAST(hour AS DATE) AS day, min(hour) AS ts, lat, lon
        FROM main_hours WHERE hour(hour) BETWEEN {low} AND {high}
        GROUP BY carrier, subscriber, day, lat, lon""")
    return _events_and_presence(connection, city, "hourly")


def near_likely_infection(events: pa.Table, days: int, tz: str) -> pa.Table:
    """The events within ``days`` of their case's likely day of infection."""
    connection = duckdb.connect()
    connection.sql(f"SET TimeZone='{tz}'")
    connection.register("events", events)
    return connection.sql(
        "SELECT * FROM events WHERE abs(date_diff('day', CAST(likely_infection AS DATE), "
        f"CAST(ts AS DATE))) <= {days}"
    ).to_arrow_table()


PAIRS = [
    "places",
    "carrier cells",
    "carrier cells, people relabelled",
]


def scan_city(city: Path, seed: int, outbreak: str, args: argparse.Namespace) -> list[Run]:
    tz, crs = dataset_settings(city)
    loaded = read_dataset_table(city, "cases")
    assert loaded is not None
    cases = loaded.raise_for_problems()
    event = planted_event(city) if outbreak != "null" else None
    period = (args.start, args.start + dt.timedelta(days=args.days - 1))
    connection = _connection(tz, city, cases)
    infections = true_infections(connection, city)

    params = ScanParams(replications=args.replications, seed=seed, max_days=args.max_days)
    settings = {
        "crs": crs,
        "tz": tz,
        "first_day": period[0],
        "last_day": period[1],
    }

    def against_presence(pair: Callable[[], tuple[pa.Table, pa.Table]]):
        def scan() -> tuple[HotspotScan, int, set[str]]:
            events, presence = pair()
            kept = near_likely_infection(events, args.around, tz)
            return scan_population(kept, presence, params, **settings), kept.num_rows, set()

        return scan

    def relabelled() -> tuple[HotspotScan, int, set[str]]:
        # What `epitrace hotspots --among-people` runs (workflows/hotspots_among_people.py).
        rows = main_cells_by_hour(city, tz)
        days = case_days(exposure_windows(cases, tz), tz)
        people = days.drop_columns(["case_id"])
        found = scan_relabelled(
            rows, people, params, slot_hours=args.slot_hours, max_slots=args.max_slots, **settings
        )
        top = set(found.cluster_cases[0]) if found.clusters else set()
        return found, case_rows(rows, days, tz).num_rows, top

    scans = {
        PAIRS[0]: against_presence(lambda: place_pairs(connection, city, period)),
        PAIRS[1]: against_presence(lambda: carrier_pairs(connection, city, crs, period)),
        PAIRS[2]: relabelled,
    }
    runs = []
    for variant in args.pairs or PAIRS:
        scan, n_events, top_people = scans[variant]()
        top = scan.clusters[0] if scan.clusters else None
        infectees = event["infectees"] if event else set()
        holding = [i for i, c in enumerate(scan.clusters) if event and holds(c, event)]
        contains = bool(holding) and holding[0] == 0
        runs.append(
            Run(
                seed=seed,
                outbreak=outbreak,
                variant=variant,
                events=n_events,
                top_cases=top.cases if top else 0,
                top_expected=round(top.expected, 2) if top else 0.0,
                top_llr=round(top.llr, 2) if top else 0.0,
                top_p=float(top.p_value) if top else 1.0,
                top_radius_m=round(top.radius_m) if top else 0.0,
                top_days=f"{top.first_day}..{top.last_day}" if top else "",
                contains_event=contains,
                event_rank=holding[0] + 1 if holding else 0,
                event_p=float(scan.clusters[holding[0]].p_value) if holding else 1.0,
                top_infections=infections_at_one_place(top, infections) if top else 0,
                top_people=len(top_people),
                top_event_people=len(top_people & infectees),
            )
        )
    return runs


def holds(cluster, event: dict) -> bool:
    """Whether the cluster's circle (plus an area's half-diagonal) and days hold the event."""
    reach = cluster.radius_m + AREA_M / np.sqrt(2) + 1.0
    return bool(
        metres_between(cluster.lat, cluster.lon, event["lat"], event["lon"]) <= reach
        and cluster.first_day <= event["day"] <= cluster.last_day
    )


def true_infections(connection: duckdb.DuckDBPyConnection, city: Path) -> list[dict]:
    """Infections at places (truth): place, coordinates, local day."""
    return (
        connection.sql(f"""
        SELECT i.place_id, p.lat, p.lon, CAST(i.ts AS DATE) AS day
        FROM '{city}/truth/infections.parquet' i JOIN '{city}/truth/places.parquet' p
             USING (place_id)""")
        .to_arrow_table()
        .to_pylist()
    )


def infections_at_one_place(cluster, infections: list[dict], slack_days: int = 3) -> int:
    """The most true infections at one place inside the cluster's circle, infected
    within ``slack_days`` of its window: whether it is a real outbreak."""
    first = cluster.first_day - dt.timedelta(days=slack_days)
    last = cluster.last_day + dt.timedelta(days=slack_days)
    reach = cluster.radius_m + AREA_M / np.sqrt(2) + 1.0
    per_place: dict[str, int] = {}
    for row in infections:
        if first <= row["day"] <= last and (
            metres_between(cluster.lat, cluster.lon, row["lat"], row["lon"]) <= reach
        ):
            per_place[row["place_id"]] = per_place.get(row["place_id"], 0) + 1
    return max(per_place.values(), default=0)


def summary(runs: list[Run]) -> str:
    lines = [
        "| outbreak | events and presence | seeds | top cluster p < 0.05 | planted event found "
        "| planted event in any cluster at p < 0.05 | top cluster p < 0.05 a real outbreak "
        "| planted event found by its people |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for outbreak in dict.fromkeys(r.outbreak for r in runs):
        for variant in dict.fromkeys(r.variant for r in runs):
            group = [r for r in runs if r.outbreak == outbreak and r.variant == variant]
            if not group:
                continue
            n, significant = len(group), sum(r.significant for r in group)
            hits = sum(r.hit for r in group)
            found = f"{hits}/{n} ({100 * hits / n:.0f} %)" if outbreak != "null" else "-"
            anywhere = sum(r.event_rank > 0 and r.event_p < SIGNIFICANCE for r in group)
            real = sum(r.significant and r.top_infections >= REAL_OUTBREAK for r in group)
            by_people = sum(r.hit_by_people for r in group)
            extra = (
                f"{anywhere}/{n} | {real}/{n} | {by_people}/{n}"
                if outbreak != "null"
                else "- | - | -"
            )
            lines.append(
                f"| {outbreak} | {variant} | {n} | {significant}/{n} "
                f"({100 * significant / n:.0f} %) | {found} | {extra} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_city_arguments(parser, days=35, event_from_day=15, null_attack_rate=0.08)
    parser.add_argument("--replications", type=int, default=999)
    parser.add_argument("--max-days", type=int, default=1, help="longest time window, days")
    parser.add_argument(
        "--around", type=int, default=3, help="keep events this many days from the likely infection"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--slot-hours",
        type=int,
        default=24,
        help="people relabelled: time slots of this many hours (24: days); windows of up "
        "to --max-days days' worth of slots",
    )
    parser.add_argument(
        "--max-slots", type=int, default=None, help="people relabelled: longest window, slots"
    )
    parser.add_argument(
        "--pairs",
        type=lambda text: [PAIRS[int(i)] for i in text.split(",")],
        default=None,
        help="comma-separated indices into the pairs of events and presence "
        f"({', '.join(f'{i}: {name}' for i, name in enumerate(PAIRS))}); all by default",
    )
    args = parser.parse_args()

    runs = every_run(
        args,
        outbreaks_of(args),
        lambda city, seed, outbreak: scan_city(city, seed, outbreak, args),
    )
    print(
        f"\n{args.residents} residents x {args.days} days from {args.start}, event from day "
        f"{args.event_from_day}, null attack rate {args.null_attack_rate}, "
        f"{args.replications} replications, windows up to {args.max_days} day(s), events "
        f"within {args.around} days of the likely infection, seeds {args.first_seed}.."
        f"{args.first_seed + args.seeds - 1}\n"
    )
    print(summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
