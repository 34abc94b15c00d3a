"""The places a patient named in the interview: checked, kept encrypted, compared.

An investigator attaches an ``interview_visits`` CSV (data-formats.md) to a case. It
is read against the contract (problems named by line and column, nothing stored when
there are any), sealed under the case's key, and — when the case already has an
analysis — the interview comparison of that analysis is computed again at once, so
the case page shows what the interview missed without asking the agencies again.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction

from epitrace.analysis.trajectory import TrajectoryParams
from epitrace.analysis.trajectory.interview import clip_interview, compare_with_interview
from epitrace.errors import EpitraceError
from epitrace.hub.audit.chain import record
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import encrypt_for_case, identifiers_of, normalise_person_ref
from epitrace.hub.exchange.analysis import interview_label
from epitrace.hub.exchange.models import AnalysisResult, InterviewRecord
from epitrace.hub.exchange.results import read_result, seal_bundle

MAX_INTERVIEW_BYTES = 5 * 1024 * 1024


def private_scratch() -> Path:
    """The hub's own scratch folder, under its home, readable by the hub alone."""
    folder = Path(settings.HOME) / "scratch"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


MAX_PROBLEMS_SHOWN = 20


class InterviewProblems(EpitraceError, ValueError):
    """The file does not follow the contract; ``problems`` say where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"the interview file has {len(problems)} problems")
        self.problems = problems


@dataclass(frozen=True)
class Attached:
    rows: int
    recompared: bool  # an existing analysis got a fresh comparison


def read_interview(data: bytes) -> pa.Table:
    """The ``interview_visits`` table from CSV bytes, or InterviewProblems."""
    from epitrace.formats.readers import read_table

    if len(data) > MAX_INTERVIEW_BYTES:
        raise InterviewProblems([f"the file is larger than {MAX_INTERVIEW_BYTES:,} bytes"])
    # Parsed from a private folder under the hub's home (mode 0700, gone at once), never
    # the system's temporary folder: nothing personal outside the home.
    with tempfile.TemporaryDirectory(prefix="interview-", dir=private_scratch()) as folder:
        path = Path(folder) / "interview_visits.csv"
        path.write_bytes(data)
        loaded = read_table(path, "interview_visits", label="interview file")
    if loaded.problems:
        raise InterviewProblems([str(p) for p in loaded.problems[:MAX_PROBLEMS_SHOWN]])
    return loaded.table


def _recompare(case: Case, visits: pa.Table) -> bool:
    result = AnalysisResult.objects.filter(case=case).order_by("-computed_at", "-id").first()
    if result is None:
        return False
    analysis = read_result(result)
    start, end = analysis.window
    comparison = compare_with_interview(
        analysis.stays, clip_interview(visits, start, end), TrajectoryParams()
    )
    updated = dataclasses.replace(analysis, comparison=comparison)
    result.bundle_enc = seal_bundle(case, result.request_id, updated)
    result.save(update_fields=["bundle_enc"])
    return True


def _check_person(case: Case, visits: pa.Table) -> None:
    """Every row must be the case's own person: an interview of someone else is refused."""
    subject = normalise_person_ref(identifiers_of(case).person_ref)
    others = {normalise_person_ref(ref) for ref in visits.column("person_ref").to_pylist()}
    if others - {subject}:
        # The references are not echoed: they name people.
        raise InterviewProblems(
            ["person_ref: the file is about another person than this case's patient"]
        )


def attach_interview(case: Case, data: bytes, by: str) -> Attached:
    """Keep the interview for ``case`` (replacing an earlier one) and compare it."""
    visits = read_interview(data)
    _check_person(case, visits)
    sink = io.BytesIO()
    pq.write_table(visits, sink)
    with transaction.atomic():
        InterviewRecord.objects.update_or_create(
            case=case,
            defaults={
                "uploaded_by": by,
                "rows": visits.num_rows,
                "table_enc": encrypt_for_case(case, interview_label(), sink.getvalue()),
            },
        )
        recompared = _recompare(case, visits)
        record(
            by,
            "interview.attach",
            object_type="case",
            object_id=case.audit_name,
            detail={"rows": visits.num_rows, "recompared": recompared},
        )
    return Attached(visits.num_rows, recompared)
