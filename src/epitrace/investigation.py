"""One subject's investigation from files: records in, stays, path and report out.

This is the work behind ``epitrace analyze`` (and later the hub's analysis
job): read the subject's records from a dataset folder, trace the stays and
the path, compare them with the interview, and write the outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.trajectory import Trajectory, TrajectoryParams, trace_subject
from epitrace.analysis.trajectory.interview import compare_with_interview
from epitrace.formats.problems import Problem
from epitrace.formats.readers import read_dataset_table, read_table
from epitrace.formats.writers import write_table
from epitrace.providers.dataset import DatasetStore, UnknownSubject
from epitrace.providers.network import StoreNetwork, is_store_network
from epitrace.providers.queries import QueryRefused


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

    def messages(self) -> list[str]:
        lines = [f"warning: {note}" for note in self.trajectory.notes]
        if self.problems:
            lines.append(
                f"warning: {len(self.problems)} of this subject's records break the data "
                "contract and were not used; run `epitrace validate` for each one"
            )
        return lines

    def describe(self) -> str:
        stays = self.trajectory.stays.num_rows
        written = ", ".join(p.name for p in self.files)
        return (
            f"{self.person_ref}: {stays} stays, {len(self.trajectory.moves)} moves in "
            f"{self.seconds:.2f} s; wrote {written} to {self.out}/"
        )


def dataset_timezone(folder: Path) -> str:
    """The zone a dataset was written in (its manifest says), for readable output."""
    try:
        return str(json.loads((folder / "manifest.json").read_text())["config"]["timezone"])
    except (OSError, ValueError, KeyError, TypeError):
        return "UTC"


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
) -> InvestigationResult:
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
    write_outputs(result, dataset_timezone(folder))
    result.seconds = time.perf_counter() - began
    return result


def write_outputs(result: InvestigationResult, tz: str) -> None:
    from epitrace.report import render_report

    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    stays_path = write_table(result.trajectory.stays, out, "stays", "csv", tz=tz)
    geojson_path = out / "path.geojson"
    geojson_path.write_text(json.dumps(result.trajectory.geojson(), ensure_ascii=False, indent=1))
    report_path = out / "report.html"
    report_path.write_text(
        render_report(result.trajectory, result.comparison, tz=tz), encoding="utf-8"
    )
    result.files = [stays_path, geojson_path, report_path]
