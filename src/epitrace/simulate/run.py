"""Run a whole simulation: build the city, live the days, write every table."""

from __future__ import annotations

import datetime as dt
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from epitrace import __version__
from epitrace.formats.writers import FileFormat, open_table_writer, table_path, write_table
from epitrace.progress import progress_bar
from epitrace.simulate.cards import card_holders_table, card_transactions_day, merchants_table
from epitrace.simulate.city import PLACE_KINDS, City
from epitrace.simulate.clock import HOUR, Clock
from epitrace.simulate.columns import floats, labels, labels_or_null, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.dataset import GENERATOR, prepare_output_folder, write_manifest
from epitrace.simulate.entry_logs import entry_logs_day, venue_ids
from epitrace.simulate.gps import gps_day
from epitrace.simulate.interviews import interviews_table
from epitrace.simulate.outbreak import Outbreak, PlantedEvent
from epitrace.simulate.population import build_population
from epitrace.simulate.routines import DayPlanner, Travel, Visits
from epitrace.simulate.telecom import build_cells, subscribers_table, telecom_day
from epitrace.simulate.timeline import Timeline
from epitrace.simulate.transit import stop_ids, transit_taps_day

# Tables written day by day, in the order they are opened.
DAILY_TABLES = (
    "telecom_records",
    "card_transactions",
    "transit_taps",
    "gps_points",
    "entry_logs",
    "visits",
    "infections",
)


@dataclass
class SimulationSummary:
    """What a simulation wrote, and where."""

    out: Path
    fmt: str
    config: SimulationConfig
    rows: dict[str, int]  # by table name
    infections: int
    cases: int
    planted: dict[str, Any] | None
    seconds: float
    suggested_case: str | None = None  # a case worth a first look (see cases_confirmed_last)
    manifest: Path = field(default=Path())

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def files(self) -> dict[str, Path]:
        """Each table's file, by table name."""
        return {name: table_path(self.out, name, self.fmt) for name in self.rows}

    def describe(self) -> str:
        cfg = self.config
        lines = [
            f"Simulated {cfg.city_name}: {cfg.residents:,} residents x {cfg.days} days from "
            f"{cfg.start.isoformat()} (seed {cfg.seed}), {cfg.outbreak} outbreak",
            f"Wrote {self.total_rows:,} rows as {self.fmt} to {self.out} in {self.seconds:.1f} s:",
        ]
        width = max(len(str(self.files[name].relative_to(self.out))) for name in self.rows)
        for name, count in self.rows.items():
            lines.append(
                f"  {self.files[name].relative_to(self.out)!s:<{width}}  {count:>12,} rows"
            )
        lines.append(f"Outbreak: {self.infections:,} infections, {self.cases:,} confirmed cases")
        if self.planted:
            p = self.planted
            lines.append(
                f"Planted superspreading event: {p['kind']} {p['place_id']} ({p['place_name']}), "
                f"{p['start']} to {p['end']}, {p['infections']} infected there by the index case"
            )
        lines.append(f"Manifest: {self.manifest}")
        lines.append(f"Next: epitrace validate {self.out}")
        if self.suggested_case:
            lines.append(
                f"      epitrace analyze {self.out} --person {self.suggested_case} "
                f"--out {self.out / ('case-' + self.suggested_case)}"
            )
        return "\n".join(lines)


class _CountingSink:
    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.rows = 0

    def write(self, data: pa.Table) -> None:
        self.rows += data.num_rows
        self.sink.write(data)


def _visits_table(visits: Visits, person_refs: pa.Array, place_ids: pa.Array) -> pa.Table:
    return pa.table(
        {
            "person_ref": labels(person_refs, visits.person),
            "place_id": labels(place_ids, visits.place),
            "start": timestamps(visits.start),
            "end": timestamps(visits.end),
        }
    )


def _places_table(city: City, place_ids: pa.Array) -> pa.Table:
    return pa.table(
        {
            "place_id": place_ids,
            "kind": labels(PLACE_KINDS, city.kind.astype(np.int64)),
            "name": pa.array(city.names),
            "lat": floats(city.lat),
            "lon": floats(city.lon),
            "merchant_id": labels_or_null(city.merchant_ids, city.merchant),
        }
    )


