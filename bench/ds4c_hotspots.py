"""Hotspots on the real 2020 Korean patient routes (DS4C), scored against the
known group-infection cases (docs/accuracy.md).

    .venv/bin/python bench/ds4c_hotspots.py [--data ../shared/data/ds4c]
        [--replications 999] [--top 20] [--exclude-types hospital,airport,...]
        [--dated-by visit|case]

Input: ``PatientRoute.csv`` (one row per place a confirmed patient visited,
with its date and no time of day). One case event per route row, at its
coordinates on its date; the space-time permutation scan with the default
parameters (1 km, 7 days, EPSG:5179, Asia/Seoul days) over the whole period.

``--dated-by case`` scans the patients instead (``case_column``): every
route row is dated by its patient's likely day of infection (symptom onset
− 5 days, the median incubation, or confirmation − 8 days without an
onset, as ``analysis.hotspots.case_events`` does), a patient counts once per cluster
however many of their rows it holds, and the replications permute the
patients' days. Patients without a confirmation date are left out.

Scoring (never an input): ``Case.csv`` lists the group-infection cases with
a place; ``PatientInfo.csv`` gives each patient's ``infection_case`` and
confirmation date. A scan cluster *recovers* a known case when

- **place**: the case's coordinates lie within the cluster's radius + 1 km
  (the Case.csv coordinates are of the venue or the neighbourhood, and a
  cluster's circle is drawn from route points, not the venue), and
- **dates**: the cluster's days overlap the case's period, from 14 days
  before its first confirmed patient to its last one (PatientInfo), and
- **people** (reported beside it): a cluster recovers the case "by its
  patients" when at least 3 of the patients with route rows in it are the
  case's in PatientInfo, wherever the rows are (patients' routes often show
  where they went after the exposure, not the venue itself).

The data are read in place and never copied; without them the script says
so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from epitrace.analysis.hotspots import Cluster, HotspotScan, scan_hotspots
from epitrace.analysis.hotspots.params import ScanParams

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ds4c"
PLACE_SLACK_M = 1000.0
# A cluster recovers a case "by its patients" when at least this many of its
# patients are the case's (PatientInfo.infection_case).
MIN_GROUP_PATIENTS = 3
NOT_A_PLACE = {"unknown", "etc", "contact with patient", "overseas inflow"}
EXPOSURE_DAYS = 14
MEDIAN_INCUBATION_DAYS = 5
ONSET_TO_CONFIRMATION_DAYS = 3  # typical, for patients without a recorded onset


@dataclass(frozen=True)
class KnownCase:
    name: str
    province: str
    city: str
    confirmed: int
    lat: float
    lon: float
    first: dt.date | None  # first and last confirmation among its patients (PatientInfo)
    last: dt.date | None


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def read_csv(path: Path) -> pa.Table:
    # Identifiers stay text (patient ids are 10-digit numbers; never floats).
    options = pacsv.ConvertOptions(
        column_types={"patient_id": pa.string(), "infected_by": pa.string()},
        strings_can_be_null=True,
        null_values=["", "-"],
    )
    return pacsv.read_csv(path, convert_options=options)


def route_events(routes: pa.Table, exclude_types: set[str]) -> tuple[pa.Table, int]:
    """One event per route row (lat, lon, day, patient); rows without coordinates dropped."""
    keep = pc.and_(pc.is_valid(routes.column("latitude")), pc.is_valid(routes.column("longitude")))
    if exclude_types:
        keep = pc.and_(keep, pc.invert(pc.is_in(routes.column("type"), pa.array(exclude_types))))
    kept = routes.filter(keep)
    dropped_no_coordinates = int(
        pc.sum(
            pc.invert(
                pc.and_(
                    pc.is_valid(routes.column("latitude")),
                    pc.is_valid(routes.column("longitude")),
                )
            )
        ).as_py()
        or 0
    )
    events = pa.table(
        {
            "lat": pc.cast(kept.column("latitude"), pa.float64()),
            "lon": pc.cast(kept.column("longitude"), pa.float64()),
            "day": pc.cast(kept.column("date"), pa.date32()),
            "patient_id": kept.column("patient_id"),
            "type": kept.column("type"),
        }
    )
    return events, dropped_no_coordinates


def dated_by_patient(events: pa.Table, info: pa.Table) -> tuple[pa.Table, int]:
    """Each route row dated by its patient's likely day of infection; rows of
    patients without a confirmation date dropped (and counted)."""
    likely: dict[object, dt.date] = {}
    for row in info.select(["patient_id", "symptom_onset_date", "confirmed_date"]).to_pylist():
        onset, confirmed = row["symptom_onset_date"], row["confirmed_date"]
        if isinstance(onset, dt.date) and (not confirmed or onset <= confirmed):
            likely[row["patient_id"]] = onset - dt.timedelta(days=MEDIAN_INCUBATION_DAYS)
        elif isinstance(confirmed, dt.date):
            lag = MEDIAN_INCUBATION_DAYS + ONSET_TO_CONFIRMATION_DAYS
            likely[row["patient_id"]] = confirmed - dt.timedelta(days=lag)
    patients = events.column("patient_id").to_pylist()
    keep = pa.array([p in likely for p in patients])
    kept = events.filter(keep)
    days = pa.array([likely[p] for p in kept.column("patient_id").to_pylist()], pa.date32())
    return kept.set_column(kept.schema.get_field_index("day"), "day", days), len(patients) - len(
        kept
    )


def known_cases(case_table: pa.Table, info: pa.Table) -> list[KnownCase]:
    """Group-infection cases with a place, and their confirmation dates."""
    dates: dict[str, list[dt.date]] = {}
    for name, day in zip(
        info.column("infection_case").to_pylist(),
        info.column("confirmed_date").to_pylist(),
        strict=True,
    ):
        if name and day:
            dates.setdefault(name, []).append(day)
    cases = []
    for row in case_table.to_pylist():
        if not row["group"] or row["latitude"] is None or row["longitude"] is None:
            continue
        days = dates.get(row["infection_case"], [])
        cases.append(
            KnownCase(
                name=row["infection_case"],
                province=row["province"],
                city=row["city"] or "",
                confirmed=int(row["confirmed"] or 0),
                lat=float(row["latitude"]),
                lon=float(row["longitude"]),
                first=min(days) if days else None,
                last=max(days) if days else None,
            )
        )
    return cases


def recovers(cluster: Cluster, case: KnownCase) -> bool:
    if metres_between(cluster.lat, cluster.lon, case.lat, case.lon) > (
        cluster.radius_m + PLACE_SLACK_M
    ):
        return False
    if case.first is None or case.last is None:
        return True  # no dated patient: place only
    period_start = case.first - dt.timedelta(days=EXPOSURE_DAYS)
    return cluster.first_day <= case.last and period_start <= cluster.last_day


def cluster_patients(scan: HotspotScan, cluster: Cluster, events: pa.Table) -> list[str]:
    """Patients with a route row at one of the cluster's locations on one of its days."""
    assert scan.cells is not None
    inside = {(float(scan.cells.lat[i]), float(scan.cells.lon[i])) for i in cluster.locations}
    lat = events.column("lat").to_numpy()
    lon = events.column("lon").to_numpy()
    days = events.column("day").to_pylist()
    patients = events.column("patient_id").to_pylist()
    return [
        patients[i]
        for i in range(events.num_rows)
        if (lat[i], lon[i]) in inside and cluster.first_day <= days[i] <= cluster.last_day
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DS4C_DIR", DEFAULT_DATA)))
    parser.add_argument("--replications", type=int, default=999)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--max-radius-m", type=float, default=1000.0)
    parser.add_argument("--max-days", type=int, default=7)
    parser.add_argument(
        "--exclude-types",
        default="",
        help="comma-separated route types to leave out, e.g. hospital,airport",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dated-by",
        choices=["visit", "case"],
        default="visit",
        help="visit: each route row is a case event on its date; case: rows dated by "
        "their patient's likely infection, patients counted once and permuted",
    )
    args = parser.parse_args()

    files = [args.data / n for n in ("PatientRoute.csv", "Case.csv", "PatientInfo.csv")]
    if not all(f.is_file() for f in files):
        print(f"DS4C data not found in {args.data}; nothing to do (see data/SOURCES.md)")
        return 0
    routes, case_table, info = (read_csv(f) for f in files)
    exclude = {t for t in args.exclude_types.split(",") if t}
    events, no_coordinates = route_events(routes, exclude)
    undated = 0
    if args.dated_by == "case":
        events, undated = dated_by_patient(events, info)
    began = time.perf_counter()
    scan = scan_hotspots(
        events.select(["lat", "lon", "day", "patient_id"]),
        ScanParams(
            replications=args.replications,
            seed=args.seed,
            max_radius_m=args.max_radius_m,
            max_days=args.max_days,
            max_clusters=args.top,
        ),
        case_column="patient_id" if args.dated_by == "case" else None,
    )
    seconds = time.perf_counter() - began
    group_of = dict(
        zip(
            info.column("patient_id").to_pylist(),
            info.column("infection_case").to_pylist(),
            strict=True,
        )
    )
    knowns = known_cases(case_table, info)
    print(
        f"{events.num_rows} route events of {len(set(events.column('patient_id').to_pylist()))} "
        f"patients ({routes.num_rows} rows, {no_coordinates} without coordinates"
        + (f", types left out: {', '.join(sorted(exclude))}" if exclude else "")
        + (f", {undated} of patients without a confirmation date" if undated else "")
        + f"); {len(scan.clusters)} clusters, {args.replications} replications in {seconds:.1f} s\n"
    )
    print(
        "| # | days | place (lat, lon), radius | events | expected | LLR | p | main route type "
        "| patients' infection_case (PatientInfo) | known case (Case.csv) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    found: dict[str, int] = {}
    by_people: dict[str, tuple[int, int]] = {}
    types = events.column("type").to_pylist()
    lat = events.column("lat").to_numpy()
    for number, cluster in enumerate(scan.clusters, start=1):
        patients = cluster_patients(scan, cluster, events)
        groups = Counter(group_of.get(p) or "unknown" for p in set(patients))
        matched = [k for k in knowns if recovers(cluster, k)]
        for k in matched:
            found.setdefault(k.name, number)
        for group, count in groups.items():
            if count >= MIN_GROUP_PATIENTS and group not in NOT_A_PLACE:
                by_people.setdefault(group, (number, count))
        inside_types = Counter(
            types[i]
            for i in np.flatnonzero(np.isin(lat, scan.cells.lat[cluster.locations]))  # type: ignore[union-attr]
        )
        main_type = inside_types.most_common(1)[0][0] if inside_types else ""
        print(
            f"| {number} | {cluster.first_day}..{cluster.last_day} | "
            f"{cluster.lat:.4f}, {cluster.lon:.4f}, {cluster.radius_m:.0f} m | {cluster.cases} | "
            f"{cluster.expected:.1f} | {cluster.llr:.1f} | {cluster.p_value:.3g} | {main_type} | "
            + ", ".join(f"{g} {n}" for g, n in groups.most_common(3))
            + " | "
            + "; ".join(f"{k.name} ({k.city})" for k in matched)
            + " |"
        )
    print("\nKnown group-infection cases with a place and at least 10 confirmed:\n")
    print(
        "| case | where | confirmed | first..last confirmed | by place and dates (cluster #) "
        "| by its patients (cluster #: patients) |"
    )
    print("|---|---|---|---|---|---|")
    for k in sorted(knowns, key=lambda k: -k.confirmed):
        if k.confirmed < 10:
            continue
        span = f"{k.first}..{k.last}" if k.first else "-"
        print(
            f"| {k.name} | {k.city}, {k.province} | {k.confirmed} | {span} | "
            f"{found.get(k.name, 'no')} | "
            + (f"{by_people[k.name][0]}: {by_people[k.name][1]}" if k.name in by_people else "no")
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
