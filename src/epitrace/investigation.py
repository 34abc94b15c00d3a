"""One subject's investigation from files: records in, stays, path and report out.

This is the work behind ``epitrace analyze`` (and later the hub's analysis
job): read the subject's records from a dataset folder, trace the stays and
the path, compare them with the interview, and write the outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.contacts import ContactParams, infectious_window, searched_stays
from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import Trajectory, TrajectoryParams, trace_subject
from epitrace.analysis.trajectory.interview import compare_with_interview
from epitrace.formats.problems import Problem
from epitrace.formats.readers import read_dataset_table, read_table
from epitrace.formats.writers import write_table
from epitrace.providers.dataset import DatasetStore, UnknownSubject
from epitrace.providers.network import StoreNetwork, is_store_network
from epitrace.providers.queries import DEFAULT_TIMEZONE, QueryRefused
from epitrace.providers.store import build_stores

if TYPE_CHECKING:
    from epitrace.exposure import ContactSearch


class AnalysisError(Exception):
    """The investigation cannot run on this input; the message says why."""


@dataclass
class InvestigationResult:
    person_ref: str
    out: Path
    trajectory: Trajectory
    comparison: pa.Table | None
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    contacts: ContactSearch | None = None

    def messages(self) -> list[str]:
        lines = [f"warning: {note}" for note in self.trajectory.notes]
        if self.contacts is not None:
            lines += [f"note: {note}" for note in self.contacts.notes]
            lines += [f"warning: query refused: {r}" for r in self.contacts.refused]
        if self.problems:
            lines.append(
                f"warning: {len(self.problems)} of this subject's records break the data "
                "contract and were not used; run `epitrace validate` for each one"
            )
        return lines

    def describe(self) -> str:
        stays = self.trajectory.stays.num_rows
        written = ", ".join(p.name for p in self.files)
        found = f"; {self.contacts.describe()}" if self.contacts is not None else ""
        return (
            f"{self.person_ref}: {stays} stays, {len(self.trajectory.moves)} moves{found} in "
            f"{self.seconds:.2f} s; wrote {written} to {self.out}/"
        )


def manifest_timezone(*folders: Path) -> str | None:
    """The zone a dataset was written in, from the first of ``folders`` whose manifest says."""
    for folder in folders:
        try:
            return str(json.loads((folder / "manifest.json").read_text())["config"]["timezone"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def dataset_timezone(folder: Path) -> str:
    """The zone for readable output: the dataset's, else UTC."""
    return manifest_timezone(folder) or "UTC"


def analysis_timezone(folder: Path) -> str:
    """The zone for local-time rules (nights, days): the dataset's, else Korea's."""
    return manifest_timezone(folder) or DEFAULT_TIMEZONE


def _interview_visits(
    folder: Path, person_ref: str, interview_file: Path | None, problems: list[Problem]
) -> pa.Table | None:
    loaded = (
        read_table(interview_file, "interview_visits")
        if interview_file is not None
        else read_dataset_table(folder, "interview_visits")
    )
    if loaded is None:
        return None
    problems.extend(loaded.problems)
    visits = loaded.table
    return visits.filter(pc.equal(visits.column("person_ref"), person_ref)).sort_by("start")


def _clip_interview(
    visits: pa.Table | None, start: dt.datetime | None, end: dt.datetime | None
) -> pa.Table | None:
    if visits is None or (start is None and end is None):
        return visits
    keep = pa.scalar(True)
    if start is not None:
        keep = pc.and_(
            keep, pc.greater(visits.column("end"), pa.scalar(start, visits.column("end").type))
        )
    if end is not None:
        keep = pc.and_(
            keep, pc.less(visits.column("start"), pa.scalar(end, visits.column("start").type))
        )
    return visits.filter(keep)


def investigate(
    folder: Path,
    person_ref: str,
    out: Path,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    interview_file: Path | None = None,
    params: TrajectoryParams | None = None,
    contacts: bool = True,
    cases_file: Path | None = None,
    contact_params: ContactParams | None = None,
    tz: str | None = None,
) -> InvestigationResult:
    """``tz``: the zone output times are written in [default: the dataset's — or, for
    stores, that of the dataset the cases file comes from — else UTC]."""
    began = time.perf_counter()
    try:
        if is_store_network(folder):  # the agencies' own stores, asked one by one
            store: DatasetStore | StoreNetwork = StoreNetwork(folder)
            records = store.subject(person_ref, start, end)
        else:  # a dataset folder of contract files
            store = DatasetStore(folder)
            records = store.subject(person_ref).window(start, end)
    except (UnknownSubject, QueryRefused) as exc:
        raise AnalysisError(str(exc)) from None
    params = params or TrajectoryParams()
    trajectory = trace_subject(records, params)
    problems = list(store.problems)
    visits = _clip_interview(
        _interview_visits(folder, person_ref, interview_file, problems), start, end
    )
    comparison = (
        compare_with_interview(trajectory.stays, visits, params) if visits is not None else None
    )
    result = InvestigationResult(person_ref, out, trajectory, comparison, problems)
    if contacts:
        window, note = contact_window(
            folder, person_ref, trajectory, start, end, cases_file, contact_params, problems
        )
        result.contacts = find_contacts(folder, store, records, trajectory, window, contact_params)
        result.contacts.notes.insert(0, note)
    sources = [folder, *([cases_file.parent] if cases_file is not None else [])]
    write_outputs(result, tz or manifest_timezone(*sources) or "UTC")
    result.seconds = time.perf_counter() - began
    return result


