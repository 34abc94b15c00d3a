"""Asking for a case's data, deciding on it, and telling people what happened.

The guideline's window: from 2 days before symptom onset (before the specimen date
when there are no symptoms) to isolation. An investigator may narrow it freely; a
window must overlap it, and reaching beyond it needs a written reason — and, more than
``WIDEN_WITHOUT_APPROVAL_DAYS`` beyond it, a police approver's decision as well. Only
the named case and that window are asked. Location data (telecom, transit, check-ins,
presence around stays for contacts) waits for a police approver; card payments alone
do not, unless the window was widened that far. A case has at most one open request
for a kind and a moment: a second one is refused with the first one's number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.errors import EpitraceError
from epitrace.hub import policy, reasons
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import record
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange.models import (
    AgencyTask,
    AnalysisJob,
    DataRequest,
    JobStatus,
    Notification,
    Status,
    TaskStatus,
)
from epitrace.providers.queries import MAX_WINDOW_DAYS

KINDS = ("telecom", "cards", "transit", "checkins", "contacts")
# Widening the guideline's window by more days than this (on either side) needs approval.
WIDEN_WITHOUT_APPROVAL_DAYS = 3
OPEN_STATUSES = ("awaiting approval", "in progress")
LOCATION_KINDS = frozenset({"telecom", "transit", "checkins", "contacts"})
DAYS_BEFORE_ONSET = 2


class RequestError(EpitraceError, ValueError):
    """A request or decision that cannot be accepted as given (the reason says why).

    Given ``params``, the message is one of the catalogue with %(name)s fields: the API
    answers it in English (``str``), the pages in the reader's language (``translated``).
    """

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(problem % params if params else problem)
        self.problem, self.params = problem, params

    def translated(self) -> str:
        return in_words(self.problem, self.params)


def in_words(message: str, params: dict[str, object]) -> str:
    """A catalogue ``message`` in the active language, its fields filled; a field that is
    itself one of the hub's words (a status) translated too."""
    if not params:
        return _(message)
    return _(message) % {k: _(v) if isinstance(v, str) else v for k, v in params.items()}


class AlreadyDecided(RequestError):
    """The request is no longer awaiting a decision (a conflict, HTTP 409)."""


class NotYourDecision(EpitraceError, PermissionError):
    """The approver asked is the requester: nobody approves their own request."""

    def translated(self) -> str:
        return _(str(self))


# The provisions of law a request is made under (Infectious Disease Control and
# Prevention Act, 감염병의 예방 및 관리에 관한 법률, article 76-2): paragraph 1, the
# information agencies give on request (card and transit card use, entry logs: the
# Enforcement Decree's art. 32-2); paragraph 2, location information, asked of the
# carriers through the police (hence its approval).
LEGAL_BASES = {
    "IDCPA-76-2-1": gettext_noop(
        "Infectious Disease Control and Prevention Act, Article 76-2(1): information "
        "such as card and transit card use and entry logs"
    ),
    "IDCPA-76-2-2": gettext_noop(
        "Infectious Disease Control and Prevention Act, Article 76-2(2): location "
        "information, through the police"
    ),
}
LOCATION_THROUGH_POLICE = frozenset({"telecom", "contacts"})
# The kinds of data, short, as the lists and the legends name them.
KIND_NAMES = {
    "telecom": gettext_noop("Telecom"),
    "cards": gettext_noop("Card"),
    "transit": gettext_noop("Transit"),
    "checkins": gettext_noop("Check-in"),
    "contacts": gettext_noop("Contacts"),
}


def kinds_in_words(kinds: Iterable[str]) -> str:
    """``["cards", "telecom"]`` as the reader says them (카드, 기지국)."""
    return ", ".join(_(KIND_NAMES[k]) if k in KIND_NAMES else k for k in kinds)


