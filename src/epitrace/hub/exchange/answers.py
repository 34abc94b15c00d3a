"""Receiving an agency's answer file, keeping it encrypted, and reading answers back.

An upload is accepted once per task: the file is checked (checksum, size, format,
that it answers exactly the task's questions); then, holding the task's row lock, it
is encrypted under the case's key, written to the case's folder atomically (a
temporary file of its own, fsync, rename) and the task marked answered, in one
transaction with the job that follows. The same file sent again is acknowledged and
changes nothing; different content for an answered task is refused (409), also when
two uploads race: the second waits for the lock and finds the task answered, so the
file on disk is always the one the row's checksum and row count describe.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from epitrace.errors import EpitraceError
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.cases.records import decrypt_for_case, encrypt_for_case
from epitrace.hub.cases.storage import ANSWERS_DIR, case_folder, ensure_case_folder
from epitrace.hub.exchange.models import AgencyTask, DataRequest, Question, TaskStatus
from epitrace.hub.exchange.routing import Answers
from epitrace.hub.exchange.workflow import enqueue
from epitrace.providers.protocol import Limits, ProtocolError, sha256_of, unpack_answers


class UploadRefused(EpitraceError):
    """An answer file the hub will not take; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class AnswersDestroyed(EpitraceError):
    """A request's provider answers passed their retention and were destroyed."""


@dataclass(frozen=True)
class Receipt:
    status: int  # 201 first time, 200 when the same file came again
    sha256: str
    rows: int


def settle() -> dt.timedelta:
    """Answers of one round arrive within an agent's polling interval of each other: the
    job waits this long, so they are taken in one pass instead of one pass each."""
    return dt.timedelta(seconds=settings.EPITRACE_ANSWER_SETTLE_SECONDS)


def limits() -> Limits:
    return Limits(max_file_bytes=settings.EPITRACE_MAX_ANSWER_BYTES)


def answer_path(task: AgencyTask) -> Path:
    return case_folder(task.request.case) / ANSWERS_DIR / f"task-{task.pk}.bin"


def _label(task: AgencyTask) -> str:
    return f"answer:{task.pk}"


def fingerprints_of(task: AgencyTask) -> list[str]:
    return list(task.questions.order_by("position").values_list("fingerprint", flat=True))


