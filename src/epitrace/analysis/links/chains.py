"""Chains and clusters: links above a threshold join cases into chains.

A chain is a connected component of the cases joined by links whose score
is at least ``LinkParams.chain_min_score`` (links read without direction for
membership). Its earliest case (by onset, else confirmation; then by id) is
generation 0; every other case's generation is the number of links on the
shortest path to it along the links' direction, or, when no directed path
reaches it (two cases infected by one source outside the cases), without
direction. Chains are numbered by size, largest first (then by their
earliest date). Only cases with a link are in a chain.

A chain's summary names the places its links meet at (most links first) and
the dates they span: the cluster an investigator reads.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from epitrace.analysis.links.params import LinkParams
from epitrace.formats.schemas import table as contract_table

SUMMARY_SCHEMA = pa.schema(
    [
        ("chain_id", pa.int64()),
        ("cases", pa.int64()),
        ("first_case", pa.string()),
        ("first_date", pa.date32()),
        ("last_date", pa.date32()),
        ("places", pa.string()),  # "; "-joined, most links first
        ("links", pa.int64()),
    ]
)


@dataclass
class Chains:
    """The ``chains`` table and one summary row per chain."""

    table: pa.Table  # contract chains: chain_id, case_id, generation
    summary: pa.Table  # SUMMARY_SCHEMA
    links: pa.Table  # the links that joined them (score >= threshold), with chain_id


def _case_days(cases: pa.Table) -> dict[str, dt.date]:
    """case_id -> onset date, or confirmation date without (or after) onset."""
    days = {}
    for row in cases.select(["case_id", "confirmed_date", "onset_date"]).to_pylist():
        onset, confirmed = row["onset_date"], row["confirmed_date"]
        day = onset if onset is not None and onset <= confirmed else confirmed
        days.setdefault(row["case_id"], day)
    return days


def chains_of(links: pa.Table, cases: pa.Table, params: LinkParams | None = None) -> Chains:
    """Chains of the cases joined by ``links`` scored at least ``chain_min_score``.

    ``links``: rows with source_case, target_case, score (and place_name, start
    for the summary); ``cases``: the contract's ``cases``, for each case's date.
    Returns ``Chains``; a link naming a case missing from ``cases`` is dated by
    its other case's date.
    """
    params = params or LinkParams()
    strong = links.filter(pc.greater_equal(links.column("score"), params.chain_min_score))
    days = _case_days(cases)
    sources = strong.column("source_case").to_pylist()
    targets = strong.column("target_case").to_pylist()
    ids = sorted(set(sources) | set(targets))
    if not ids:
        return _empty(strong)
    number = {case: i for i, case in enumerate(ids)}
    s = np.array([number[c] for c in sources], dtype=np.int64)
    t = np.array([number[c] for c in targets], dtype=np.int64)
    graph = coo_matrix((np.ones(s.size), (s, t)), shape=(len(ids), len(ids))).tocsr()
    count, component = connected_components(graph, directed=True, connection="weak")
    fallback = min(days.values()) if days else dt.date.min
    day_of = [days.get(c, fallback) for c in ids]
    members = [np.flatnonzero(component == k) for k in range(count)]
    earliest = [min(m, key=lambda i: (day_of[i], ids[i])) for m in members]
    order = sorted(range(count), key=lambda k: (-members[k].size, day_of[earliest[k]], k))
    rows, chain_of_case = [], {}
    for chain_id, k in enumerate(order, start=1):
        root = earliest[k]
        directed_hops = shortest_path(graph, directed=True, unweighted=True, indices=root)
        any_hops = shortest_path(graph, directed=False, unweighted=True, indices=root)
        for i in sorted(members[k], key=lambda i: (day_of[i], ids[i])):
            hops = directed_hops[i] if np.isfinite(directed_hops[i]) else any_hops[i]
            rows.append({"chain_id": chain_id, "case_id": ids[i], "generation": int(hops)})
            chain_of_case[ids[i]] = chain_id
    chain_ids = pa.array([chain_of_case[c] for c in sources], pa.int64())
    joined = strong.append_column("chain_id", chain_ids)
    table = pa.Table.from_pylist(rows, schema=contract_table("chains").arrow_schema)
    return Chains(table, _summaries(table, joined, days), joined)


def _empty(strong: pa.Table) -> Chains:
    return Chains(
        contract_table("chains").arrow_schema.empty_table(),
        SUMMARY_SCHEMA.empty_table(),
        strong.append_column("chain_id", pa.array([], pa.int64())),
    )


def _summaries(table: pa.Table, links: pa.Table, days: dict[str, dt.date]) -> pa.Table:
    """Per chain: size, earliest case, span of dates, shared places (most links first)."""
    rows = []
    by_chain: dict[int, list[dict]] = {}
    for row in links.select(["chain_id", "place_name"]).to_pylist():
        by_chain.setdefault(row["chain_id"], []).append(row)
    members: dict[int, list[str]] = {}
    for row in table.to_pylist():
        members.setdefault(row["chain_id"], []).append(row["case_id"])
    for chain_id, cases in members.items():
        dated = [days[c] for c in cases if c in days]
        places = Counter(r["place_name"] or "" for r in by_chain.get(chain_id, []))
        named = [f"{name} ({n})" for name, n in places.most_common() if name]
        rows.append(
            {
                "chain_id": chain_id,
                "cases": len(cases),
                "first_case": cases[0],
                "first_date": min(dated) if dated else None,
                "last_date": max(dated) if dated else None,
                "places": "; ".join(named),
                "links": len(by_chain.get(chain_id, [])),
            }
        )
    return pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA)