class DuplicateRequest(RequestError):
    """The case already has an open request for that data; ``existing`` is it."""

    def __init__(self, problem: str, existing: DataRequest, **params: object) -> None:
        super().__init__(problem, **params)
        self.existing = existing


def legal_basis(kinds: Iterable[str]) -> list[str]:
    """The provisions (codes of ``LEGAL_BASES``) a request for ``kinds`` is made under."""
    chosen = set(kinds)
    basis = []
    if chosen - LOCATION_THROUGH_POLICE:
        basis.append("IDCPA-76-2-1")
    if chosen & LOCATION_THROUGH_POLICE:
        basis.append("IDCPA-76-2-2")
    return basis


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.EPITRACE_LOCAL_TIME_ZONE)


def default_window(case: Case) -> tuple[dt.date, dt.date]:
    """(first day, last day) the guideline allows: onset (or specimen) - 2 days .. isolation."""
    anchor = case.onset_date or case.specimen_date
    return anchor - dt.timedelta(days=DAYS_BEFORE_ONSET), case.isolation_date


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first 00:00, the day after last 00:00) in the hub's local zone, as UTC instants."""
    zone = local_zone()
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _check_kinds(kinds: Iterable[str]) -> list[str]:
    chosen = sorted(set(kinds))
    if not chosen:
        raise RequestError(gettext_noop("choose at least one kind of data"))
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        problem = gettext_noop("unknown kind '%(kind)s'; choose from %(kinds)s")
        raise RequestError(problem, kind=unknown[0], kinds=", ".join(KINDS))
    if "contacts" in chosen and "telecom" not in chosen and "cards" not in chosen:
        raise RequestError(
            gettext_noop("a contact search needs the case's telecom or card data for its stays")
        )
    return chosen


def _check_window(
    case: Case, start: dt.datetime | None, end: dt.datetime | None, widen_reason: str
) -> tuple[dt.datetime, dt.datetime, bool]:
    """The window in UTC, and whether it reaches so far beyond the guideline's that a
    police approver must decide."""
    allowed = day_bounds(*default_window(case))
    start, end = start or allowed[0], end or allowed[1]
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise RequestError(gettext_noop("%(name)s needs a UTC offset"), name=name)
    if end <= start:
        raise RequestError(gettext_noop("the window ends before it starts"))
    if end - start > dt.timedelta(days=MAX_WINDOW_DAYS):
        problem = gettext_noop("the window is longer than %(days)d days")
        raise RequestError(problem, days=MAX_WINDOW_DAYS)
    first, last = default_window(case)
    if end <= allowed[0] or start >= allowed[1]:
        problem = gettext_noop(
            "the window must overlap the case's: the guideline's window is %(first)s to %(last)s"
        )
        raise RequestError(problem, first=first.isoformat(), last=last.isoformat())
    if (start < allowed[0] or end > allowed[1]) and not reasons.is_meaningful(widen_reason):
        problem = gettext_noop(
            "the guideline's window is %(first)s to %(last)s; give a written reason "
            "(widen_reason) to ask for more: it must say why, in words (at least %(n)d "
            "letters or digits)"
        )
        raise RequestError(
            problem, first=first.isoformat(), last=last.isoformat(), n=reasons.MIN_WEIGHT
        )
    bound = dt.timedelta(days=WIDEN_WITHOUT_APPROVAL_DAYS)
    far = start < allowed[0] - bound or end > allowed[1] + bound
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC), far


def _refuse_duplicate(case: Case, kinds: list[str], start: dt.datetime, end: dt.datetime) -> None:
    """An open request of ``case`` for one of ``kinds`` over part of the window: refused,
    naming it. The caller holds the case's row lock, so two at once cannot both pass."""
    open_requests = DataRequest.objects.filter(
        case=case, status__in=OPEN_STATUSES, start__lt=end, end__gt=start
    ).order_by("id")
    for existing in open_requests:
        shared = sorted(set(kinds) & set(existing.kinds))
        if shared:
            problem = gettext_noop(
                "%(request)s already asks for %(kinds)s of %(case)s over this window and is "
                "%(status)s: follow it, or ask for what it lacks"
            )
            raise DuplicateRequest(
                problem,
                existing,
                request=str(existing),
                kinds=", ".join(shared),
                case=str(case),
                status=str(existing.status),
            )


