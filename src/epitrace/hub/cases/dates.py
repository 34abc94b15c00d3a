"""The rule a case's dates follow, wherever they enter the hub: the API, the pages, the
demo's and the tests' registration (all through ``records.register_case``).

A date far outside the plausible range (year 1 or 9999) is not only wrong, it breaks
the date arithmetic of the retention schedule and the guideline window (issue #17,
finding 3). Problems name the field, never echo its value (it may be personal data).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from epitrace.errors import UserInputError

if TYPE_CHECKING:
    from epitrace.hub.cases.records import CaseDates

# No case of an infectious disease the hub investigates was confirmed earlier; a
# birth date before this is a typing mistake.
EARLIEST = dt.date(2000, 1, 1)
EARLIEST_BIRTH = dt.date(1900, 1, 1)
# A day's slack for the time zones between the reporting office and the hub.
SLACK = dt.timedelta(days=1)
# A contact may be isolated (quarantined) before falling ill, up to one incubation period.
ISOLATED_BEFORE = dt.timedelta(days=14)


class ImplausibleDates(UserInputError, ValueError):
    """A case's dates outside the plausible range, or in an impossible order."""


def date_problem(dates: CaseDates, today: dt.date | None = None) -> str | None:
    """What is wrong with a case's dates (the first problem), or None."""
    latest = (today or dt.date.today()) + SLACK
    for name in ("specimen_date", "onset_date", "confirmation_date", "isolation_date"):
        day = getattr(dates, name)
        if day is None and name == "onset_date":
            continue  # no symptoms
        if not isinstance(day, dt.date) or not EARLIEST <= day <= latest:
            return f"{name} must be between {EARLIEST.isoformat()} and today"
    if dates.confirmation_date < dates.specimen_date:
        return "confirmation_date must not be before specimen_date"
    if dates.onset_date and dates.onset_date > dates.confirmation_date:
        return "onset_date must not be after confirmation_date"
    reference = dates.onset_date or dates.specimen_date
    if dates.isolation_date < reference - ISOLATED_BEFORE:
        return "isolation_date must not be more than 14 days before onset_date (or specimen_date)"
    return None


def check_dates(dates: CaseDates, today: dt.date | None = None) -> None:
    """Raise ImplausibleDates naming the first problem."""
    problem = date_problem(dates, today)
    if problem:
        raise ImplausibleDates(problem)


def birth_date_problem(day: dt.date, today: dt.date | None = None) -> str | None:
    if not EARLIEST_BIRTH <= day <= (today or dt.date.today()):
        return f"birth_date must be between {EARLIEST_BIRTH.isoformat()} and today"
    return None
