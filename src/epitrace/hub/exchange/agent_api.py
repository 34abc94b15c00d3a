"""The endpoints an agency's agent calls, with its bearer token (no session, no CSRF).

An agent sees only its own agency's ready tasks, and may answer or decline only
those: any other task number gets the same 404 as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from epitrace.hub.accounts.models import Agency
from epitrace.hub.audit.chain import record
from epitrace.hub.exchange.answers import (
    UploadRefused,
    fingerprints_of,
    limits,
    questions_of,
    receive_answer,
    refuse_task,
)
from epitrace.hub.exchange.credentials import agency_of_token
from epitrace.hub.exchange.models import AgencyProfile, AgencyTask, TaskStatus
from epitrace.hub.security import client_ip

View = Callable[..., JsonResponse]
STORE_KINDS = ("carrier", "card_issuer", "card_association", "entry_operator", "gps")


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def agent_only(view: View) -> View:
    """Resolve the token to its agency, or answer 401 (unknown or revoked credential)."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        agency = agency_of_token(_bearer(request))
        if agency is None:
            return JsonResponse({"error": "unknown or revoked agent credential"}, status=401)
        return view(request, agency, *args, **kwargs)

    return csrf_exempt(wrapped)


def _actor(agency: Agency) -> str:
    return f"agent:{agency.code}"


def _refuse_hello(request: HttpRequest, agency: Agency, status: int, error: str) -> JsonResponse:
    detail = {"ip": client_ip(request), "allowed": False, "status": status, "reason": error}
    record(_actor(agency), "agent.hello", role="agent", detail=detail)
    return JsonResponse({"error": error}, status=status)


@agent_only
@require_POST
def hello(request: HttpRequest, agency: Agency) -> JsonResponse:
    """The agent introduces its store: its period and the tables it holds (no data).
    Its name, kind and tables were set when the agency was provisioned: a hello that
    claims another name or kind, or a table beyond them, is refused and changes nothing."""
    try:
        body = json.loads(request.body or b"{}")
        store = body["store"]
        named, kind = str(store["agency"]), str(store["kind"])
        tables = store.get("tables")
        if tables is not None and not (
            isinstance(tables, list) and all(isinstance(t, str) for t in tables)
        ):
            raise TypeError("tables")
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "send {agency, store: the store's manifest}"}, status=400)
    if body.get("agency") != agency.code:
        return _refuse_hello(request, agency, 403, "this credential belongs to another agency")
    if kind not in STORE_KINDS:
        return JsonResponse({"error": f"unknown store kind {kind!r}"}, status=400)
    profile = AgencyProfile.objects.filter(agency=agency).first()
    if profile is None:
        return _refuse_hello(
            request, agency, 409, "this agency is not provisioned yet: an administrator sets it up"
        )
    if (named, kind) != (profile.store_agency, profile.kind):
        return _refuse_hello(
            request,
            agency,
            403,
            f"this agency is provisioned as {profile.kind} {profile.store_agency!r}; "
            "a hello cannot change its name or kind",
        )
    beyond = sorted(set(tables or ()) - set(profile.provisioned_tables()))
    if beyond:
        return _refuse_hello(
            request, agency, 403, f"tables beyond what this agency was provisioned for: {beyond}"
        )
    manifest = {k: store[k] for k in ("tables", "first_date", "last_date", "policy") if k in store}
    profile.manifest, profile.last_seen = manifest, timezone.now()
    profile.save(update_fields=["manifest", "last_seen"])
    record(_actor(agency), "agent.hello", role="agent", detail={"ip": client_ip(request)})
    return JsonResponse({"agency": agency.code, "name": agency.name})


def _task_json(task: AgencyTask) -> dict[str, Any]:
    request = task.request
    return {
        "id": task.pk,
        "request": request.request_id,
        "case": request.case.case_id,
        "round": task.round,
        "requested_by": request.requested_by,
        "approved_by": request.decided_by or None,
        "justification": request.justification,
        "deadline": task.deadline.isoformat(),
        "questions": questions_of(task),
        "fingerprints": fingerprints_of(task),
    }


@agent_only
@require_GET
def tasks(request: HttpRequest, agency: Agency) -> JsonResponse:
    """The agency's tasks waiting for an answer (each hand-over is audited)."""
    ready = (
        AgencyTask.objects.select_related("request", "request__case")
        .filter(agency=agency, status=TaskStatus.READY)
        .order_by("id")[:50]
    )
    listed = [_task_json(task) for task in ready]
    # Seen recently enough: a write per poll would only contend for the database.
    now = timezone.now()
    AgencyProfile.objects.filter(agency=agency, last_seen__lt=now - dt.timedelta(minutes=1)).update(
        last_seen=now
    )
    for task in listed:
        record(
            _actor(agency),
            "request.deliver",
            role="agent",
            object_type="agencytask",
            object_id=str(task["id"]),
            detail={"request": task["request"], "questions": len(task["questions"])},
        )
    return JsonResponse({"agency": agency.code, "tasks": listed})


def _own_task(agency: Agency, task_id: int) -> AgencyTask | None:
    return (
        AgencyTask.objects.select_related("request", "request__case", "agency")
        .filter(pk=task_id, agency=agency)
        .first()
    )


def _not_yours(agency: Agency, task_id: int, request: HttpRequest) -> JsonResponse:
    record(
        _actor(agency),
        "request.answer",
        role="agent",
        object_type="agencytask",
        object_id=str(task_id),
        detail={"allowed": False, "status": 404, "ip": client_ip(request)},
    )
    return JsonResponse({"error": f"no task {task_id} for {agency.code}"}, status=404)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The body, read from the stream (Django's in-memory cap is for forms), or None
    past ``limit`` — refused without reading the rest."""
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while chunk := request.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@agent_only
@require_http_methods(["PUT"])
def answer(request: HttpRequest, agency: Agency, task_id: int) -> JsonResponse:
    task = _own_task(agency, task_id)
    if task is None:
        return _not_yours(agency, task_id, request)
    blob = _read_body(request, limits().max_file_bytes)
    if blob is None:
        return JsonResponse({"error": "answer file too large"}, status=413)
    try:
        receipt = receive_answer(
            task, blob, request.headers.get("X-Answer-SHA256", ""), _actor(agency)
        )
    except UploadRefused as refused:
        return JsonResponse({"error": refused.reason}, status=refused.status)
    status = "received" if receipt.status == 201 else "already received"
    return JsonResponse(
        {"status": status, "sha256": receipt.sha256, "rows": receipt.rows}, status=receipt.status
    )


@agent_only
@require_POST
def decline(request: HttpRequest, agency: Agency, task_id: int) -> JsonResponse:
    task = _own_task(agency, task_id)
    if task is None:
        return _not_yours(agency, task_id, request)
    try:
        reason = str(json.loads(request.body or b"{}").get("reason", "")).strip()
    except (ValueError, AttributeError):
        reason = ""
    if not reason:
        return JsonResponse({"error": "give the reason for declining"}, status=400)
    try:
        with transaction.atomic():
            refuse_task(task, reason, _actor(agency))
    except UploadRefused as refused:
        return JsonResponse({"error": refused.reason}, status=refused.status)
    return JsonResponse({"status": "declined"})