def _request_deadline() -> dt.timedelta:
    return dt.timedelta(hours=settings.EPITRACE_REQUEST_DEADLINE_HOURS)


def notify(username: str, message: str, about: DataRequest, /, **params: object) -> None:
    """Tell ``username`` about a request: ``message`` a message of the catalogue with
    %(name)s fields from ``params``, shown in the reader's language."""
    Notification.objects.create(
        username=username, case=about.case, request=about, message=message, params=params
    )


def notification_english(notification: Notification) -> str:
    """A notification as the JSON API gives it: in English, its fields filled."""
    if not notification.params:
        return notification.message
    return notification.message % notification.params


def notification_text(notification: Notification) -> str:
    """A notification in the active language (one written before issue #19, as it is)."""
    return in_words(notification.message, notification.params)


def unread_notifications(user: Any) -> int:
    """How many of the signed-in account's notifications are unread (0 before sign-in)."""
    if not policy.is_verified(user):
        return 0
    return Notification.objects.filter(username=user.get_username(), read_at__isnull=True).count()


def enqueue(request: DataRequest, delay: dt.timedelta | None = None) -> None:
    """Make sure a job will advance ``request``. Coalesces: one waiting job per request."""
    run_after = timezone.now() + (delay or dt.timedelta())
    try:
        with transaction.atomic():
            AnalysisJob.objects.create(request=request, run_after=run_after)
    except IntegrityError:  # one is already waiting: it will see everything there is
        pass


def create_request(
    user: Any,
    case: Case,
    kinds: Iterable[str],
    justification: str,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    widen_reason: str = "",
    ip: str = "",
) -> DataRequest:
    """Register a request for ``case``'s data. The caller has found ``case`` through
    ``policy.find(user, "request.create", ...)``; this checks again."""
    decision = policy.decide(user, "request.create", case, ip=ip, purpose=justification)
    if not decision.allowed:
        raise PermissionError(decision.reason)
    if not reasons.is_meaningful(justification):
        problem = gettext_noop(
            "a justification is required: it must say why, in words (at least %(n)d letters "
            "or digits)"
        )
        raise RequestError(problem, n=reasons.MIN_WEIGHT)
    chosen = _check_kinds(kinds)
    *window, widened_far = _check_window(case, start, end, widen_reason)
    needs_approval = bool(LOCATION_KINDS.intersection(chosen)) or widened_far
    now = timezone.now()
    assignment = policy.assignment_of(user)
    with transaction.atomic():
        # The case's row lock: two identical requests at once queue here; the second
        # then finds the first and is refused. NO KEY: rows that refer to the case (the
        # notes of concurrent audit entries) are not held up by it, so no deadlock.
        Case.objects.select_for_update(no_key=True).values_list("pk", flat=True).get(pk=case.pk)
        _refuse_duplicate(case, chosen, window[0], window[1])
        request = DataRequest.objects.create(
            case=case,
            kinds=chosen,
            start=window[0],
            end=window[1],
            justification=justification.strip(),
            legal_basis=legal_basis(chosen),
            widen_reason=widen_reason.strip(),
            needs_approval=needs_approval,
            status=Status.AWAITING_APPROVAL if needs_approval else Status.IN_PROGRESS,
            requested_by=user.get_username(),
            requested_role=assignment.role if assignment else "",
            deadline=now + _request_deadline(),
        )
        request.request_id = f"R{request.pk:05d}"
        request.save(update_fields=["request_id"])
        _audit(user, "request.submit", request, ip, kinds=chosen, widened=bool(widen_reason))
        if not needs_approval:
            enqueue(request)
    return request


