"""When each kind of data expires.

A kind's retention is counted in days from a date its target names (for a case's
data, the case's confirmation date). While the emergency lasts, that is the only
rule. Once the administrator has set the emergency's end and that day has passed,
every kind of personal data expires at once, whatever is left of its retention: the
law allowed the data for the emergency only. The audit log is the exception: it
stays its full retention, so that what was done with the data can still be checked.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.hub.retention.models import RetentionSettings


class Kind(enum.StrEnum):
    # In the order a purge destroys them: the shorter-lived parts of a case first.
    RAW_RESULTS = "raw_results"
    ANALYSIS_RESULTS = "analysis_results"
    DISCLOSURES = "disclosures"
    IDENTIFIERS = "identifiers"
    AUDIT_LOG = "audit_log"

    @property
    def label(self) -> str:
        return LABELS[self]


# In English (the CLI's listings, the JSON); pages translate them (``label_of``).
LABELS = {
    Kind.RAW_RESULTS: gettext_noop("Raw provider results"),
    Kind.ANALYSIS_RESULTS: gettext_noop("Analysis results"),
    Kind.DISCLOSURES: gettext_noop("Public disclosures"),
    Kind.IDENTIFIERS: gettext_noop("Case identifiers (the whole case)"),
    Kind.AUDIT_LOG: gettext_noop("Audit log"),
}
# What a retention is counted from (targets.py names them in each rule), and the rules
# that are no retention at all: the pages show them in the reader's language.
ANCHOR_NAMES = (
    gettext_noop("confirmation (or registration, if later)"),
    gettext_noop("it arrived (not before the case's confirmation or registration)"),
    gettext_noop("the entry was written"),
)
OTHER_RULES = (
    gettext_noop("cannot be evaluated"),
    gettext_noop("files written after the case was destroyed"),
    gettext_noop("data key already destroyed"),
)
OUTLIVES_THE_EMERGENCY = {Kind.AUDIT_LOG}


@dataclass(frozen=True)
class Expiry:
    on: dt.date  # the first day it may no longer be kept: a purge on or after it destroys it
    rule: str  # which rule, as the audit log and the listings name it


def local_zone() -> str:
    return str(settings.EPITRACE_LOCAL_TIME_ZONE)


def local_today(now: dt.datetime | None = None) -> dt.date:
    """Today (or ``now``'s day) where the hub serves: retention is counted in calendar
    days there."""
    zone = zoneinfo.ZoneInfo(local_zone())
    return timezone.localtime(now or timezone.now(), zone).date()


def retention_rule(kind: Kind, days: int, anchor_name: str) -> str:
    return f"{kind}: {days} days after {anchor_name}"


def emergency_rule(end: dt.date) -> str:
    return f"emergency ended {end.isoformat()}"


def label_of(kind: str) -> str:
    """A kind's label in the active language (``raw_results`` -> 제공기관 원자료)."""
    return _(Kind(kind).label)


def rule_label(rule: str) -> str:
    """A rule as ``retention_rule``, ``emergency_rule`` or targets.py wrote it, in the
    active language; a rule of another form as it is."""
    kind, colon, rest = rule.partition(": ")
    days, _space, anchor = rest.partition(" days after ")
    if colon and kind in {k.value for k in Kind} and days.isdigit() and anchor:
        return _("%(days)s days after %(anchor)s") % {"days": days, "anchor": _(anchor)}
    if rule.startswith("emergency ended "):
        return _("the emergency ended on %(day)s") % {"day": rule.removeprefix("emergency ended ")}
    return _(rule)


def expiry(policy: RetentionSettings, kind: Kind, anchor: dt.date, anchor_name: str) -> Expiry:
    """When data of ``kind`` dated ``anchor`` expires: its retention, or the day after the
    emergency's end if that comes first."""
    days = policy.days(kind)
    try:
        on: dt.date | None = anchor + dt.timedelta(days=days)
    except OverflowError:  # a date out of range (cases/dates.py refuses them now)
        on = None
    end = policy.emergency_end
    if end is None or kind in OUTLIVES_THE_EMERGENCY:
        if on is None:
            raise OverflowError(f"{kind}: {days} days after {anchor_name} is out of range")
        return Expiry(on, retention_rule(kind, days, anchor_name))
    after_end = end + dt.timedelta(days=1)
    if on is None or after_end < on:
        return Expiry(after_end, emergency_rule(end))
    return Expiry(on, retention_rule(kind, days, anchor_name))


def latest_expired_anchor(policy: RetentionSettings, kind: Kind, today: dt.date) -> dt.date:
    """Data of ``kind`` dated on or before this day has expired by ``today``."""
    end = policy.emergency_end
    if end is not None and kind not in OUTLIVES_THE_EMERGENCY and today > end:
        return dt.date.max
    return today - dt.timedelta(days=policy.days(kind))
