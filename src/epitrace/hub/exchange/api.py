"""The JSON API of the exchange: data requests, decisions, results and notifications.

- ``POST /api/cases/<case_id>/requests``: ask for a case's data (investigators).
- ``GET /api/requests``, ``GET /api/requests/<request_id>``: status, with tasks per agency.
- ``POST /api/requests/<request_id>/decision``: approve or refuse (police approvers).
- ``GET /api/cases/<case_id>/analysis?purpose=...``: the stays, path and contacts.
- ``POST /api/cases/<case_id>/interview``: the places the patient named (CSV).
- ``GET /api/notifications``: the signed-in account's notifications.

Every endpoint asks the policy; every decision on personal data is audited. The agents'
endpoints (bearer tokens) are in exchange/agent_api.py, the HTML pages in exchange/views.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from epitrace.hub import access, crypto, policy, reasons
from epitrace.hub.api import BadRequest, bad_request, body_of, field
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange import results
from epitrace.hub.exchange.interviews import InterviewProblems, attach_interview
from epitrace.hub.exchange.models import AgencyTask, DataRequest, Notification
from epitrace.hub.exchange.workflow import (
    AlreadyDecided,
    DuplicateRequest,
    RequestError,
    create_request,
    decide_request,
    default_window,
    is_overdue,
    notification_english,
    tasks_seen_by,
)
from epitrace.hub.security import client_ip

LIST_LIMIT = 500


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def request_json(request: DataRequest, *, tasks: list[AgencyTask] | None = None) -> dict[str, Any]:
    """A request as its requester and approver see it: statuses, never the person; with
    ``tasks``, those given (``workflow.tasks_seen_by``: an operator's agency's only)."""
    data: dict[str, Any] = {
        "request_id": request.request_id,
        "case_id": request.case.case_id,
        "kinds": request.kinds,
        "start": _iso(request.start),
        "end": _iso(request.end),
        "justification": request.justification,
        "widen_reason": request.widen_reason,
        "needs_approval": request.needs_approval,
        "status": request.status,
        "overdue": is_overdue(request),
        "requested_by": request.requested_by,
        "created_at": _iso(request.created_at),
        "deadline": _iso(request.deadline),
        "decided_by": request.decided_by or None,
        "decided_at": _iso(request.decided_at),
        "decision_reason": request.decision_reason,
        "completed_at": _iso(request.completed_at),
    }
    if tasks is not None:
        data["tasks"] = [
            {
                "id": t.pk,
                "agency": t.agency.code,
                "round": t.round,
                "status": t.status,
                "questions": t.questions.count(),
                "deadline": _iso(t.deadline),
                "answered_at": _iso(t.answered_at),
                "rows": t.answer_rows,
                "sha256": t.answer_sha256 or None,
            }
            for t in tasks
        ]
    return data


def _requests() -> QuerySet:
    return DataRequest.objects.select_related("case", "case__region")


def _when(data: dict[str, Any], name: str) -> dt.datetime | None:
    text = field(data, name, required=False)
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise BadRequest(f"{name} must be an ISO 8601 timestamp with a UTC offset") from error
    if value.tzinfo is None:
        raise BadRequest(f"{name} needs a UTC offset")
    return value


@require_POST
@access.api()
def case_requests(request: HttpRequest, case_id: str) -> JsonResponse:
    ip = client_ip(request)
    try:
        data = body_of(request)
        justification = field(data, "justification")
        kinds = data.get("kinds")
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise BadRequest("kinds must be a list of strings")
        start, end = _when(data, "start"), _when(data, "end")
        widen = field(data, "widen_reason", required=False)
    except BadRequest as error:
        return bad_request(error)
    case = access.find(
        request, "case.view", Case.objects.all(), purpose=justification, case_id=case_id
    )
    try:
        created = create_request(
            request.user,
            case,
            kinds,
            justification,
            start=start,
            end=end,
            widen_reason=widen,
            ip=ip,
        )
    except PermissionError as error:
        return JsonResponse({"error": str(error)}, status=403)
    except DuplicateRequest as error:
        existing = error.existing.request_id
        return JsonResponse({"error": str(error), "existing": existing}, status=409)
    except RequestError as error:
        return bad_request(error)
    return JsonResponse(
        request_json(created, tasks=tasks_seen_by(request.user, created)), status=201
    )


@require_GET
@access.api("request.view")
def request_list(request: HttpRequest) -> JsonResponse:
    listed = policy.visible(request.user, "request.view", _requests()).distinct()
    status = request.GET.get("status")
    if status:
        listed = listed.filter(status=status)
    return JsonResponse({"requests": [request_json(r) for r in listed[:LIST_LIMIT]]})


@require_GET
@access.api()
def request_detail(request: HttpRequest, request_id: str) -> JsonResponse:
    found = access.find(request, "request.view", _requests(), request_id=request_id)
    return JsonResponse(request_json(found, tasks=tasks_seen_by(request.user, found)))


@require_POST
@access.api()
def request_decision(request: HttpRequest, request_id: str) -> JsonResponse:
    ip = client_ip(request)
    try:
        data = body_of(request)
    except BadRequest as error:
        return bad_request(error)
    reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
    found = access.find(
        request, "request.approve", _requests(), purpose=reason, request_id=request_id
    )
    approve = data.get("approve")
    if not isinstance(approve, bool):
        return bad_request(BadRequest("approve must be true or false"))
    try:
        decided = decide_request(request.user, found, approve=approve, reason=reason, ip=ip)
    except PermissionError as error:
        return JsonResponse({"error": str(error)}, status=403)
    except RequestError as error:
        status = 409 if isinstance(error, AlreadyDecided) else 400
        return JsonResponse({"error": str(error)}, status=status)
    return JsonResponse(request_json(decided, tasks=tasks_seen_by(request.user, decided)))


def _table_json(data: Any) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    return [
        {k: (v.isoformat() if isinstance(v, dt.datetime | dt.date) else v) for k, v in row.items()}
        for row in data.to_pylist()
    ]


@require_GET
@access.api()
def case_analysis(request: HttpRequest, case_id: str) -> JsonResponse:
    purpose = request.GET.get("purpose", "").strip()
    if not reasons.is_meaningful(purpose):
        return JsonResponse({"error": f"{reasons.rule('purpose')}: it is required"}, status=400)
    case = access.find(request, "result.view", Case.objects.all(), purpose=purpose, case_id=case_id)
    try:
        analysis = results.latest_analysis(case)
    except crypto.KeyDestroyed:
        return JsonResponse({"error": "this case's data was destroyed"}, status=410)
    if analysis is None:
        return JsonResponse({"error": "no analysis yet"}, status=404)
    return JsonResponse(
        {
            "case_id": analysis.case_id,
            "request_id": analysis.request_id,
            "computed_at": analysis.computed_at.isoformat(),
            "window": [t.isoformat() for t in analysis.window],
            "stays": _table_json(analysis.stays),
            "path": analysis.path,
            "comparison": _table_json(analysis.comparison),
            "contacts": _table_json(analysis.contacts),
            "provenance": analysis.provenance,
        }
    )


@require_POST
@access.api()
def case_interview(request: HttpRequest, case_id: str) -> JsonResponse:
    """Attach the interview's places (an ``interview_visits`` CSV) to a case."""
    case = access.find(request, "request.create", Case.objects.all(), case_id=case_id)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse(
            {"error": "send the interview as a CSV file field named file"}, status=400
        )
    try:
        attached = attach_interview(case, upload.read(), request.user.get_username())
    except InterviewProblems as error:
        return JsonResponse({"error": str(error), "problems": error.problems}, status=422)
    return JsonResponse(
        {"case_id": case.case_id, "rows": attached.rows, "recompared": attached.recompared},
        status=201,
    )


@require_GET
@access.api()
def case_window(request: HttpRequest, case_id: str) -> JsonResponse:
    """The guideline's default window for a new request."""
    case = access.find(request, "request.create", Case.objects.all(), case_id=case_id)
    first, last = default_window(case)
    return JsonResponse({"case_id": case.case_id, "first_day": str(first), "last_day": str(last)})


@require_GET
@access.api("account.whoami")
def notifications(request: HttpRequest) -> JsonResponse:
    mine = Notification.objects.filter(username=request.user.get_username())[:100]
    return JsonResponse(
        {
            "notifications": [
                {
                    "id": n.pk,
                    "message": notification_english(n),
                    "request_id": n.request.request_id if n.request else None,
                    "created_at": n.created_at.isoformat(),
                    "read": n.read_at is not None,
                }
                for n in mine.select_related("request")
            ]
        }
    )


@require_POST
@access.api("account.whoami")
def notifications_read(request: HttpRequest) -> JsonResponse:
    marked = Notification.objects.filter(
        username=request.user.get_username(), read_at__isnull=True
    ).update(read_at=timezone.now())
    return JsonResponse({"read": marked})