def _iso(seconds: float, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(seconds, ZoneInfo(tz)).isoformat()


def _planted_summary(
    planted: PlantedEvent | None,
    infections: list[tuple[np.ndarray, ...]],
    city: City,
    config: SimulationConfig,
    person_refs: pa.Array,
    place_ids: pa.Array,
) -> dict[str, Any] | None:
    if planted is None or np.isnan(planted.start):
        return None
    infected = sum(
        int(np.sum((place == planted.place) & (infector == planted.index_case)))
        for _, infector, place in infections
    )
    return {
        "kind": planted.kind,
        "place_id": place_ids[planted.place].as_py(),
        "place_name": city.names[planted.place],
        "index_case": person_refs[planted.index_case].as_py(),
        "start": _iso(planted.start, config.timezone),
        "end": _iso(planted.end, config.timezone),
        "infections": infected,
    }


def cases_confirmed_last(cases: pa.Table, count: int) -> list[str]:
    """person_refs of the cases confirmed last: they moved about longest before isolation,
    so their investigation shows the most."""
    latest = cases.sort_by([("confirmed_date", "descending"), ("case_id", "ascending")])
    return [str(ref) for ref in latest.column("person_ref").to_pylist()[:count]]


def simulate_city(
    config: SimulationConfig, out: Path, fmt: FileFormat = "parquet"
) -> SimulationSummary:
    """Simulate ``config`` and write the dataset to folder ``out``.

    Raises OutputFolderError (a ValueError) if ``out`` is a non-empty folder
    that does not hold an earlier epitrace dataset.
    """
    began = time.perf_counter()
    out = Path(out)
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
    prepare_output_folder(out)
    tz = config.timezone
    clock = Clock.of(config)
    city, pop = build_population(config)
    cells = build_cells(config, city.frame)
    travel = Travel(config, city, pop)
    planner = DayPlanner(config, city, pop, travel)
    outbreak = Outbreak(config, city, pop, clock)

    person_refs = pa.array(pop.person_refs)
    place_ids = pa.array(city.place_ids)
    phones = pa.array(pop.phone_strings)
    cards = pa.array(pop.card_strings)
    stops = pa.array(stop_ids(city))
    venues = pa.array(venue_ids(city))
    carriers = [name for name, _ in config.carrier_shares]

    rows: dict[str, int] = {}
    static = {
        "cells": cells.table(carriers),
        "subscribers": subscribers_table(config, pop, person_refs),
        "merchants": merchants_table(city),
        "card_holders": card_holders_table(pop, cards, person_refs),
        "places": _places_table(city, place_ids),
    }
    for name, data in static.items():
        write_table(data, out, name, fmt, tz)
        rows[name] = data.num_rows

    history: list[Visits] = []
    infections_log: list[tuple[np.ndarray, ...]] = []
    # Everyone starts the first day at home since the evening before.
    home_since = np.full(pop.size, clock.start - 6 * HOUR)
    previous = Visits(*(np.empty(0, np.int64),) * 2, np.empty(0), np.empty(0))
    with ExitStack() as stack:
        sinks = {
            name: _CountingSink(stack.enter_context(open_table_writer(out, name, fmt, tz)))
            for name in DAILY_TABLES
        }
        seeds = outbreak.initial
        sinks["infections"].write(seeds.table(person_refs, place_ids))
        infections_log.append((seeds.infectee, seeds.infector, seeds.place))
        bar = stack.enter_context(progress_bar(config.days, desc="simulating days", unit="day"))
        for day in range(config.days):
            midnight = clock.midnight(day)
            visits, home_after = planner.plan(
                day,
                clock.weekday(day),
                midnight,
                home_since,
                outbreak.isolated(day),
                outbreak.forced_attendance(day),
            )
            new = outbreak.spread(day, midnight, visits, home_after)
            infections_log.append((new.infectee, new.infector, new.place))
            timeline = Timeline(
                city, Visits.concat([previous, visits]), home_after, pop.home, midnight
            )
            legs = travel.legs(visits, home_after, pop.home)
            sinks["visits"].write(_visits_table(visits, person_refs, place_ids))
            sinks["telecom_records"].write(
                telecom_day(config, day, midnight, pop, cells, timeline, phones)
            )
            sinks["card_transactions"].write(
                card_transactions_day(config, day, midnight, city, pop, visits, cards)
            )
            sinks["transit_taps"].write(transit_taps_day(city, pop, legs, cards, stops))
            sinks["gps_points"].write(
                gps_day(config, day, midnight, pop, legs, timeline, city.frame, person_refs)
            )
            sinks["entry_logs"].write(
                entry_logs_day(config, day, city, pop, visits, phones, venues)
            )
            sinks["infections"].write(new.table(person_refs, place_ids))
            history.append(
                Visits(
                    visits.person.astype(np.int32),
                    visits.place.astype(np.int32),
                    visits.start,
                    visits.end,
                )
            )
            previous, home_since = visits, home_after
            bar.update(1)
        # The stays at home still open when the simulation ends.
        last = Visits(np.arange(pop.size), pop.home, home_since, np.full(pop.size, clock.end))
        last = last.take(np.flatnonzero(last.start < clock.end))
        sinks["visits"].write(_visits_table(last, person_refs, place_ids))
        history.append(last)
    for name in DAILY_TABLES:
        rows[name] = sinks[name].rows

    history_all = Visits.concat(history).sorted()
    finals = {
        "cases": outbreak.cases_table(person_refs),
        "interview_visits": interviews_table(config, city, outbreak, history_all, person_refs),
    }
    for name, data in finals.items():
        write_table(data, out, name, fmt, tz)
        rows[name] = data.num_rows

    rows = {name: rows[name] for name in sorted(rows)}
    planted = _planted_summary(
        outbreak.planted, infections_log, city, config, person_refs, place_ids
    )
    summary = SimulationSummary(
        out=out,
        fmt=fmt,
        config=config,
        rows=rows,
        infections=outbreak.infected_count,
        cases=finals["cases"].num_rows,
        planted=planted,
        seconds=time.perf_counter() - began,
        suggested_case=next(iter(cases_confirmed_last(finals["cases"], 1)), None),
    )
    summary.manifest = write_manifest(
        out,
        {
            "generator": GENERATOR,
            "epitrace_version": __version__,
            "format": fmt,
            "seed": config.seed,
            "config": config.as_dict(),
            "tables": {
                name: {"file": str(path.relative_to(out)), "rows": rows[name]}
                for name, path in summary.files.items()
            },
            "outbreak": {
                "infections": summary.infections,
                "cases": summary.cases,
                "planted_event": planted,
            },
            "period": {
                "start": _iso(clock.start, tz),
                "end": _iso(clock.end, tz),
                "days": config.days,
            },
        },
    )
    return summary