def _audit(user: Any, action: str, request: DataRequest, ip: str, **detail: object) -> None:
    assignment = policy.assignment_of(user)
    record(
        user.get_username(),
        action,
        role=assignment.role if assignment else "",
        object_type="datarequest",
        object_id=request.audit_name,
        detail={"case": request.case.case_id, **({"ip": ip} if ip else {}), **detail},
    )


def decide_request(
    user: Any, request: DataRequest, *, approve: bool, reason: str = "", ip: str = ""
) -> DataRequest:
    """A police approver's decision. Never the requester's own; a refusal needs a reason."""
    decision = policy.decide(user, "request.approve", request, ip=ip, purpose=reason)
    if not decision.allowed:
        raise PermissionError(decision.reason)
    if user.get_username() == request.requested_by:
        raise NotYourDecision(gettext_noop("the approver cannot be the requester"))
    if not approve and not reasons.is_meaningful(reason):
        problem = gettext_noop(
            "a refusal needs a reason: it must say why, in words (at least %(n)d letters or digits)"
        )
        raise RequestError(problem, n=reasons.MIN_WEIGHT)
    with transaction.atomic():
        locked = DataRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != Status.AWAITING_APPROVAL:
            problem = gettext_noop("%(request)s is %(status)s, not awaiting approval")
            raise AlreadyDecided(problem, request=str(locked), status=str(locked.status))
        locked.status = Status.IN_PROGRESS if approve else Status.REFUSED
        locked.decided_by = user.get_username()
        locked.decided_at = timezone.now()
        locked.decision_reason = reason.strip()
        locked.save()
        _audit(user, "request.approve" if approve else "request.refuse", locked, ip)
        if approve:
            message = gettext_noop("%(request)s for %(case)s was approved")
        else:
            message = gettext_noop("%(request)s for %(case)s was refused")
        notify(locked.requested_by, message, locked, request=str(locked), case=str(locked.case))
        if approve:
            enqueue(locked)
    return locked


def requesting_organisation(request: DataRequest) -> str:
    """Who asks, as the approver reads it: the national agency (KDCA) for a national
    investigator, the region's authority for a regional one (whose requests concern the
    cases of its own region only)."""
    if request.requested_role == Role.REGIONAL_INVESTIGATOR:
        return _("%(region)s (regional epidemiological investigation)") % {
            "region": request.case.region.name
        }
    if request.requested_role == Role.NATIONAL_INVESTIGATOR:
        return _("Korea Disease Control and Prevention Agency")
    return request.requested_role


def legal_basis_labels(request: DataRequest) -> list[str]:
    """The provisions the request is made under, in the active language."""
    return [_(LEGAL_BASES[code]) if code in LEGAL_BASES else code for code in request.legal_basis]


def tasks_seen_by(user: Any, request: DataRequest) -> list[AgencyTask]:
    """The request's tasks ``user`` may see: a provider operator only its own agency's (which
    other agencies were asked, and what they sent, tells who else holds the person's data)."""
    tasks = request.tasks.select_related("agency").order_by("round", "agency__code")
    assignment = policy.assignment_of(user)
    if assignment is not None and Role(assignment.role) == Role.PROVIDER_OPERATOR:
        tasks = tasks.filter(agency=assignment.agency)
    return list(tasks)


def cancel_open_tasks(request: DataRequest) -> None:
    request.tasks.filter(status=TaskStatus.READY).update(status=TaskStatus.CANCELLED)


def is_overdue(request: DataRequest, now: dt.datetime | None = None) -> bool:
    open_statuses = (Status.AWAITING_APPROVAL, Status.IN_PROGRESS)
    return request.status in open_statuses and (now or timezone.now()) > request.deadline


def open_jobs(request: DataRequest) -> int:
    return request.jobs.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).count()
