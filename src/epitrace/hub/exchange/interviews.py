"""The places a patient named in the interview: checked, kept encrypted, compared.

An investigator attaches an ``interview_visits`` CSV (data-formats.md) to a case, or
types the places in the interview page's form (exchange/interview_form.py turns the
rows into the same table). Either is read against the contract (problems named by
line or row and column, nothing stored when there are any), must be the case's own
person, and goes through ``keep_interview``: sealed under the case's key, and — when
the case already has an analysis — the interview comparison of that analysis is
computed again at once, so the case page shows what the interview missed without
asking the agencies again. The pages replace an earlier interview only when asked to
(``replace``); the API replaces it, as documented.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.analysis.trajectory import TrajectoryParams
from epitrace.analysis.trajectory.interview import clip_interview, compare_with_interview
from epitrace.errors import EpitraceError
from epitrace.formats.problems import FILE_LEVEL, Problem
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
FILE_LABEL = "interview file"


@dataclass(frozen=True)
class Worded:
    """A problem of the whole interview: a catalogue message and its fields."""

    message: str
    params: dict[str, object] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message

    def translated(self) -> str:
        return _(self.message) % self.params if self.params else _(self.message)


# The contract's reasons (formats/convert.py, formats/readers.py: English, for the CLI
# too) in the catalogue's words, for the pages: (pattern, message with its fields).
REASONS = [
    (
        r"not an ISO 8601 timestamp with a UTC offset: (?P<value>.*)",
        gettext_noop(
            "not a date and time with its offset from UTC (e.g. 2020-02-10T09:00:00+09:00): "
            "%(value)s"
        ),
    ),
    (
        r"timestamp without UTC offset: (?P<value>.*)",
        gettext_noop("a date and time without its offset from UTC (add +09:00): %(value)s"),
    ),
    (
        r"timestamp without UTC offset",
        gettext_noop("a date and time without its offset from UTC (add +09:00)"),
    ),
    (
        r"not a date \(YYYY-MM-DD\): (?P<value>.*)",
        gettext_noop("not a date (YYYY-MM-DD): %(value)s"),
    ),
    (r"not a date \(YYYY-MM-DD\)", gettext_noop("not a date (YYYY-MM-DD)")),
    (r"not a time \(HH:MM\)", gettext_noop("not a time (HH:MM)")),
    (r"not a number: (?P<value>.*)", gettext_noop("not a number: %(value)s")),
    (r"not a finite number", gettext_noop("not a finite number")),
    (
        r"(?P<value>\S+) out of range \(must be (?P<rule>.*)\)",
        gettext_noop("%(value)s is out of range (must be %(rule)s)"),
    ),
    (r"missing value", gettext_noop("missing value")),
    (r"empty identifier", gettext_noop("missing value")),
    (r"longer than (?P<n>\d+) characters", gettext_noop("longer than %(n)s characters")),
    (r"(?P<end>\w+) before (?P<start>\w+)", gettext_noop("the end is before the start")),
    (r"not valid UTF-8", gettext_noop("not UTF-8 text: save the file as UTF-8 (CSV UTF-8)")),
    (
        r"header is not valid UTF-8",
        gettext_noop("not UTF-8 text: save the file as UTF-8 (CSV UTF-8)"),
    ),
    (r"missing required column", gettext_noop("a column the interview needs is missing")),
    (r"column appears more than once", gettext_noop("the column appears more than once")),
    (r"empty file: no header row", gettext_noop("the file is empty: no header row")),
    (
        r"expected (?P<expected>\d+) fields, found (?P<found>\d+)",
        gettext_noop("%(found)s fields where the header has %(expected)s"),
    ),
]


def reason_in_words(reason: str) -> str:
    """A contract reason in the active language (as it is when it is not one of them)."""
    for pattern, message in REASONS:
        found = re.fullmatch(pattern, reason)
        if found:
            fields = found.groupdict()
            return _(message) % fields if fields else _(message)
    return reason


# How the problems of a form's rows name its fields (exchange/interview_form.py).
FORM_FIELDS = {
    "place": gettext_noop("place name"),
    "address": gettext_noop("address or district"),
    "date": gettext_noop("date"),
    "start": gettext_noop("start time"),
    "end": gettext_noop("end time"),
}
FORM_LABEL = "interview form"


def problem_in_words(problem: Problem | Worded) -> str:
    """One problem as the page shows it, in the active language: the file's line or the
    form's row, the column or field, and why."""
    if isinstance(problem, Worded):
        return problem.translated()
    reason = reason_in_words(problem.reason)
    if problem.file == FORM_LABEL:
        field = _(FORM_FIELDS.get(problem.column, problem.column))
        return _("row %(row)d, %(field)s: %(reason)s") % {
            "row": problem.line,
            "field": field,
            "reason": reason,
        }
    if problem.column == FILE_LEVEL:
        return _("line %(line)d: %(reason)s") % {"line": problem.line, "reason": reason}
    # The column as the file's header names it: a code, marked as one.
    shown = escape(_("line %(line)d, column %(column)s: %(reason)s")) % {
        "line": problem.line,
        "column": format_html("<code>{}</code>", problem.column),
        "reason": escape(reason),
    }
    return mark_safe(shown)  # every part escaped above