def _case_dates(
    folder: Path, person_ref: str, cases_file: Path | None, problems: list[Problem]
) -> tuple[dt.date, dt.date | None] | None:
    """(confirmed_date, onset_date) of the subject from the ``cases`` table, if a case."""
    loaded = (
        read_table(cases_file, "cases")
        if cases_file is not None
        else read_dataset_table(folder, "cases")
    )
    if loaded is None:
        return None
    problems.extend(loaded.problems)
    for row in loaded.table.filter(
        pc.equal(loaded.table.column("person_ref"), person_ref)
    ).to_pylist():
        return row["confirmed_date"], row["onset_date"]
    return None


def contact_window(
    folder: Path,
    person_ref: str,
    trajectory: Trajectory,
    start: dt.datetime | None,
    end: dt.datetime | None,
    cases_file: Path | None,
    params: ContactParams | None,
    problems: list[Problem],
) -> tuple[tuple[dt.datetime, dt.datetime], str]:
    """The infectious window and a note saying where it came from.

    ``--from``/``--to`` win; else the case's dates (onset - 2 days, or the
    confirmation date - 2 days without onset, to the confirmation date); else
    every stay traced.
    """
    stays = trajectory.stays
    first = stays.column("start").to_pylist()[0] if stays.num_rows else None
    last = max(stays.column("end").to_pylist()) if stays.num_rows else None
    far_past = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if start is not None or end is not None:
        window = (start or first or far_past, end or last or dt.datetime.now(dt.UTC))
        return window, "contacts searched in the window given (--from/--to)"
    dates = _case_dates(folder, person_ref, cases_file, problems)
    if dates is not None:
        days_before = (params or ContactParams()).days_before
        window = infectious_window(dates[0], dates[1], analysis_timezone(folder), days_before)
        basis = "onset" if dates[1] is not None else "confirmation (no onset)"
        return window, (
            f"infectious window from {days_before:g} days before {basis} to confirmation"
        )
    if first is None or last is None:
        return (far_past, far_past + dt.timedelta(seconds=1)), "no stays: no contacts searched"
    return (first, last), (
        f"{person_ref} is not in a cases table: contacts searched over every stay traced "
        "(give --from/--to or --cases for the infectious window)"
    )


def find_contacts(
    folder: Path,
    store: DatasetStore | StoreNetwork,
    records: SubjectRecords,
    trajectory: Trajectory,
    window: tuple[dt.datetime, dt.datetime],
    params: ContactParams | None = None,
) -> ContactSearch:
    """Ask the agencies' stores; a plain dataset folder is first split into
    temporary stores (the same queries, at the cost of one store build)."""
    from epitrace.exposure import search_contacts, stays_to_search

    tz = analysis_timezone(folder)
    if isinstance(store, StoreNetwork):
        return search_contacts(store, trajectory, records, window, tz, params)
    verdicts = searched_stays(stays_to_search(trajectory, records), window, tz, params)
    if not any(v.searched for v in verdicts):  # nothing to ask: no stores to build
        return search_contacts(None, trajectory, records, window, tz, params)
    with tempfile.TemporaryDirectory(prefix="epitrace-stores-") as tmp:
        build_stores(folder, Path(tmp))
        found = search_contacts(StoreNetwork(tmp), trajectory, records, window, tz, params)
    found.notes.append("a dataset folder: contacts asked of temporary stores built from it")
    return found


def write_outputs(result: InvestigationResult, tz: str) -> None:
    from epitrace.report import render_report

    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    stays_path = write_table(result.trajectory.stays, out, "stays", "csv", tz=tz)
    geojson_path = out / "path.geojson"
    geojson_path.write_text(json.dumps(result.trajectory.geojson(), ensure_ascii=False, indent=1))
    report_path = out / "report.html"
    report_path.write_text(
        render_report(result.trajectory, result.comparison, tz=tz, contacts=result.contacts),
        encoding="utf-8",
    )
    result.files = [stays_path, geojson_path, report_path]
    if result.contacts is not None:
        contacts = result.contacts.contacts.table
        result.files.append(write_table(contacts, out, "contacts", "csv", tz=tz))
