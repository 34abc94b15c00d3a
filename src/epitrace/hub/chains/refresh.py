"""The link job: propose links among every case with a stored analysis.

When an analysis is stored or destroyed (``analysis_changed``), one ``LinkRefresh`` job
is queued (coalescing with one already waiting). The job runner (exchange/jobs.py) runs
``refresh_work``: it reads each case's latest analysis (its stays and contact list),
calls the library's ``propose_links`` — the same function as ``epitrace links`` — and
then, in the transaction that finishes the job, replaces the undecided proposals.
Decided links (confirmed, rejected, entered by hand) are never touched: a decided pair
is not proposed again, whichever its score now.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from django.db import IntegrityError, transaction
from django.utils import timezone

from epitrace.analysis.links import propose_links
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.hub import crypto
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import (
    decrypt_for_case,
    encrypt_for_case,
    identifiers_of,
    normalise_person_ref,
)
from epitrace.hub.chains.models import LinkOrigin, LinkRefresh, LinkStatus, ProposedLink
from epitrace.hub.exchange import results
from epitrace.hub.exchange.models import AnalysisResult, JobStatus

EVIDENCE_LABEL = "link-evidence"
# What a link's evidence holds (the contract's links columns beyond the pair and score).
EVIDENCE_FIELDS = (
    "place_name",
    "lat",
    "lon",
    "start",
    "end",
    "overlap_min",
    "via",
    "sido",
    "sigungu",
    "emd",
    "incubation_days",
    "meetings",
)


def queue_refresh() -> LinkRefresh:
    """The waiting refresh job, or a new one."""
    waiting = LinkRefresh.objects.filter(status=JobStatus.QUEUED).first()
    if waiting is not None:
        return waiting
    try:
        with transaction.atomic():
            return LinkRefresh.objects.create(run_after=timezone.now())
    except IntegrityError:  # queued by another request at the same moment
        return LinkRefresh.objects.get(status=JobStatus.QUEUED)


def analysis_changed(**kwargs: Any) -> None:
    """Signal receiver: an analysis was stored or destroyed; refresh once it commits."""
    transaction.on_commit(queue_refresh)


# --- evidence, sealed under the target case's key ----------------------------------


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def seal_evidence(target: Case, evidence: dict[str, Any]) -> bytes:
    text = json.dumps({k: _plain(v) for k, v in evidence.items()})
    return encrypt_for_case(target, EVIDENCE_LABEL, text.encode())


def open_evidence(link: ProposedLink) -> dict[str, Any]:
    """The link's evidence; {} once the target's key is gone."""
    try:
        blob = decrypt_for_case(link.target, EVIDENCE_LABEL, bytes(link.evidence_enc))
    except (crypto.KeyDestroyed, crypto.Undecryptable):
        return {}
    return json.loads(blob)


# --- the inputs of the proposal ----------------------------------------------------


@dataclass
class Inputs:
    stays: list[pa.Table]
    cases: list[dict[str, Any]]
    contacts: list[pa.Table]
    timezone: str = DEFAULT_TZ


def _with_ref(data: pa.Table, ref: str) -> pa.Table:
    column = pa.array([ref] * data.num_rows, pa.string())
    if "person_ref" in data.column_names:
        return data.set_column(data.column_names.index("person_ref"), "person_ref", column)
    return data.append_column("person_ref", column)


def _read_case(case: Case, inputs: Inputs) -> None:
    try:
        analysis = results.latest_analysis(case)
        ref = normalise_person_ref(identifiers_of(case).person_ref)
    except (crypto.KeyDestroyed, crypto.Undecryptable):
        return  # being destroyed: nothing of it is proposed
    if analysis is None or analysis.stays.num_rows == 0:
        return
    inputs.timezone = analysis.timezone or inputs.timezone
    inputs.stays.append(_with_ref(analysis.stays, ref))
    if analysis.contacts is not None and analysis.contacts.num_rows:
        inputs.contacts.append(_with_ref(analysis.contacts, ref))
    inputs.cases.append(
        {
            "case_id": case.case_id,
            "person_ref": ref,
            "confirmed_date": case.confirmation_date,
            "onset_date": case.onset_date,
        }
    )


def gather_inputs() -> Inputs:
    """Every numbered case with a stored analysis: its stays, contacts and dates."""
    inputs = Inputs([], [], [])
    analysed = AnalysisResult.objects.values("case_id")
    for case in Case.objects.filter(pk__in=analysed, case_id__isnull=False).order_by("pk"):
        _read_case(case, inputs)
    return inputs


def proposed_links(inputs: Inputs) -> pa.Table | None:
    """The library's proposal over ``inputs``; None with fewer than two cases."""
    if len(inputs.cases) < 2:
        return None
    stays = pa.concat_tables(inputs.stays, promote_options="permissive")
    contacts = (
        pa.concat_tables(inputs.contacts, promote_options="permissive") if inputs.contacts else None
    )
    cases = pa.Table.from_pylist(inputs.cases)
    proposal = propose_links(stays, cases, contacts, tz=inputs.timezone, crs=PROJECTED_CRS)
    return proposal.links


# --- storing -----------------------------------------------------------------------


def store_proposals(links: pa.Table | None) -> str:
    """Replace the undecided proposals by ``links``; decided pairs stay as they are."""
    rows = links.to_pylist() if links is not None else []
    numbers = {r["source_case"] for r in rows} | {r["target_case"] for r in rows}
    cases = Case.objects.in_bulk(list(numbers), field_name="case_id")
    decided = set(
        ProposedLink.objects.exclude(status=LinkStatus.PROPOSED).values_list(
            "source__case_id", "target__case_id"
        )
    )
    ProposedLink.objects.filter(status=LinkStatus.PROPOSED).delete()
    fresh = [
        ProposedLink(
            source=cases[row["source_case"]],
            target=cases[row["target_case"]],
            origin=LinkOrigin.PROPOSED,
            score=row["score"],
            evidence_enc=seal_evidence(
                cases[row["target_case"]], {k: row.get(k) for k in EVIDENCE_FIELDS}
            ),
        )
        for row in rows
        if (row["source_case"], row["target_case"]) not in decided
        and row["source_case"] in cases
        and row["target_case"] in cases
    ]
    ProposedLink.objects.bulk_create(fresh)
    return f"proposed {len(fresh)} links ({len(rows) - len(fresh)} already decided or gone)"


def refresh_work(job: LinkRefresh) -> Callable[[], str]:
    """For the job runner: compute outside any transaction, store when committing."""
    links = proposed_links(gather_inputs())
    return lambda: store_proposals(links)
