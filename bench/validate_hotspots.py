"""Validation of ``epitrace hotspots`` on simulated outbreaks (docs/accuracy.md).

    .venv/bin/python bench/validate_hotspots.py [--seeds 20] [--residents 2500]
        [--days 14] [--start 2020-02-15] [--replications 999] [--json FILE]
        [--event-from-day 1] [--null-attack-rate 0.04] [--models 0,1] [--cities DIR]
        [--outbreak planted] [--only planted] [--event-infectiousness 60]

For each seed, two cities are simulated with the same settings: one with the
default clustered outbreak and its planted superspreading event (a church
service on the first Sunday after the first day), one null outbreak (cases
uniform over residents and days, no place clustering; ``--null-attack-rate``
0.04 so that it confirms about as many cases as the clustered city). On each, the pipeline
of ``epitrace hotspots`` runs as a user would run it: every confirmed case's
stays traced from the provider records over its exposure window, one event
per case and place, the space-time permutation scan with the default
parameters. The truth is read only to score:

- **hit**: the most likely cluster has p < 0.05, its circle contains the
  planted place (distance from the centre at most the radius) and its time
  window contains the event's day;
- **false positive** (null cities): the most likely cluster has p < 0.05.

``--start`` defaults to a Saturday so the planted Sunday event falls on day 2
and its cases (median incubation 5 days, confirmation about 3 days after
onset) can be confirmed within the period; started on a Monday, a 14-day city
confirms few of them before it ends and there is little to find. Cities are
written to a temporary folder and removed after each seed, or kept in
``--cities`` and reused by later runs with the same settings.

Each events table is scanned four ways (``MODELS``):

- visit-dated, plain permutation: what ``epitrace hotspots`` does by
  default (each event on the day of its stay, days permuted among events);
- visit-dated, weekday-adjusted (``--adjust-weekday``: expected counts by
  weekday, dates permuted within weekdays; ``analysis/hotspots/scan.py``);
- case-dated (``scan_events(dated_by="case")``, ``case_column``): every
  event dated by its case's likely day of infection, a case counted once
  per cylinder however many of its places the circle holds, days permuted
  among cases;
- the ablation of the last: the same case-dated events, but counted and
  permuted one by one as if each were its own case.

``--outbreak planted`` scans planted cities instead of clustered ones (the
null background plus the planted event alone: the event is the city's one
cluster), ``--event-infectiousness`` sizes the event, ``--only`` keeps one
kind of city.

``--truth-visits`` adds a variant that skips the tracing: case events are
the cases' true visits (``truth/visits``) in the same windows, labelled as
such; it separates the scan's power from the tracing's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.hotspots import HotspotScan, scan_hotspots
from epitrace.analysis.hotspots.case_events import events_table, exposure_windows, scan_events
from epitrace.analysis.hotspots.params import ScanParams
from epitrace.formats.readers import read_dataset_table
from epitrace.simulate import SimulationConfig, simulate_city
from epitrace.workflows.hotspots import dataset_settings, trace_case_events

SIGNIFICANCE = 0.05


@dataclass
class Run:
    seed: int
    outbreak: str  # clustered | planted | null
    variant: str  # traced | truth-visits
    cases: int
    cases_used: int
    events: int
    event_cases_confirmed: int  # planted event's infectees among the cases (0 for null)
    clusters: int
    top_cases: int
    top_expected: float
    top_llr: float
    top_p: float
    top_radius_m: float
    top_days: str
    contains_place: bool
    contains_day: bool
    seconds: float

    @property
    def significant(self) -> bool:
        return self.clusters > 0 and self.top_p < SIGNIFICANCE

    @property
    def hit(self) -> bool:
        return self.significant and self.contains_place and self.contains_day


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance; the scan's EPSG:5179 distances agree to well under 1 m here."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def planted_event(city: Path) -> dict | None:
    outbreak = json.loads((city / "manifest.json").read_text()).get("outbreak", {})
    event = outbreak.get("planted_event")
    if not event:
        return None
    places = read_dataset_table(city, "places")
    assert places is not None
    place = places.table.filter(pc.equal(places.table.column("place_id"), event["place_id"]))
    row = place.to_pylist()[0]
    infections = read_dataset_table(city, "infections")
    assert infections is not None
    infected = infections.table.filter(
        pc.equal(infections.table.column("place_id"), event["place_id"])
    )
    return {
        "lat": row["lat"],
        "lon": row["lon"],
        "day": dt.date.fromisoformat(event["start"][:10]),
        "infectees": set(infected.column("infectee").to_pylist()),
    }


def truth_visit_events(city: Path, windows: list, tz: str) -> pa.Table:
    """Variant: the cases' true visits (not home) in their windows, one per case and place."""
    visits = read_dataset_table(city, "visits")
    places = read_dataset_table(city, "places")
    assert visits is not None and places is not None
    kind = dict(
        zip(
            places.table.column("place_id").to_pylist(),
            places.table.column("kind").to_pylist(),
            strict=True,
        )
    )
    where = {
        r["place_id"]: (r["lat"], r["lon"], r["name"])
        for r in places.table.select(["place_id", "lat", "lon", "name"]).to_pylist()
    }
    by_person = {w.person_ref: w for w in windows}
    people = pa.array(sorted(by_person))
    mine = visits.table.filter(pc.is_in(visits.table.column("person_ref"), people)).to_pylist()
    best: dict[tuple[str, str], tuple[float, dict]] = {}
    for v in mine:
        w = by_person[v["person_ref"]]
        if kind[v["place_id"]] in ("home", "transit") or not (w.start <= v["start"] < w.end):
            continue
        distance = abs((v["start"] - w.likely_infection).total_seconds())
        key = (w.case_id, v["place_id"])
        if key not in best or distance < best[key][0]:
            lat, lon, name = where[v["place_id"]]
            best[key] = (
                distance,
                {
                    "case_id": w.case_id,
                    "person_ref": w.person_ref,
                    "ts": v["start"],
                    "seq": 0,
                    "start": v["start"],
                    "end": v["end"],
                    "lat": lat,
                    "lon": lon,
                    "place_name": name,
                    "sources": "truth",
                    "likely_infection": w.likely_infection,
                },
            )
    return events_table([row for _, row in best.values()])


