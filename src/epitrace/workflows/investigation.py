"""One subject's investigation: the subject's records in; stays, path, the
interview's comparison and the contacts out.

``investigate`` is the one pipeline: it asks any ``SubjectSource`` (the
agencies' own stores, a dataset folder, or the hub's exchange) for the
subject's records, traces the stays and the path, compares them with the
interview clipped to the window, and searches who was with the subject at
each public stay of the infectious window. ``epitrace analyze`` (``analyze``
here) writes its files from the result; the hub's exchange stores it
(``hub.exchange.analysis``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.contacts import ContactParams, ContactSearch, infectious_window
from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import Trajectory, TrajectoryParams, trace_subject
from epitrace.analysis.trajectory.interview import clip_interview, compare_with_interview
from epitrace.defaults import DEFAULT_TZ
from epitrace.errors import UserInputError
from epitrace.formats.manifest import read_manifest
from epitrace.formats.problems import Problem
from epitrace.formats.readers import LoadedTable, read_dataset_table, read_given_table
from epitrace.formats.writers import write_table
from epitrace.providers.dataset import UnknownSubject
from epitrace.providers.network import DatasetSource, Subject, SubjectSource, subject_source
from epitrace.providers.queries import QueryRefused
from epitrace.workflows.contact_search import search_contacts

Window = tuple[dt.datetime, dt.datetime]
# The infectious window for the contact search, from the traced path, with a
# note saying where it came from.
ContactWindow = Callable[[Trajectory], tuple[Window, str]]

GATHERING = "gathering the case's records"
SEARCHING_CONTACTS = "searching contacts around the stays"


@dataclass
class SubjectInvestigation:
    """What ``investigate`` found, or the stage at which it waits for answers."""

    person_ref: str
    records: SubjectRecords | None = None
    trajectory: Trajectory | None = None
    comparison: pa.Table | None = None  # None: no interview
    contacts: ContactSearch | None = None  # None: no contact search
    waiting_at: str | None = None  # a stage whose questions are not all answered yet


def investigate(
    source: SubjectSource,
    subject: Subject,
    *,
    tz: str,
    interview: pa.Table | None = None,
    contact_window: ContactWindow | None = None,
    params: TrajectoryParams | None = None,
    contact_params: ContactParams | None = None,
) -> SubjectInvestigation:
    """Investigate ``subject`` from ``source``.

    Parameters: ``tz``, the zone of local-time rules (nights at home, days);
    ``interview``, the subject's interview visits (``interview_visits``
    contract), clipped here to the subject's window; ``contact_window``, the
    infectious window from the traced path (None: no contact search).

    Returns the trajectory, the comparison and the contacts; when ``source``
    still awaits answers after a stage (the hub's exchange), the result names
    that stage in ``waiting_at`` and holds nothing past it.

    Raises ``UnknownSubject`` when no agency knows the person and
    ``QueryRefused`` when a subject's question is beyond a store's bounds.
    """
    params = params or TrajectoryParams()
    found = SubjectInvestigation(subject.person_ref)
    found.records = source.records(subject)
    if source.unanswered():
        found.waiting_at = GATHERING
        return found
    found.trajectory = trace_subject(found.records, params)
    if contact_window is not None:
        window, note = contact_window(found.trajectory)
        found.contacts = search_contacts(
            source, found.trajectory, found.records, window, tz, contact_params
        )
        found.contacts.notes.insert(0, note)
        if source.unanswered():
            found.waiting_at = SEARCHING_CONTACTS
            return found
    if interview is not None:
        visits = clip_interview(interview, subject.start, subject.end)
        found.comparison = compare_with_interview(found.trajectory.stays, visits, params)
    return found


class AnalysisError(UserInputError):
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


def manifest_tz(*folders: Path) -> str | None:
    """The zone a dataset was written in, from the first of ``folders`` whose manifest says."""
    for folder in folders:
        tz = read_manifest(folder).tz
        if tz is not None:
            return tz
    return None


def analysis_tz(folder: Path) -> str:
    """The zone for local-time rules (nights, days): the dataset's, else Korea's."""
    return manifest_tz(folder) or DEFAULT_TZ


def _read_given(path: Path, name: str) -> LoadedTable:
    """A table the user named on the command line, whole, or ``AnalysisError``
    (``formats.readers.read_given_table``)."""
    return read_given_table(path, name, AnalysisError)


def _subject_rows(
    folder: Path, name: str, given: Path | None, person_ref: str, problems: list[Problem]
) -> pa.Table | None:
    """The subject's rows of table ``name``: from the file ``given`` on the command
    line, else the dataset's own (whose skipped rows are added to ``problems``);
    ``None`` without either."""
    loaded = _read_given(given, name) if given is not None else read_dataset_table(folder, name)
    if loaded is None:
        return None
    problems.extend(loaded.problems)
    return loaded.table.filter(pc.equal(loaded.table.column("person_ref"), person_ref))


def _interview_visits(
    folder: Path, person_ref: str, interview_file: Path | None, problems: list[Problem]
) -> pa.Table | None:
    visits = _subject_rows(folder, "interview_visits", interview_file, person_ref, problems)
    return None if visits is None else visits.sort_by("start")


def analyze(
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
    """``epitrace analyze``: investigate ``person_ref`` from ``folder`` (the agencies'
    stores, or a dataset folder) and write ``stays.csv``, ``path.geojson``,
    ``report.html`` and ``contacts.csv`` to ``out``.

    ``tz``: the zone output times are written in [default: the dataset's — or,
    for stores, that of the dataset the cases file comes from — else UTC].
    Raises ``AnalysisError`` when no agency knows the person or a question is refused.
    """
    began = time.perf_counter()
    problems: list[Problem] = []
    interview = _interview_visits(folder, person_ref, interview_file, problems)
    # A cases file given is read once, whole, before any tracing (even with --no-contacts).
    cases = _read_given(cases_file, "cases").table if cases_file is not None else None

    def window_of(trajectory: Trajectory) -> tuple[Window, str]:
        return contact_window(
            folder, person_ref, trajectory, start, end, cases, contact_params, problems
        )

    source = subject_source(folder)
    try:
        found = investigate(
            source,
            Subject(person_ref, (), start, end),
            tz=analysis_tz(folder),
            interview=interview,
            contact_window=window_of if contacts else None,
            params=params,
            contact_params=contact_params,
        )
    except (UnknownSubject, QueryRefused) as exc:
        raise AnalysisError(str(exc)) from None
    finally:
        if isinstance(source, DatasetSource):
            source.close()
    if isinstance(source, DatasetSource) and source.built_stores and found.contacts:
        found.contacts.notes.append(
            "a dataset folder: contacts asked of temporary stores built from it"
        )
    assert found.trajectory is not None  # local sources answer at once
    result = InvestigationResult(
        person_ref,
        out,
        found.trajectory,
        found.comparison,
        [*source.problems, *problems],
        contacts=found.contacts,
    )
    sources = [folder, *([cases_file.parent] if cases_file is not None else [])]
    write_outputs(result, tz or manifest_tz(*sources) or "UTC")
    result.seconds = time.perf_counter() - began
    return result


def _case_dates(
    folder: Path, person_ref: str, cases: pa.Table | None, problems: list[Problem]
) -> tuple[dt.date, dt.date | None] | None:
    """(confirmed_date, onset_date) of the subject from ``cases`` (the table given on the
    command line), else from the dataset's own ``cases`` table; None if not a case."""
    rows = (
        cases.filter(pc.equal(cases.column("person_ref"), person_ref))
        if cases is not None
        else _subject_rows(folder, "cases", None, person_ref, problems)
    )
    if rows is None or rows.num_rows == 0:
        return None
    first = rows.slice(0, 1).to_pylist()[0]
    return first["confirmed_date"], first["onset_date"]


def contact_window(
    folder: Path,
    person_ref: str,
    trajectory: Trajectory,
    start: dt.datetime | None,
    end: dt.datetime | None,
    cases: pa.Table | None,
    params: ContactParams | None,
    problems: list[Problem],
) -> tuple[tuple[dt.datetime, dt.datetime], str]:
    """The infectious window and a note saying where it came from.

    ``--from``/``--to`` win; else the case's dates (onset - 2 days, or the
    confirmation date - 2 days without onset, to the confirmation date) from
    ``cases`` (the table given with ``--cases``) or the dataset's own; else every
    stay traced.
    """
    stays = trajectory.stays
    first = stays.column("start").to_pylist()[0] if stays.num_rows else None
    last = max(stays.column("end").to_pylist()) if stays.num_rows else None
    far_past = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if start is not None or end is not None:
        window = (start or first or far_past, end or last or dt.datetime.now(dt.UTC))
        return window, "contacts searched in the window given (--from/--to)"
    dates = _case_dates(folder, person_ref, cases, problems)
    if dates is not None:
        days_before = (params or ContactParams()).days_before
        window = infectious_window(dates[0], dates[1], analysis_tz(folder), days_before)
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


def write_outputs(result: InvestigationResult, tz: str) -> None:
    from epitrace.report import render_report

    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    stays_path = write_table(result.trajectory.stays, out, "stays", "csv", tz=tz)
    geojson_path = out / "path.geojson"
    geojson_path.write_text(json.dumps(result.trajectory.geojson(tz), ensure_ascii=False, indent=1))
    report_path = out / "report.html"
    report_path.write_text(
        render_report(result.trajectory, result.comparison, tz=tz, contacts=result.contacts),
        encoding="utf-8",
    )
    result.files = [stays_path, geojson_path, report_path]
    if result.contacts is not None:
        contacts = result.contacts.contacts.table
        result.files.append(write_table(contacts, out, "contacts", "csv", tz=tz))
