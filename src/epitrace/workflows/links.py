"""Links between cases from files: the work behind ``epitrace links``.

Each case of the ``cases`` table is traced out of DIR (a dataset folder or the
agencies' built stores, read as ``epitrace analyze`` reads them:
``providers.network.subject_source``) over the span its links need: from the
longest incubation before its onset (or confirmation) to its isolation.
Their stays, with the kind of each named place, go to
``analysis.links.propose_links`` and ``chains_of``; ``links.csv``,
``chains.csv`` and the offline page ``chains.html`` are written.

Cases no agency knows, or without a stay in their span, are skipped and
counted; when no case has a stay there is nothing to link, and that is an
error.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from epitrace.analysis.links import Chains, LinkParams, LinkProposal, chains_of, propose_links
from epitrace.analysis.links.meetings import MICROS_PER_DAY
from epitrace.analysis.links.propose import LinkInputError, case_dates
from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import TrajectoryParams, trace_subject
from epitrace.errors import UserInputError
from epitrace.formats.readers import read_given_table
from epitrace.formats.writers import write_table
from epitrace.providers.dataset import UnknownSubject
from epitrace.providers.network import DatasetSource, StoreNetwork, Subject, subject_source
from epitrace.providers.queries import QueryRefused
from epitrace.workflows.contact_search import stays_to_search
from epitrace.workflows.hotspots import dataset_settings, skipped_case_warnings


class LinksError(UserInputError):
    """The link proposal cannot run on this input; the message says why."""


NO_RECORD = "no provider record of the person"
NO_STAY = "no stay in the span that links need"


@dataclass
class TracedCases:
    """Every case's stays (with a place ``kind`` column) and the cases skipped."""

    stays: pa.Table
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> case ids
    seconds: float = 0.0


@dataclass
class LinksResult:
    out: Path
    proposal: LinkProposal
    chains: Chains
    traced: TracedCases
    seconds_linking: float = 0.0
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)

    def messages(self) -> list[str]:
        return skipped_case_warnings(self.traced.skipped)

    def describe(self) -> str:
        links = self.proposal.links.num_rows
        chained = self.chains.table.num_rows
        written = ", ".join(p.name for p in self.files)
        return (
            f"{self.proposal.cases} cases: {links} proposed link(s), "
            f"{self.chains.summary.num_rows} chain(s) of {chained} cases "
            f"(tracing {self.traced.seconds:.1f} s, linking {self.seconds_linking:.2f} s); "
            f"wrote {written} to {self.out}/"
        )


def read_cases(path: Path) -> pa.Table:
    """The ``cases`` table given with ``--cases``, whole, or ``LinksError``."""
    cases = read_given_table(path, "cases", LinksError).table
    if cases.num_rows == 0:
        raise LinksError(f"{path} has no cases")
    return cases


