"""One step of a request: ask the next round of questions, or analyse what came in.

``plan_step`` reads (answers, case, interview) and computes; it writes nothing.
``commit_step`` writes its outcome — new tasks, or the stored result — and is run
by the job runner in the same transaction that finishes the job, so a step whose
job lost its lease leaves no trace and the step is simply taken again.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from epitrace.analysis.contacts import ContactParams, infectious_window
from epitrace.analysis.trajectory import TrajectoryParams
from epitrace.hub.audit.chain import record
from epitrace.hub.cases.records import decrypt_for_case, encrypt_for_case, identifiers_of
from epitrace.hub.exchange.answers import asked_fingerprints, load_answers, open_tasks
from epitrace.hub.exchange.models import (
    AgencyProfile,
    AgencyTask,
    AnalysisResult,
    DataRequest,
    Question,
    Status,
    TaskStatus,
)
from epitrace.hub.exchange.results import CaseAnalysis, seal_bundle
from epitrace.hub.exchange.routing import Asked, RemoteSource, StoreProfile
from epitrace.hub.exchange.workflow import local_zone, notify
from epitrace.providers.network import Subject
from epitrace.workflows.investigation import investigate


def question_label(request_pk: int) -> str:
    return f"question:{request_pk}"


def interview_label() -> str:
    return "interview"


@dataclass
class Step:
    """What one pass over a request found."""

    outcome: str  # for the job's record: counts and statuses, never personal data
    asked: Asked = field(default_factory=Asked)
    analysis: CaseAnalysis | None = None
    provenance: list[dict[str, Any]] = field(default_factory=list)
    contacts: int | None = None


def _within_provisioning(profile: AgencyProfile) -> dict[str, Any]:
    """The store as its agent described it, narrowed to the tables it was provisioned for."""
    manifest = dict(profile.manifest or {})
    allowed = profile.provisioned_tables()
    described = manifest.get("tables")
    listed = described if isinstance(described, dict | list) else allowed
    manifest["tables"] = [t for t in listed if t in allowed]
    return manifest


def store_profiles() -> list[StoreProfile]:
    return [
        StoreProfile(p.agency.code, p.store_agency, p.kind, _within_provisioning(p))
        for p in AgencyProfile.objects.select_related("agency").order_by("agency__code")
    ]


def subject_of(request: DataRequest) -> Subject:
    ids = identifiers_of(request.case)
    return Subject(
        person_ref=ids.person_ref,
        phones=tuple(ids.phones),
        start=request.start,
        end=request.end,
        kinds=frozenset(request.kinds),
    )


def interview_of(request: DataRequest) -> pa.Table | None:
    stored = getattr(request.case, "interview", None)
    if stored is None:
        return None
    blob = decrypt_for_case(request.case, interview_label(), bytes(stored.table_enc))
    return pq.read_table(io.BytesIO(blob))


def _unanswered(asked: Asked, already: set[str]) -> Asked:
    """Questions never asked before (those asked and still open are just waited for)."""
    fresh = Asked()
    for agency, questions in asked.by_agency.items():
        for name, body in questions.items():
            if f"{agency}:{name}" not in already:
                fresh.add(agency, body, name)
    return fresh


def contact_window(request: DataRequest, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The contact search's window: the case's infectious window (``tz`` its local
    days) within the request's window."""
    case = request.case
    start, end = infectious_window(
        case.confirmation_date, case.onset_date, tz, ContactParams().days_before
    )
    return max(start, request.start), min(end, request.end)