class InterviewProblems(EpitraceError, ValueError):
    """The interview does not follow the contract, or cannot be kept; ``problems`` say
    where and why in English (the API), ``translated()`` in the reader's language."""

    def __init__(self, problems: list[Problem | Worded]) -> None:
        super().__init__(f"the interview file has {len(problems)} problems")
        self.items = problems
        self.problems = [str(p) for p in problems]

    def translated(self) -> list[str]:
        return [problem_in_words(p) for p in self.items]


@dataclass(frozen=True)
class Attached:
    rows: int
    recompared: bool  # an existing analysis got a fresh comparison


def read_interview(data: bytes) -> pa.Table:
    """The ``interview_visits`` table from CSV bytes, or InterviewProblems."""
    from epitrace.formats.readers import read_table

    if len(data) > MAX_INTERVIEW_BYTES:
        too_large = gettext_noop("the file is larger than %(bytes)s bytes")
        raise InterviewProblems([Worded(too_large, {"bytes": f"{MAX_INTERVIEW_BYTES:,}"})])
    # Parsed from a private folder under the hub's home (mode 0700, gone at once), never
    # the system's temporary folder: nothing personal outside the home.
    with tempfile.TemporaryDirectory(prefix="interview-", dir=private_scratch()) as folder:
        path = Path(folder) / "interview_visits.csv"
        path.write_bytes(data)
        loaded = read_table(path, "interview_visits", label=FILE_LABEL)
    if loaded.problems:
        raise InterviewProblems(list(loaded.problems[:MAX_PROBLEMS_SHOWN]))
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


ANOTHER_PERSON = gettext_noop(
    "person_ref: the interview is about another person than this case's patient; nothing "
    "was stored and the earlier interview is kept"
)
ALREADY_RECORDED = gettext_noop(
    "this case already has an interview: confirm that it is to be replaced; nothing was stored"
)


def _check_person(case: Case, visits: pa.Table) -> None:
    """Every row must be the case's own person: an interview of someone else is refused."""
    subject = normalise_person_ref(identifiers_of(case).person_ref)
    others = {normalise_person_ref(ref) for ref in visits.column("person_ref").to_pylist()}
    if others - {subject}:
        # The references are not echoed: they name people.
        raise InterviewProblems([Worded(ANOTHER_PERSON)])


def keep_interview(
    case: Case, visits: pa.Table, by: str, *, replace: bool, source: str = "file"
) -> Attached:
    """Keep ``visits`` (an ``interview_visits`` table, from a file or the form: ``source``)
    as ``case``'s interview and compare it with the latest analysis. An earlier interview
    is replaced only if ``replace``; a table of another person is refused. Recorded as
    ``interview.attach``."""
    _check_person(case, visits)
    sink = io.BytesIO()
    pq.write_table(visits, sink)
    with transaction.atomic():
        earlier = InterviewRecord.objects.select_for_update().filter(case=case).exists()
        if earlier and not replace:
            raise InterviewProblems([Worded(ALREADY_RECORDED)])
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
            detail={
                "rows": visits.num_rows,
                "recompared": recompared,
                "source": source,
                "replaced": earlier,
            },
        )
    return Attached(visits.num_rows, recompared)


def attach_interview(case: Case, data: bytes, by: str, *, replace: bool = True) -> Attached:
    """Keep the interview file ``data`` (CSV) for ``case`` (``keep_interview``)."""
    return keep_interview(case, read_interview(data), by, replace=replace, source="file")
