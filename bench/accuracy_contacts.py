"""Contact search accuracy against a simulated city's ground truth.

    .venv/bin/python bench/accuracy_contacts.py [--city DIR] [--stores DIR]
        [--residents 5000] [--days 14] [--cases 20] [--record]

Simulates the city (seed 1) and builds its provider stores with
``build_stores`` when DIR holds none, then for the cases confirmed last runs
the contact search exactly as ``epitrace analyze`` does (the subject's records
from the stores, stays traced, the infectious window from the cases table)
and compares the people found with the true contacts: others at the same
public place (truth/places kind not home or work) with at least 15 minutes'
overlap inside the window (truth/visits). Precision and recall over the whole
list, recall among the top 50 and top 200 people, and each evidence source
alone and left out; then each tier's people (a person at the closest tier any
of their rows has), its precision and its share of the true contacts.
``--record`` writes the tables into docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq

from docs_block import write_block
from epitrace.analysis.contacts import (
    TIERS,
    ContactParams,
    ContactSearch,
    infectious_window,
    merge_contacts,
    true_contacts,
)
from epitrace.analysis.trajectory import trace_subject
from epitrace.providers.network import StoreNetwork
from epitrace.providers.store import build_stores
from epitrace.simulate import SimulationConfig, simulate_city
from epitrace.workflows.contact_search import search_contacts

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Contact search"
TZ = "Asia/Seoul"
SOURCES = ("card", "entry", "telecom")


@dataclass
class Tally:
    """People found and true, summed over cases (micro-averages)."""

    found: int = 0
    true: int = 0
    hits: int = 0
    hits_50: int = 0
    hits_200: int = 0

    def add(self, ranked: list[str], truth: set[str]) -> None:
        self.found += len(ranked)
        self.true += len(truth)
        self.hits += len(truth.intersection(ranked))
        self.hits_50 += len(truth.intersection(ranked[:50]))
        self.hits_200 += len(truth.intersection(ranked[:200]))

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 0.0

    def row(self, label: str) -> str:
        r50 = self.hits_50 / self.true if self.true else 0.0
        r200 = self.hits_200 / self.true if self.true else 0.0
        return (
            f"| {label} | {self.found:,} | {self.true:,} | {self.precision:.3f} | "
            f"{self.recall:.3f} | {r50:.3f} | {r200:.3f} |"
        )


@dataclass
class TierTally:
    """People whose closest tier is this one, and the true contacts among them."""

    listed: int = 0
    hits: int = 0


def closest_tiers(search: ContactSearch) -> dict[str, str]:
    """Each person's closest tier over all their rows."""
    table = search.contacts.table
    best: dict[str, str] = {}
    for ref, tier in zip(
        table.column("contact_ref").to_pylist(), table.column("tier").to_pylist(), strict=True
    ):
        if ref not in best or TIERS.index(tier) < TIERS.index(best[ref]):
            best[ref] = tier
    return best


def people_in_rank_order(contact_refs: list[str]) -> list[str]:
    """Each person once, at their best rank (the table is sorted by score)."""
    seen: dict[str, None] = {}
    for ref in contact_refs:
        seen.setdefault(ref, None)
    return list(seen)


def ranked_people(search: ContactSearch, sources: set[str] | None = None) -> list[str]:
    """The search's people; with ``sources``, re-ranked from those sources' sightings only."""
    if sources is None:
        table = search.contacts.table
    else:
        kept = [s for s in search.sightings if s.via in sources]
        table = merge_contacts(
            search.person_ref, search.searched_clipped(), kept, set(), search.params
        ).table
    return people_in_rank_order(table.column("contact_ref").to_pylist())


def ensure_city(city: Path, stores: Path, residents: int, days: int) -> None:
    if not (city / "manifest.json").exists():
        print(f"simulating {residents:,} residents x {days} days into {city} ...", flush=True)
        simulate_city(SimulationConfig(residents=residents, days=days, seed=1), city)
    if not (stores.is_dir() and any(stores.iterdir())):
        print(f"building the provider stores into {stores} ...", flush=True)
        build_stores(city, stores)


