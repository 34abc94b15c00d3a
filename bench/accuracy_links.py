"""Accuracy of the proposed links against simulated cities' ground truth.

    .venv/bin/python bench/accuracy_links.py [--seeds 1 2 3] [--residents 10000]
        [--days 21] [--work DIR] [--record]

For each seed: simulates a city (reused when DIR/seed-S holds one), traces
every confirmed case exactly as ``epitrace links`` does (all sources, then
telecom alone), proposes links, and compares each confirmed case's proposed
sources with its true infector (``truth/infections``) where that infector is
a confirmed case too. Per target: top-1 is right when the best-scored
source is the infector; top-3 when it is among the three best. Precision
counts targets with at least one proposal; recall counts every evaluable
target. By where the true infection happened (``truth/places`` kind):
public places (not home, not work), work and school, home. ``--record``
writes the table into docs/accuracy.md.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from docs_block import write_block
from epitrace.analysis.links import LinkParams
from epitrace.simulate import SimulationConfig, simulate_city
from epitrace.workflows.hotspots import dataset_settings
from epitrace.workflows.links import link_cases, trace_cases, trace_spans

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Links between cases on simulated cities"
GROUPS = ("public places", "work and school", "home", "all")


@dataclass
class Tally:
    targets: int = 0  # evaluable targets
    proposed: int = 0  # ... with at least one proposed source
    top1: int = 0
    top3: int = 0

    def row(self) -> str:
        precision = self.top1 / self.proposed if self.proposed else float("nan")
        recall1 = self.top1 / self.targets if self.targets else float("nan")
        recall3 = self.top3 / self.targets if self.targets else float("nan")
        return f"{self.targets} | {self.proposed} | {precision:.2f} | {recall1:.2f} | {recall3:.2f}"


def city(work: Path, seed: int, residents: int, days: int) -> Path:
    folder = work / f"seed-{seed}"
    if not (folder / "manifest.json").exists():
        config = SimulationConfig(residents=residents, days=days, seed=seed)
        simulate_city(config, folder, fmt="parquet")
    return folder


def truth_of(folder: Path) -> dict[str, tuple[str, str]]:
    """target case_id -> (source case_id, group) where both are confirmed cases."""
    cases = pq.read_table(folder / "cases.parquet")
    case_of = dict(
        zip(
            cases.column("person_ref").to_pylist(), cases.column("case_id").to_pylist(), strict=True
        )
    )
    places = pq.read_table(folder / "truth" / "places.parquet")
    kind_of = dict(
        zip(places.column("place_id").to_pylist(), places.column("kind").to_pylist(), strict=True)
    )
    truth = {}
    for row in pq.read_table(folder / "truth" / "infections.parquet").to_pylist():
        target, source = case_of.get(row["infectee"]), case_of.get(row["infector"])
        if target is None or source is None:
            continue
        kind = kind_of.get(row["place_id"], "")
        group = (
            "home" if kind == "home" else "work and school" if kind in ("work", "school") else
            "public places"
        )  # fmt: skip
        truth[target] = (source, group)
    return truth


def ranked_sources(links: pa.Table) -> dict[str, list[str]]:
    ranked: dict[str, list[str]] = defaultdict(list)
    for row in links.select(["source_case", "target_case"]).to_pylist():  # sorted by score
        ranked[row["target_case"]].append(row["source_case"])
    return ranked


def evaluate(folder: Path, sources: tuple[str, ...] | None, tallies: dict[str, Tally]) -> float:
    tz, crs = dataset_settings(folder)
    cases = pq.read_table(folder / "cases.parquet")
    params = LinkParams()
    spans = trace_spans(cases, tz, params, None, None)
    traced = trace_cases(folder, spans, sources=sources)
    proposal, _, seconds = link_cases(cases, traced, tz, crs, params)
    ranked = ranked_sources(proposal.links)
    for target, (source, group) in truth_of(folder).items():
        for name in (group, "all"):
            tally = tallies[name]
            tally.targets += 1
            found = ranked.get(target, [])
            tally.proposed += bool(found)
            tally.top1 += bool(found) and found[0] == source
            tally.top3 += source in found[:3]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--work", type=Path, default=Path("/tmp/epitrace-links-accuracy"))
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    results = {}
    for label, sources in (("all sources", None), ("telecom alone", ("telecom",))):
        tallies = {g: Tally() for g in GROUPS}
        for seed in args.seeds:
            folder = city(args.work, seed, args.residents, args.days)
            evaluate(folder, sources, tallies)
        results[label] = tallies
    lines = [
        "| records | infection at | targets | with a proposal | top-1 precision | "
        "top-1 recall | top-3 recall |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, tallies in results.items():
        for group in GROUPS:
            lines.append(f"| {label} | {group} | {tallies[group].row()} |")
    text = "\n".join(lines)
    print(text)
    if args.record:
        seeds = " ".join(str(s) for s in args.seeds)
        command = (
            f"`PYTHONPATH=src .venv/bin/python bench/accuracy_links.py --seeds {seeds} "
            f"--residents {args.residents} --days {args.days} --record`"
        )
        write_block(
            ROOT / "docs" / "accuracy.md",
            "links-simulated",
            f"Cities of {args.residents:,} residents × {args.days} days, seeds {seeds}; "
            f"{command}.\n\n{text}",
            SECTION,
        )


if __name__ == "__main__":
    main()
