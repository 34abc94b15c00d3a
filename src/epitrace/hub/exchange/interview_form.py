"""The interview page's form: the places a patient named, typed row by row.

Each row is a place name, an address or district (optional), a date and a start and end
time in the reader's time zone; an end earlier than the start is the next day (a night
out). Rows left wholly empty are skipped. The rows become an ``interview_visits`` table
of the contract (the case's own person, times with their UTC offset) checked by the
contract's own validation (``formats.readers.conform_rows``), so that a typed interview
and an uploaded file are kept by one path (``interviews.keep_interview``). Problems name
the row and the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from django.utils.translation import gettext_noop

from epitrace.formats.problems import Problem
from epitrace.formats.readers import conform_rows
from epitrace.hub.exchange.interviews import FORM_LABEL, InterviewProblems, Worded

FIELDS = ("place", "address", "date", "start", "end")
ROWS_SHOWN = 5  # empty rows on a fresh form; "more rows" adds as many again
MAX_ROWS = 200
NOTHING_TYPED = gettext_noop("type at least one place: its name, date and times")
NOT_A_DATE = "not a date (YYYY-MM-DD)"
NOT_A_TIME = "not a time (HH:MM)"
# The contract's columns, as the form's fields name them (for the problems).
FIELD_OF_COLUMN = {"place_name": "place", "address": "address", "start": "start", "end": "end"}


@dataclass(frozen=True)
class TypedRow:
    """One row of the form as typed (1-based ``number`` as the page shows it)."""

    number: int
    place: str = ""
    address: str = ""
    date: str = ""
    start: str = ""
    end: str = ""

    @property
    def blank(self) -> bool:
        return not any((self.place, self.address, self.date, self.start, self.end))


def rows_of(form: Mapping[str, str], count: int) -> list[TypedRow]:
    """The form's ``count`` rows (fields ``place-1``, ``date-1``, ...), blank ones too."""
    return [
        TypedRow(i, *(str(form.get(f"{name}-{i}", "")).strip() for name in FIELDS))
        for i in range(1, min(count, MAX_ROWS) + 1)
    ]


def row_count(form: Mapping[str, str]) -> int:
    try:
        return max(1, min(int(form.get("rows", ROWS_SHOWN)), MAX_ROWS))
    except ValueError:
        return ROWS_SHOWN


def _clock(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        return None


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _times(row: TypedRow, zone: dt.tzinfo) -> tuple[str, str, list[Problem]]:
    """The row's start and end as ISO 8601 with their offset, or the problems of its date
    and times (then the raw text, which the contract's check refuses too)."""
    problems = []
    day = _day(row.date) if row.date else None
    if row.date and day is None:
        problems.append(Problem(FORM_LABEL, row.number, "date", NOT_A_DATE))
    begin = _clock(row.start) if row.start else None
    if row.start and begin is None:
        problems.append(Problem(FORM_LABEL, row.number, "start", NOT_A_TIME))
    finish = _clock(row.end) if row.end else None
    if row.end and finish is None:
        problems.append(Problem(FORM_LABEL, row.number, "end", NOT_A_TIME))
    if day is None or begin is None or finish is None:
        return "", "", problems
    start = dt.datetime.combine(day, begin, tzinfo=zone)
    end = dt.datetime.combine(day, finish, tzinfo=zone)
    if end <= start:  # an evening that ended after midnight
        end = dt.datetime.combine(day + dt.timedelta(days=1), finish, tzinfo=zone)
    return start.isoformat(), end.isoformat(), problems


def _missing(row: TypedRow) -> list[Problem]:
    """A typed row needs its place's name (the contract lets a file leave it empty), its
    date and its times."""
    return [
        Problem(FORM_LABEL, row.number, name, "missing value")
        for name in ("place", "date", "start", "end")
        if not getattr(row, name)
    ]


def interview_table(rows: list[TypedRow], person_ref: str, zone: dt.tzinfo) -> pa.Table:
    """The ``interview_visits`` table of the non-blank ``rows`` (times in ``zone``), or
    InterviewProblems naming each row and field that is wrong."""
    typed = [row for row in rows if not row.blank]
    if not typed:
        raise InterviewProblems([Worded(NOTHING_TYPED)])
    problems: list[Problem] = []
    starts, ends = [], []
    for row in typed:
        start, end, found = _times(row, zone)
        problems += _missing(row) + found
        starts.append(start)
        ends.append(end)
    columns = {
        "person_ref": [person_ref] * len(typed),
        "start": starts,
        "end": ends,
        "place_name": [row.place for row in typed],
        "address": [row.address for row in typed],
        "lat": [""] * len(typed),
        "lon": [""] * len(typed),
    }
    lines = np.asarray([row.number for row in typed], dtype=np.int64)
    checked = conform_rows("interview_visits", pa.table(columns), FORM_LABEL, lines)
    for problem in checked.problems:
        field = FIELD_OF_COLUMN.get(problem.column)
        already = any(p.line == problem.line for p in problems)
        if field is not None and not (field in ("start", "end") and already):
            problems.append(Problem(FORM_LABEL, problem.line, field, problem.reason))
    if problems:  # by row, then in the order of the row's fields
        order = {name: i for i, name in enumerate(FIELDS)}
        unique = sorted(set(problems), key=lambda p: (p.line, order.get(p.column, 0)))
        raise InterviewProblems(list(unique))
    return checked.table