def plan_step(request: DataRequest) -> Step:
    """Take ``request`` one step further, without writing anything."""
    answers, provenance = load_answers(request)
    source = RemoteSource(store_profiles(), answers)
    tz = str(local_zone())
    window = contact_window(request, tz) if "contacts" in request.kinds else None
    found = investigate(
        source,
        subject_of(request),
        tz=tz,
        interview=interview_of(request),
        contact_window=(lambda _: (window, "the case's infectious window")) if window else None,
        params=TrajectoryParams(),
    )
    if found.waiting_at is not None:
        return _waiting(request, source.asked, asked_fingerprints(request), found.waiting_at)
    trajectory = found.trajectory
    assert trajectory is not None
    contacts = found.contacts.contacts.table if found.contacts is not None else None
    analysis = CaseAnalysis(
        case_id=request.case.case_id or "",
        computed_at=timezone.now(),
        timezone=tz,
        window=(request.start, request.end),
        stays=trajectory.stays,
        path=trajectory.geojson(tz),
        comparison=found.comparison,
        contacts=contacts,
        provenance=provenance,
        notes=tuple(trajectory.notes),
        request_id=request.request_id or "",
    )
    stays = trajectory.stays.num_rows
    outcome = f"analysed: {stays} stays" + (
        f", {contacts.num_rows} contacts" if contacts is not None else ""
    )
    return Step(outcome, analysis=analysis, provenance=provenance, contacts=_rows(contacts))


def _rows(data: pa.Table | None) -> int | None:
    return None if data is None else data.num_rows


def _waiting(request: DataRequest, asked: Asked, already: set[str], stage: str) -> Step:
    fresh = _unanswered(asked, already)
    if fresh:
        return Step(
            f"{stage}: {fresh.count()} new questions to {len(fresh.by_agency)} agencies",
            asked=fresh,
        )
    return Step(f"{stage}: waiting for {open_tasks(request)} open tasks")


def _task_deadline() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=settings.EPITRACE_TASK_DEADLINE_HOURS)


def _ask_round(request: DataRequest, asked: Asked) -> None:
    last = request.tasks.order_by("-round").values_list("round", flat=True).first() or 0
    profiles = {p.agency.code: p.agency for p in AgencyProfile.objects.select_related("agency")}
    for code, questions in sorted(asked.by_agency.items()):
        task = AgencyTask.objects.create(
            request=request,
            agency=profiles[code],
            round=last + 1,
            status=TaskStatus.READY,
            deadline=_task_deadline(),
        )
        Question.objects.bulk_create(
            Question(
                task=task,
                request=request,
                position=position,
                fingerprint=name,
                method=body["method"],
                agency_fingerprint=f"{code}:{name}",
                asked_enc=encrypt_for_case(
                    request.case, question_label(request.pk), json.dumps(body).encode()
                ),
            )
            for position, (name, body) in enumerate(questions.items())
        )
        record(
            "system",
            "request.route",
            object_type="agencytask",
            object_id=str(task.pk),
            detail={
                "request": request.request_id,
                "agency": code,
                "round": task.round,
                "questions": len(questions),
                "methods": sorted({b["method"] for b in questions.values()}),
            },
        )


def _store_result(request: DataRequest, step: Step) -> None:
    assert step.analysis is not None
    AnalysisResult.objects.create(
        request=request,
        case=request.case,
        computed_at=step.analysis.computed_at,
        stays=step.analysis.stays.num_rows,
        contacts=step.contacts,
        provenance=step.provenance,
        bundle_enc=seal_bundle(request.case, request.pk, step.analysis),
    )
    request.status = Status.ANALYSED
    request.completed_at = timezone.now()
    request.save(update_fields=["status", "completed_at"])
    record(
        "system",
        "request.analysed",
        object_type="datarequest",
        object_id=request.audit_name,
        detail={
            "case": request.case.case_id,
            "stays": step.analysis.stays.num_rows,
            "contacts": step.contacts,
            "answers": [p.get("sha256") or "declined" for p in step.provenance],
        },
    )
    notify(
        request.requested_by,
        gettext_noop("%(request)s: the path of %(case)s is ready (%(stays)d stays)"),
        request,
        request=str(request),
        case=str(request.case),
        stays=step.analysis.stays.num_rows,
    )


def commit_step(request: DataRequest, step: Step) -> None:
    """Write what ``plan_step`` found (inside the job's transaction)."""
    if step.asked:
        _ask_round(request, step.asked)
    elif step.analysis is not None:
        _store_result(request, step)