def run(
    city: Path, stores: Path, cases: int, params: ContactParams
) -> tuple[dict[str, Tally], dict[str, TierTally]]:
    network = StoreNetwork(stores)
    visits = pq.read_table(city / "truth" / "visits.parquet")
    places = pq.read_table(city / "truth" / "places.parquet")
    table = pq.read_table(city / "cases.parquet").to_pylist()
    chosen = sorted(table, key=lambda c: (c["confirmed_date"], c["case_id"]))[-cases:]
    tallies = {"all sources": Tally()}
    tallies.update({f"{s} alone": Tally() for s in SOURCES})
    tallies.update({f"without {s}": Tally() for s in SOURCES})
    tiers = {tier: TierTally() for tier in TIERS}
    seconds = []
    for case in chosen:
        window = infectious_window(case["confirmed_date"], case["onset_date"], TZ)
        records = network.subject(case["person_ref"], window[0] - dt.timedelta(days=1), window[1])
        trajectory = trace_subject(records)
        began = time.perf_counter()
        search = search_contacts(network, trajectory, records, window, TZ, params)
        seconds.append(time.perf_counter() - began)
        truth = true_contacts(case["person_ref"], visits, places, window)
        tallies["all sources"].add(ranked_people(search), truth)
        for person, tier in closest_tiers(search).items():
            tiers[tier].listed += 1
            tiers[tier].hits += person in truth
        for source in SOURCES:
            tallies[f"{source} alone"].add(ranked_people(search, {source}), truth)
            others = set(SOURCES) - {source}
            tallies[f"without {source}"].add(ranked_people(search, others), truth)
        print(
            f"{case['person_ref']}: {len(truth)} true, {search.describe()}, "
            f"recall {len(truth & set(ranked_people(search))) / max(1, len(truth)):.2f}",
            flush=True,
        )
    print(f"median search time {sorted(seconds)[len(seconds) // 2]:.2f} s")
    return tallies, tiers


def table_text(tallies: dict[str, Tally]) -> str:
    head = (
        "| evidence | people listed | true contacts | precision | recall | "
        "recall top 50 | recall top 200 |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    return "\n".join([head, *(t.row(label) for label, t in tallies.items())])


def tier_table_text(tiers: dict[str, TierTally], true_contacts: int) -> str:
    head = (
        "| tier | people listed | true contacts among them | precision | "
        "share of the true contacts |\n|---|---:|---:|---:|---:|"
    )
    rows = [
        f"| {tier} | {t.listed:,} | {t.hits:,} | {t.hits / max(t.listed, 1):.3f} | "
        f"{t.hits / max(true_contacts, 1):.3f} |"
        for tier, t in tiers.items()
    ]
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, default=Path("/tmp/epitrace-contacts-city"))
    parser.add_argument("--stores", type=Path, default=None)
    parser.add_argument("--residents", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--max-radius", type=float, default=ContactParams.max_radius_m)
    parser.add_argument("--min-overlap", type=float, default=ContactParams.min_overlap_min)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    stores = args.stores or args.city.with_name(args.city.name + "-stores")
    ensure_city(args.city, stores, args.residents, args.days)
    params = replace(
        ContactParams(), max_radius_m=args.max_radius, min_overlap_min=args.min_overlap
    )
    tallies, tiers = run(args.city, stores, args.cases, params)
    text = table_text(tallies)
    tier_text = tier_table_text(tiers, tallies["all sources"].true)
    print(text, tier_text, sep="\n\n")
    if args.record:
        record(text, tier_text, args)


def record(text: str, tier_text: str, args: argparse.Namespace) -> None:
    command = (
        f".venv/bin/python bench/accuracy_contacts.py --residents {args.residents} "
        f"--days {args.days} --cases {args.cases}"
    )
    write_block(
        ROOT / "docs" / "accuracy.md",
        "accuracy_contacts",
        f"<!-- {command} --record -->\n\n{text}\n",
        SECTION,
    )
    write_block(
        ROOT / "docs" / "accuracy.md",
        "accuracy_contact_tiers",
        f"<!-- {command} --record -->\n\n{tier_text}\n",
        SECTION,
    )


if __name__ == "__main__":
    main()