def trace_spans(
    cases: pa.Table,
    tz: str,
    params: LinkParams,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    """(case_id, person_ref, from, to) of each case: the span its links need, cut
    to ``start``/``end`` when given."""
    dates = case_dates(cases, tz, params)
    spans = []
    for k in range(dates.ids.size):
        first = _instant(int(dates.relevant_start[k]))
        last = _instant(int(dates.infectious_end[k]))
        first = max(first, start) if start is not None else first
        last = min(last, end) if end is not None else last
        spans.append((str(dates.ids[k]), str(dates.person_refs[k]), first, last))
    return spans


def _instant(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1e6, dt.UTC)


# Persons read from a dataset folder per batch: one scan of each file per batch.
BATCH_PERSONS = 2000


def trace_cases(
    folder: Path,
    spans: Sequence[tuple[str, str, dt.datetime, dt.datetime]],
    *,
    sources: Sequence[str] | None = None,
    trajectory_params: TrajectoryParams | None = None,
    on_case: Callable[[], None] | None = None,
) -> TracedCases:
    """Each case's stays traced from ``folder`` over its span; ``sources`` keeps only
    those record sources (``SubjectRecords.only``: telecom, card, ...), for ablations.

    A dataset folder is read in batches of persons (``DatasetStore.subjects``);
    the agencies' stores are asked person by person, as the exchange asks them."""
    began = time.perf_counter()
    source = subject_source(folder)
    parts: list[pa.Table] = []
    skipped: dict[str, list[str]] = {}
    try:
        for (case_id, _, first, last), records in _records_of(source, spans):
            stays = (
                None
                if records is None
                else _case_stays(records, first, last, sources, trajectory_params)
            )
            if stays is None:
                skipped.setdefault(NO_RECORD, []).append(case_id)
            elif stays.num_rows == 0:
                skipped.setdefault(NO_STAY, []).append(case_id)
            else:
                parts.append(stays)
            if on_case is not None:
                on_case()
    finally:
        if isinstance(source, DatasetSource):
            source.close()
    stays = pa.concat_tables(parts) if parts else _no_stays()
    return TracedCases(stays, skipped, time.perf_counter() - began)


Span = tuple[str, str, dt.datetime, dt.datetime]


def _records_of(
    source: StoreNetwork | DatasetSource, spans: Sequence[Span]
) -> Iterator[tuple[Span, SubjectRecords | None]]:
    """Each span with its person's records in it (None when no agency knows them)."""
    if isinstance(source, DatasetSource):
        for begin in range(0, len(spans), BATCH_PERSONS):
            batch = spans[begin : begin + BATCH_PERSONS]
            found = {r.person_ref: r for r in source.store.subjects([s[1] for s in batch])}
            for span in batch:
                records = found.get(span[1])
                yield span, None if records is None else records.window(span[2], span[3])
        return
    for span in spans:
        try:
            yield span, source.records(Subject(span[1], (), span[2], span[3]))
        except UnknownSubject:
            yield span, None


def _no_stays() -> pa.Table:
    from epitrace.formats.schemas import empty_table

    empty = empty_table("stays")
    return empty.append_column("kind", pa.array([], pa.string()))


def _case_stays(
    records: SubjectRecords,
    first: dt.datetime,
    last: dt.datetime,
    sources: Sequence[str] | None,
    params: TrajectoryParams | None,
) -> pa.Table:
    """One case's stays in [first, last) with the kind of each named place."""
    if last <= first:
        return _no_stays()
    if sources is not None:
        records = records.only(*sources)
    trajectory = trace_subject(records, params)
    kinds = [stay.kind for stay in stays_to_search(trajectory, records)]
    return trajectory.stays.append_column("kind", pa.array(kinds, pa.string()))


def link_cases(
    cases: pa.Table,
    traced: TracedCases,
    tz: str,
    crs: str,
    params: LinkParams,
    contacts: pa.Table | None = None,
) -> tuple[LinkProposal, Chains, float]:
    """The proposal and chains over traced stays, and the seconds the linking took."""
    began = time.perf_counter()
    try:
        proposal = propose_links(traced.stays, cases, contacts, tz=tz, crs=crs, params=params)
    except LinkInputError as exc:
        raise LinksError(str(exc)) from None
    chains = chains_of(proposal.links, cases, params)
    return proposal, chains, time.perf_counter() - began


def find_links(
    folder: Path,
    cases_file: Path,
    out: Path,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    contacts_file: Path | None = None,
    params: LinkParams | None = None,
    on_start: Callable[[int], None] | None = None,
    on_case: Callable[[], None] | None = None,
) -> LinksResult:
    """``epitrace links``: trace every case of ``cases_file`` out of ``folder``, propose
    links and chains, write ``links.csv``, ``chains.csv`` and ``chains.html`` to ``out``.

    ``start``/``end`` cut every case's span; ``contacts_file``, a ``contacts`` table of
    the cases (e.g. their ``contacts.csv`` files joined), adds direct links.
    Raises ``LinksError`` when the cases file breaks its contract, or no case has a
    stay to link, or a store refuses a question.
    """
    began = time.perf_counter()
    params = params or LinkParams()
    tz, crs = dataset_settings(folder)
    cases = read_cases(cases_file)
    contacts = (
        read_given_table(contacts_file, "contacts", LinksError).table
        if contacts_file is not None
        else None
    )
    spans = trace_spans(cases, tz, params, start, end)
    if on_start is not None:
        on_start(len(spans))
    try:
        traced = trace_cases(folder, spans, on_case=on_case)
    except QueryRefused as exc:
        raise LinksError(str(exc)) from None
    if traced.stays.num_rows == 0:
        raise LinksError(
            f"none of the {cases.num_rows} cases in {cases_file} has a stay in {folder} "
            "in the span its links need (from 14 days before onset to confirmation)"
        )
    proposal, chains, linking = link_cases(cases, traced, tz, crs, params, contacts)
    result = LinksResult(out, proposal, chains, traced, seconds_linking=linking)
    write_links(result, cases, tz)
    result.seconds = time.perf_counter() - began
    return result


def write_links(result: LinksResult, cases: pa.Table, tz: str) -> None:
    """``links.csv``, ``chains.csv`` and ``chains.html`` into ``result.out``."""
    from epitrace.report.chains import render_chains

    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    page = out / "chains.html"
    page.write_text(
        render_chains(result.proposal.links, result.chains, cases, tz=tz), encoding="utf-8"
    )
    result.files = [
        write_table(result.proposal.links, out, "links", "csv", tz=tz),
        write_table(result.chains.table, out, "chains", "csv", tz=tz),
        page,
    ]


def span_days(spans: Sequence[tuple[str, str, dt.datetime, dt.datetime]]) -> float:
    """Mean days traced per case (for the benchmark's record)."""
    if not spans:
        return 0.0
    return float(np.mean([(b - a).total_seconds() * 1e6 / MICROS_PER_DAY for *_, a, b in spans]))