def score(
    seed: int,
    outbreak: str,
    variant: str,
    cases: pa.Table,
    events: pa.Table,
    scan: HotspotScan,
    event: dict | None,
    seconds: float,
) -> Run:
    top = scan.clusters[0] if scan.clusters else None
    contains_place = contains_day = False
    if top is not None and event is not None:
        distance = metres_between(top.lat, top.lon, event["lat"], event["lon"])
        contains_place = distance <= top.radius_m + 1.0
        contains_day = top.first_day <= event["day"] <= top.last_day
    people = set(cases.column("person_ref").to_pylist())
    return Run(
        seed=seed,
        outbreak=outbreak,
        variant=variant,
        cases=cases.num_rows,
        cases_used=len(set(events.column("case_id").to_pylist())),
        events=events.num_rows,
        event_cases_confirmed=len(people & event["infectees"]) if event else 0,
        clusters=len(scan.clusters),
        top_cases=top.cases if top else 0,
        top_expected=round(top.expected, 2) if top else 0.0,
        top_llr=round(top.llr, 2) if top else 0.0,
        top_p=top.p_value if top else 1.0,
        top_radius_m=round(top.radius_m) if top else 0.0,
        top_days=f"{top.first_day}..{top.last_day}" if top else "",
        contains_place=contains_place,
        contains_day=contains_day,
        seconds=round(seconds, 1),
    )


