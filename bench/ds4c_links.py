"""Links on real data: the DS4C patients' routes (Korea, January-June 2020).

    .venv/bin/python bench/ds4c_links.py [--data ../shared/data/ds4c] [--record]

``PatientInfo.csv`` names the infector (``infected_by``) of 899 patients;
``PatientRoute.csv`` has the places patients visited, by day without time.
Each route row becomes a stay from 09:00 to 21:00 local on its day at its
coordinates (radius 30 m, the place named by its type and coordinates, so
one place is one name), and ``analysis.links.propose_links`` runs on the
routes alone. Reported: the share of known pairs with routes on both sides
that the links recover (source -> target as recorded; top-1 and anywhere),
how many proposed links the data do not confirm, and the serial interval
and offspring distribution estimated from the known pairs themselves (the
dashboard's estimators), to compare with published Korean estimates.
``--record`` writes the figures into docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from docs_block import write_block
from epitrace.analysis.links import (
    LinkParams,
    offspring,
    offspring_counts,
    propose_links,
    serial_interval,
)

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Links between cases on real data (DS4C)"
KST = dt.timezone(dt.timedelta(hours=9))


def read(path: Path) -> pa.Table:
    types = {"patient_id": pa.string(), "infected_by": pa.string()}
    options = pacsv.ConvertOptions(strings_can_be_null=True, column_types=types)
    return pacsv.read_csv(path, convert_options=options)


def patients(data: Path) -> pa.Table:
    info = read(data / "PatientInfo.csv")
    return info.filter(pc.is_valid(info.column("confirmed_date")))


def cases_of(info: pa.Table) -> pa.Table:
    def dates(name: str) -> pa.Array:
        text = pc.utf8_trim_whitespace(pc.cast(info.column(name), pa.string()))
        return pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.date32())

    return pa.table(
        {
            "case_id": info.column("patient_id"),
            "person_ref": info.column("patient_id"),
            "confirmed_date": dates("confirmed_date"),
            "onset_date": dates("symptom_onset_date"),
        }
    )


def stays_of(data: Path) -> pa.Table:
    routes = read(data / "PatientRoute.csv").to_pylist()
    rows = []
    for r in routes:
        day = r["date"] if isinstance(r["date"], dt.date) else dt.date.fromisoformat(r["date"])
        rows.append(
            {
                "person_ref": r["patient_id"],
                "start": dt.datetime.combine(day, dt.time(9), KST),
                "end": dt.datetime.combine(day, dt.time(21), KST),
                "lat": r["latitude"],
                "lon": r["longitude"],
                "radius_m": 30.0,
                "place_name": f"{r['type']}, {r['city']}",
                "sources": "gps",
                "kind": r["type"],
            }
        )
    return pa.Table.from_pylist(rows)


def known_pairs(info: pa.Table) -> list[tuple[str, str]]:
    ids = set(info.column("patient_id").to_pylist())
    return [
        (row["infected_by"], row["patient_id"])
        for row in info.select(["patient_id", "infected_by"]).to_pylist()
        if row["infected_by"] in ids and row["infected_by"] != row["patient_id"]
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ds4c")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    info = patients(args.data)
    cases = cases_of(info)
    stays = stays_of(args.data)
    pairs = known_pairs(info)
    routed = set(stays.column("person_ref").to_pylist())
    both = [(s, t) for s, t in pairs if s in routed and t in routed]
    links = propose_links(stays, cases, tz="Asia/Seoul", params=LinkParams()).links
    ranked: dict[str, list[str]] = defaultdict(list)
    for row in links.select(["source_case", "target_case"]).to_pylist():
        ranked[row["target_case"]].append(row["source_case"])
    anywhere = sum(s in ranked.get(t, []) for s, t in both)
    top1 = sum(ranked.get(t, [None])[0] == s for s, t in both)
    either = sum(s in ranked.get(t, []) or t in ranked.get(s, []) for s, t in both)
    known = set(pairs) | {(t, s) for s, t in pairs}
    proposed = list(zip(links.column("source_case").to_pylist(),
                        links.column("target_case").to_pylist(), strict=True))  # fmt: skip
    unconfirmed = sum(p not in known for p in proposed)
    ids, days = cases.column("case_id").to_pylist(), cases.column("onset_date").to_pylist()
    onsets = dict(zip(ids, days, strict=True))
    si = serial_interval(pairs, onsets)
    fit = offspring(offspring_counts(pairs, cases.column("case_id").to_pylist()))
    lines = [
        "| figure | value |",
        "|---|---:|",
        f"| patients (confirmed) / with routes | {info.num_rows:,} / {len(routed):,} |",
        f"| known pairs (infected_by a patient) / with routes on both sides | "
        f"{len(pairs):,} / {len(both):,} |",
        f"| recovered as source → target (anywhere / top-1) | {anywhere} "
        f"({anywhere / len(both):.0%}) / {top1} ({top1 / len(both):.0%}) |",
        f"| recovered in either direction | {either} ({either / len(both):.0%}) |",
        f"| proposed links | {len(proposed):,} |",
        f"| ... not a known pair | {unconfirmed:,} ({unconfirmed / max(len(proposed), 1):.0%}) |",
    ]
    if si is not None:
        lines.append(
            f"| serial interval, known pairs with both onsets ({si.pairs}): mean (95 % CI), "
            f"median, SD | {si.mean:.2f} ({si.mean_ci[0]:.2f}–{si.mean_ci[1]:.2f}), "
            f"{si.median:.0f}, {si.sd:.2f} days |"
        )
    if fit is not None:
        lines.append(
            f"| offspring of {fit.cases:,} patients: mean R (95 % CI) | {fit.mean_r:.2f} "
            f"({fit.r_ci[0]:.2f}–{fit.r_ci[1]:.2f}) |"
        )
        lines.append(
            f"| ... dispersion k (95 % CI) | {fit.k:.2f} ({fit.k_ci[0]:.2f}–{fit.k_ci[1]:.2f}) |"
        )
    text = "\n".join(lines)
    print(text)
    if args.record:
        write_block(
            ROOT / "docs" / "accuracy.md",
            "links-ds4c",
            "`PYTHONPATH=src .venv/bin/python bench/ds4c_links.py --record`\n\n" + text,
            SECTION,
        )


if __name__ == "__main__":
    main()