def _write_atomically(path: Path, blob: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A name of its own: two writers never share (and rename) one temporary file.
    temporary = path.with_name(f"{path.stem}.{secrets.token_hex(8)}.tmp")
    try:
        with open(temporary, "wb") as sink:
            sink.write(blob)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _check(task: AgencyTask, blob: bytes, claimed_sha256: str) -> tuple[str, int]:
    if len(blob) > limits().max_file_bytes:
        raise UploadRefused(413, f"answer file larger than {limits().max_file_bytes:,} bytes")
    digest = sha256_of(blob)
    if claimed_sha256.lower() != digest:
        raise UploadRefused(400, "checksum mismatch: the file was damaged on the way; send again")
    try:
        answers = unpack_answers(blob, fingerprints_of(task), limits())
    except ProtocolError as error:
        raise UploadRefused(422, f"malformed answer file: {error}") from None
    return digest, sum(t.num_rows for answer in answers for t in answer.values())


def receive_answer(task: AgencyTask, blob: bytes, claimed_sha256: str, agent: str) -> Receipt:
    """Accept ``blob`` as ``task``'s answer (idempotent by checksum)."""
    if task.status == TaskStatus.ANSWERED:
        if task.answer_sha256 == sha256_of(blob):
            return Receipt(200, task.answer_sha256, task.answer_rows or 0)
        raise UploadRefused(409, f"task {task.pk} was already answered with other content")
    if task.status != TaskStatus.READY:
        raise UploadRefused(409, f"task {task.pk} is {task.status}: no answer is expected")
    digest, rows = _check(task, blob, claimed_sha256)
    with transaction.atomic():
        # The row lock first: a concurrent upload waits here, then finds the task answered.
        locked = AgencyTask.objects.select_for_update().get(pk=task.pk)
        if locked.status == TaskStatus.ANSWERED:  # a concurrent upload won the race
            if locked.answer_sha256 == digest:
                return Receipt(200, digest, locked.answer_rows or 0)
            raise UploadRefused(409, f"task {task.pk} was already answered with other content")
        if locked.status != TaskStatus.READY:
            raise UploadRefused(409, f"task {task.pk} is {locked.status}: no answer is expected")
        ensure_case_folder(task.request.case)
        sealed = encrypt_for_case(task.request.case, _label(task), blob)
        _write_atomically(answer_path(task), sealed)
        locked.status = TaskStatus.ANSWERED
        locked.answered_at = timezone.now()
        locked.answer_sha256, locked.answer_bytes, locked.answer_rows = digest, len(blob), rows
        locked.save()
        record(
            agent,
            "request.answer",
            role="agent",
            object_type="agencytask",
            object_id=str(task.pk),
            detail={
                "request": task.request.request_id,
                "case": task.request.case.case_id,
                "sha256": digest,
                "bytes": len(blob),
                "rows": rows,
            },
        )
        enqueue(task.request, delay=settle())
    return Receipt(201, digest, rows)


def refuse_task(task: AgencyTask, reason: str, agent: str) -> None:
    """The agency declines the task (e.g. a question beyond its limits)."""
    with transaction.atomic():
        locked = AgencyTask.objects.select_for_update().get(pk=task.pk)
        if locked.status != TaskStatus.READY:
            raise UploadRefused(409, f"task {task.pk} is {locked.status}")
        locked.status, locked.refusal = TaskStatus.REFUSED, reason[:2000]
        locked.answered_at = timezone.now()
        locked.save()
        record(
            agent,
            "request.decline",
            role="agent",
            object_type="agencytask",
            object_id=str(task.pk),
            detail={
                "request": task.request.request_id,
                **notes.sealed_texts([task.request.case], reason=reason[:500]),
            },
        )
        enqueue(task.request)


def questions_of(task: AgencyTask) -> list[dict[str, Any]]:
    """The task's questions in clear (for its agency's agent only)."""
    case = task.request.case
    return [
        json.loads(decrypt_for_case(case, f"question:{q.request_id}", bytes(q.asked_enc)))
        for q in task.questions.order_by("position")
    ]


def load_answers(request: DataRequest) -> tuple[Answers, list[dict[str, Any]]]:
    """Every answer in for ``request``: {(agency, fingerprint): tables}, and provenance.

    A question an agency declined counts as answered with nothing (noted in provenance).
    """
    answers: Answers = {}
    provenance: list[dict[str, Any]] = []
    tasks = request.tasks.select_related("agency").filter(
        status__in=(TaskStatus.ANSWERED, TaskStatus.REFUSED)
    )
    for task in tasks.order_by("round", "agency__code"):
        names = fingerprints_of(task)
        if task.status == TaskStatus.REFUSED:
            for name in names:
                answers[(task.agency.code, name)] = {}
            provenance.append(_provenance(task, declined=True))
            continue
        path = answer_path(task)
        if not path.exists():
            raise AnswersDestroyed(
                f"{request}: the answer of task {task.pk} was destroyed by retention; "
                "ask for the data again"
            )
        blob = decrypt_for_case(request.case, _label(task), path.read_bytes())
        for name, tables in zip(names, unpack_answers(blob, names, limits()), strict=True):
            answers[(task.agency.code, name)] = tables
        provenance.append(_provenance(task))
    return answers, provenance


def _provenance(task: AgencyTask, declined: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "agency": task.agency.code,
        "task": task.pk,
        "round": task.round,
        "received_at": task.answered_at.isoformat() if task.answered_at else None,
    }
    if declined:
        entry["declined"] = task.refusal
    else:
        entry.update(sha256=task.answer_sha256, rows=task.answer_rows, bytes=task.answer_bytes)
    return entry


def open_tasks(request: DataRequest) -> int:
    return request.tasks.filter(status=TaskStatus.READY).count()


def asked_fingerprints(request: DataRequest) -> set[str]:
    return set(
        Question.objects.filter(request=request).values_list("agency_fingerprint", flat=True)
    )