def validate_city(
    city: Path,
    seed: int,
    outbreak: str,
    replications: int,
    truth_visits: bool,
    models: dict[str, Callable[..., HotspotScan]],
) -> list[Run]:
    tz, crs = dataset_settings(city)
    loaded = read_dataset_table(city, "cases")
    assert loaded is not None
    cases = loaded.raise_for_problems()
    event = planted_event(city) if outbreak != "null" else None
    windows = exposure_windows(cases, tz)
    runs = []
    began = time.perf_counter()
    events, _ = trace_case_events(city, windows, tz, crs)
    traced_s = time.perf_counter() - began
    variants = [("traced", events)]
    if truth_visits:
        variants.append(("truth-visits", truth_visit_events(city, windows, tz)))
    for name, variant_events in variants:
        for model, scan_model in models.items():
            started = time.perf_counter()
            scan = scan_model(variant_events, replications, seed, tz, crs)
            seconds = time.perf_counter() - started + (traced_s if name == "traced" else 0.0)
            variant = f"{name}, {model}"
            runs.append(score(seed, outbreak, variant, cases, variant_events, scan, event, seconds))
    return runs


def _case_dated_events_permuted(
    events: pa.Table, replications: int, seed: int, tz: str, crs: str
) -> HotspotScan:
    """Ablation: case-dated events, but dates permuted among events as if each
    event were its own case (what ``case_column`` avoids)."""
    points = events.select(["lat", "lon", "likely_infection"]).rename_columns(["lat", "lon", "ts"])
    return scan_hotspots(points, ScanParams(replications=replications, seed=seed), tz=tz, crs=crs)


def _scan_with(
    dated_by: str, adjust_weekday: bool = False, week_shifts: bool = False
) -> Callable[..., HotspotScan]:
    def scan(events: pa.Table, replications: int, seed: int, tz: str, crs: str) -> HotspotScan:
        return scan_events(
            events,
            ScanParams(replications=replications, seed=seed, adjust_weekday=adjust_weekday),
            tz=tz,
            crs=crs,
            dated_by=dated_by,
            week_shifts=week_shifts,
        )

    return scan


# Variant name -> scan (the command's default is marked so).
MODELS: dict[str, Callable[..., HotspotScan]] = {
    "visit-dated, whole cases moved by whole weeks": _scan_with("visit", week_shifts=True),
    "visit-dated, plain permutation (the command's default)": _scan_with("visit"),
    "visit-dated, weekday-adjusted (--adjust-weekday)": _scan_with("visit", adjust_weekday=True),
    "case-dated, cases counted once and permuted (dated_by='case')": _scan_with("case"),
    "case-dated, events permuted one by one (ablation)": _case_dated_events_permuted,
}


OUTBREAKS = ["clustered", "planted", "null"]


def add_city_arguments(
    parser: argparse.ArgumentParser, *, days: int, event_from_day: int, null_attack_rate: float
) -> None:
    """The cities' settings, shared by the hotspot validations (``simulated_cities``)."""
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument(
        "--outbreak",
        choices=OUTBREAKS[:2],
        default="clustered",
        help="the cities with the planted event, beside the null ones: 'clustered' (an "
        "epidemic with transmission everywhere) or 'planted' (the null background plus "
        "the planted event alone, so it is the one cluster by construction)",
    )
    parser.add_argument("--residents", type=int, default=2500)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2020, 2, 15))
    parser.add_argument(
        "--null-attack-rate",
        type=float,
        default=null_attack_rate,
        help="share of residents infected in null cities; 0.04 gives about as many "
        "confirmed cases as two-week clustered cities (the simulator's 0.01 gives 4-9)",
    )
    parser.add_argument(
        "--event-from-day",
        type=int,
        default=event_from_day,
        help="the planted event is on the first Sunday from this day of the period on",
    )
    parser.add_argument("--only", choices=OUTBREAKS, default=None, help="only these cities")
    parser.add_argument(
        "--event-infectiousness",
        type=float,
        default=SimulationConfig.superspreader_infectiousness,
        help="the planted superspreader's infectiousness (the simulator's default "
        "%(default)s infects about a sixth of the 9 o'clock service); higher plants "
        "larger events",
    )
    parser.add_argument(
        "--cities",
        type=Path,
        default=None,
        help="keep the simulated cities here ({outbreak}-{seed}/) and reuse those whose "
        "manifest has the same settings; by default they go to a temporary folder",
    )


def outbreaks_of(args: argparse.Namespace) -> list[str]:
    """The outbreaks whose cities ``args`` asks for: ``--only`` one, else
    ``--outbreak`` and the null one."""
    return [args.only] if args.only else [args.outbreak, "null"]


