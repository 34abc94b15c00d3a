"""What the case pages (cases/views.py) show of a case's data requests, through the policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_noop

from epitrace.hub import policy
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange.models import DataRequest

# Every status a page may show, marked for translation (templates translate the value).
STATUS_LABELS = (
    gettext_noop("awaiting approval"),
    gettext_noop("refused"),
    gettext_noop("in progress"),
    gettext_noop("answered"),
    gettext_noop("analysed"),
    gettext_noop("failed"),
    gettext_noop("waiting"),
    gettext_noop("ready"),
)
# Statuses whose deadline still matters to the investigator.
OPEN_STATUSES = ("awaiting approval", "in progress", "answered")


@dataclass(frozen=True)
class CaseStatus:
    status: str  # the newest request's status
    deadline: Any  # the earliest deadline of the open requests, or None
    requests: int


def status_of_cases(cases: list[Case]) -> dict[int, CaseStatus]:
    """Per case (by pk): its newest request's status and the nearest open deadline."""
    if not cases:
        return {}
    by_case: dict[int, list[Any]] = {}
    for request in DataRequest.objects.filter(case__in=cases).order_by("case_id", "-created_at"):
        by_case.setdefault(request.case_id, []).append(request)
    return {case_pk: _status_of(requests) for case_pk, requests in by_case.items()}


def _status_of(requests: list[Any]) -> CaseStatus:
    """``requests`` newest first: the newest one's status, the nearest open deadline."""
    open_deadlines = [r.deadline for r in requests if r.status in OPEN_STATUSES]
    return CaseStatus(requests[0].status, min(open_deadlines, default=None), len(requests))


def requests_of_case(user: Any, case: Case) -> list[Any]:
    """The case's requests the user may see (request.view narrows by jurisdiction)."""
    if not policy.permits(user, "request.view"):
        return []
    visible = policy.visible(user, "request.view", DataRequest.objects.filter(case=case))
    return list(visible.order_by("-created_at"))


def may_request(user: Any) -> bool:
    return policy.permits(user, "request.create")
