"""The administrator's changes to the retention settings, each one audited, and the
forecast of what will be destroyed when (counts only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.errors import EpitraceError
from epitrace.hub import reasons
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.retention import registry
from epitrace.hub.retention.models import MINIMUM_AUDIT_LOG_DAYS, PurgeRecord, RetentionSettings
from epitrace.hub.retention.rules import Kind, local_today

MAX_DAYS = 10 * 366  # a typo guard: nothing personal is kept for a decade
# Parts of a case go with the case: a longer life for them would be a promise the
# purge of the case breaks.
PARTS_OF_A_CASE = (Kind.RAW_RESULTS, Kind.ANALYSIS_RESULTS, Kind.DISCLOSURES)


class InvalidSettings(EpitraceError, ValueError):
    """The change was refused; the message names the field, never echoes personal data.

    ``problem`` is a message of the catalogue with %(name)s fields from ``params``: the
    JSON API answers it in English (``str``), the page in the reader's language."""

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(problem % params if params else problem)
        self.problem, self.params = problem, params

    def translated(self) -> str:
        return _(self.problem) % self.params if self.params else _(self.problem)


def _days(value: Any, kind: Kind) -> int:
    name = f"{kind}_days"
    try:
        days = int(str(value).strip())
    except ValueError as error:
        problem = gettext_noop("%(name)s must be a whole number of days")
        raise InvalidSettings(problem, name=name) from error
    if not 1 <= days <= MAX_DAYS:
        problem = gettext_noop("%(name)s must be between 1 and %(max)d days")
        raise InvalidSettings(problem, name=name, max=MAX_DAYS)
    if kind is Kind.AUDIT_LOG and days < MINIMUM_AUDIT_LOG_DAYS:
        problem = gettext_noop(
            "%(name)s must be at least %(min)d days (the hub's audit retention): the log "
            "of who saw what outlives the data"
        )
        raise InvalidSettings(problem, name=name, min=MINIMUM_AUDIT_LOG_DAYS)
    return days


def _end(value: Any) -> dt.date | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        problem = gettext_noop("emergency_end must be a date (YYYY-MM-DD) or empty")
        raise InvalidSettings(problem) from error


def _proposed(current: RetentionSettings, data: Mapping[str, Any]) -> dict[str, object]:
    values: dict[str, object] = {}
    if "emergency_end" in data:
        values["emergency_end"] = _end(data["emergency_end"])
    for kind in Kind:
        name = f"{kind}_days"
        if name in data and str(data[name]).strip() != "":
            values[name] = _days(data[name], kind)
    merged = {f"{k}_days": values.get(f"{k}_days", current.days(k)) for k in Kind}
    for kind in PARTS_OF_A_CASE:
        if merged[f"{kind}_days"] > merged["identifiers_days"]:  # type: ignore[operator]
            problem = gettext_noop(
                "%(name)s must not exceed identifiers_days: a case's parts are destroyed "
                "with the case at the latest"
            )
            raise InvalidSettings(problem, name=f"{kind}_days")
    return values


def _shown(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def change_settings(
    data: Mapping[str, Any], *, by: str, role: str = "", ip: str = "", reason: str = ""
) -> dict[str, list[object]]:
    """Apply the fields given in ``data``; {field: [old, new]} of what changed, audited
    as ``retention.change`` with the reason. Raises InvalidSettings."""
    reason = reason.strip()
    if not reasons.is_meaningful(reason):
        problem = gettext_noop(
            "a reason is required: it must say why, in words (at least %(n)d letters or digits)"
        )
        raise InvalidSettings(problem, n=reasons.MIN_WEIGHT)
    with transaction.atomic():
        current = RetentionSettings.objects.select_for_update().filter(id=1).first()
        current = current or RetentionSettings(id=1)
        values = _proposed(current, data)
        changes = {
            name: [_shown(getattr(current, name)), _shown(new)]
            for name, new in values.items()
            if getattr(current, name) != new
        }
        if not changes:
            return {}
        for name, new in values.items():
            setattr(current, name, new)
        current.changed_at, current.changed_by = timezone.now(), by
        current.save()
        record(
            by,
            "retention.change",
            role=role,
            object_type="retention_settings",
            object_id="1",
            detail={
                "changes": changes,
                **notes.sealed_texts([], reason=reason),  # concerns no case: not kept
                **({"ip": ip} if ip else {}),
            },
        )
    return changes


def settings_json(policy: RetentionSettings) -> dict[str, object]:
    return {
        "emergency_end": _shown(policy.emergency_end),
        **{f"{kind}_days": policy.days(kind) for kind in Kind},
        "changed_at": policy.changed_at.isoformat() if policy.changed_at else None,
        "changed_by": policy.changed_by,
    }


def forecast(now: dt.datetime | None = None) -> dict[str, Any]:
    """What will be destroyed and when: counts per kind and date, and what is due at the
    next purge. No case number, no personal data."""
    now = now or timezone.now()
    policy = RetentionSettings.current()
    today = local_today(now)
    targets = registry.targets()
    kinds = [
        {
            "kind": str(kind),
            "label": kind.label,
            "days": policy.days(kind),
            "targets": [t.name for t in targets if t.kind == kind],
        }
        for kind in Kind
    ]
    due_now = {str(k): 0 for k in Kind}
    for target in targets:
        for due in target.due(policy, now):
            due_now[str(target.kind)] += due.count
    schedule = [
        {
            "kind": str(s.kind),
            "label": s.kind.label,
            "date": s.on.isoformat(),
            "count": s.count,
            "rule": s.rule,
            "overdue": s.on <= today,
        }
        for target in targets
        for s in target.schedule(policy)
    ]
    schedule.sort(key=lambda row: (row["date"], list(Kind).index(Kind(row["kind"]))))
    return {
        "today": today.isoformat(),
        "interrupted": PurgeRecord.objects.filter(finished_at__isnull=True).count(),
        "destroyed": destroyed_so_far(),
        "settings": settings_json(policy),
        "kinds": kinds,
        "due_at_next_purge": due_now,
        "schedule": schedule,
    }


def destroyed_so_far(limit: int = 60) -> list[dict[str, object]]:
    """Past destructions: items and rows per kind and day, the latest first."""
    rows = (
        PurgeRecord.objects.filter(finished_at__isnull=False)
        .annotate(day=TruncDate("finished_at"))
        .values("day", "kind")
        .annotate(items=Count("id"), rows=Sum("count"))
        .order_by("-day", "kind")
    )[:limit]
    return [
        {
            "date": row["day"].isoformat(),
            "kind": row["kind"],
            "label": Kind(row["kind"]).label,
            "items": row["items"],
            "rows": row["rows"],
        }
        for row in rows
    ]