def simulated_cities(
    args: argparse.Namespace, outbreaks: list[str]
) -> Iterator[tuple[int, str, Path]]:
    """(seed, outbreak, city folder) for each seed and outbreak of ``args``,
    simulated unless ``args.cities`` already holds it with these settings;
    without ``args.cities`` each city is deleted once used."""
    workdir = args.cities or Path(tempfile.mkdtemp(prefix="validate-hotspots-"))
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for outbreak in outbreaks:
                config = SimulationConfig(
                    residents=args.residents,
                    days=args.days,
                    seed=seed,
                    start=args.start,
                    outbreak=outbreak,  # type: ignore[arg-type]
                    null_attack_rate=args.null_attack_rate,
                    superspreading_from_day=args.event_from_day,
                    superspreader_infectiousness=args.event_infectiousness,
                )
                city = workdir / f"{outbreak}-{seed}"
                if not simulated_with(city, config):
                    shutil.rmtree(city, ignore_errors=True)
                    simulate_city(config, city, fmt="parquet")
                yield seed, outbreak, city
                if args.cities is None:
                    shutil.rmtree(city)
    finally:
        if args.cities is None:
            shutil.rmtree(workdir, ignore_errors=True)


def every_run(
    args: argparse.Namespace, outbreaks: list[str], runs_of: Callable[[Path, int, str], list]
) -> list:
    """``runs_of(city, seed, outbreak)`` over every city, each run printed as a
    JSON line as it comes and all of them written to ``args.json`` after each city."""
    runs: list = []
    for seed, outbreak, city in simulated_cities(args, outbreaks):
        for run in runs_of(city, seed, outbreak):
            runs.append(run)
            print(json.dumps(asdict(run)), flush=True)
        if args.json is not None:
            args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))
    return runs


def simulated_with(city: Path, config: SimulationConfig) -> bool:
    """Whether ``city`` holds a finished simulation with exactly ``config``'s settings."""
    try:
        manifest = json.loads((city / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    wanted = json.loads(json.dumps(asdict(config), default=str))
    return manifest.get("config") == wanted


def summary(runs: list[Run]) -> str:
    lines = [
        "| outbreak | variant | seeds | cases (median) | events (median) | "
        "top cluster p < 0.05 | planted event found |",
        "|---|---|---|---|---|---|---|",
    ]
    variants = list(dict.fromkeys(r.variant for r in runs))
    variants.sort(key=lambda v: v.startswith("truth"))
    for outbreak in dict.fromkeys(r.outbreak for r in runs):
        for variant in variants:
            group = [r for r in runs if r.outbreak == outbreak and r.variant == variant]
            if not group:
                continue
            n = len(group)
            significant = sum(r.significant for r in group)
            hits = sum(r.hit for r in group)
            found = f"{hits}/{n} ({100 * hits / n:.0f} %)" if outbreak != "null" else "-"
            cases = sorted(r.cases for r in group)[n // 2]
            events = sorted(r.events for r in group)[n // 2]
            lines.append(
                f"| {outbreak} | {variant} | {n} | {cases} | {events} | "
                f"{significant}/{n} ({100 * significant / n:.0f} %) | {found} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_city_arguments(parser, days=14, event_from_day=1, null_attack_rate=0.04)
    parser.add_argument("--replications", type=int, default=999)
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated indices into MODELS (0 = the command's default); all by default",
    )
    parser.add_argument("--truth-visits", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    args = parser.parse_args()

    names = list(MODELS)
    chosen = [names[int(i)] for i in args.models.split(",")] if args.models else names
    models = {name: MODELS[name] for name in chosen}
    runs = every_run(
        args,
        outbreaks_of(args),
        lambda city, seed, outbreak: validate_city(
            city, seed, outbreak, args.replications, args.truth_visits, models
        ),
    )
    print(
        f"\n{args.residents} residents x {args.days} days from {args.start}, "
        f"{args.replications} replications, seeds {args.first_seed}.."
        f"{args.first_seed + args.seeds - 1}, null attack rate {args.null_attack_rate}\n"
    )
    print(summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
