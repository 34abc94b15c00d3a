"""The durable job runner: claims, leases, retries — in the database, nothing else.

Why not a queue library: the hub's jobs must live in the same database as what they
write, so that finishing a job and storing its result commit together (no broker can
give that), on SQLite and PostgreSQL alike. The runner is small:

- **claim**: a conditional UPDATE moves one due job to ``running`` with a fresh
  lease token and a lease end; two workers can never both win it.
- **finish**: in one transaction, the step's outcome is written and the job marked
  done — only if the job still carries this worker's token. A worker that lost its
  lease (paused, or too slow) has its transaction rolled back: nothing twice.
- **crash**: a worker or server that dies mid-job leaves the job ``running`` with a
  lease that expires; any worker then claims it again. Nothing is lost.
- **failure**: an error puts the job back with exponential backoff; after
  ``MAX_ATTEMPTS`` the request is marked failed and the investigator told.

What runs on a schedule (the purge, disclosure expiry) is handed to ``run_worker`` as
``on_idle`` by its caller (``retention.schedule.housekeeping``): the runner imports no
app above the exchange.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from epitrace.errors import EpitraceError
from epitrace.hub.audit.chain import record
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange import hotspots
from epitrace.hub.exchange.analysis import commit_step, plan_step
from epitrace.hub.exchange.answers import AnswersDestroyed
from epitrace.hub.exchange.models import (
    AnalysisJob,
    DataRequest,
    DurableJob,
    HotspotScan,
    JobStatus,
    Status,
)
from epitrace.hub.exchange.workflow import cancel_open_tasks, notify

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
Job = TypeVar("Job", bound=DurableJob)


class LeaseLost(EpitraceError):
    """This worker no longer holds the job: another one took it over."""


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.EPITRACE_JOB_LEASE_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _due(now: dt.datetime) -> Q:
    return Q(status=JobStatus.QUEUED, run_after__lte=now) | Q(
        status=JobStatus.RUNNING, lease_until__lt=now
    )


def claim(worker: str, model: type[Job] = AnalysisJob) -> Job | None:
    """Take the next due job of ``model`` (queued, or running with an expired lease)."""
    now = timezone.now()
    for job in model.objects.filter(_due(now)).order_by("run_after", "id")[:5]:
        token = secrets.token_hex(16)
        won = (
            model.objects.filter(pk=job.pk, status=job.status, lease_token=job.lease_token)
            .filter(_due(now))
            .update(
                status=JobStatus.RUNNING,
                lease_token=token,
                lease_until=now + lease_length(),
                worker=worker[:100],
                attempts=job.attempts + 1,
            )
        )
        if won:
            job.refresh_from_db()
            return job
    return None


def _hold(job: DurableJob, **changes: object) -> None:
    """Write ``changes`` to the job only while this worker still holds it."""
    held = (
        type(job)
        .objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_token=job.lease_token)
        .update(**changes)
    )
    if not held:
        raise LeaseLost(f"job {job.pk} was taken over by another worker")


def _settle(job: AnalysisJob, request: DataRequest) -> str:
    """One step of ``request``, committed with the job's completion, or not at all."""
    if request.status != Status.IN_PROGRESS:
        outcome = f"nothing to do: {request} is {request.status}"
        _hold(job, status=JobStatus.DONE, finished_at=timezone.now(), outcome=outcome)
        return outcome
    step = plan_step(request)
    with transaction.atomic():
        _hold(job, status=JobStatus.DONE, finished_at=timezone.now(), outcome=step.outcome)
        commit_step(DataRequest.objects.select_for_update().get(pk=request.pk), step)
    return step.outcome


def _give_up(job: AnalysisJob, request: DataRequest, error: Exception) -> None:
    reason = f"{type(error).__name__} after {job.attempts} attempts"
    with transaction.atomic():
        _hold(job, status=JobStatus.FAILED, finished_at=timezone.now(), outcome=reason)
        request.status, request.failure = Status.FAILED, reason
        request.save(update_fields=["status", "failure"])
        cancel_open_tasks(request)
        record(
            "system",
            "request.fail",
            object_type="datarequest",
            object_id=request.audit_name,
            detail={"job": job.pk, "reason": reason},
        )
        message = gettext_noop("%(request)s failed: %(reason)s; ask the hub's operators")
        notify(request.requested_by, message, request, request=str(request), reason=reason)


def _retry_later(job: DurableJob, error: Exception) -> None:
    delay = dt.timedelta(seconds=2 ** min(job.attempts, 8))
    _hold(
        job,
        status=JobStatus.QUEUED,
        run_after=timezone.now() + delay,
        lease_token="",
        lease_until=None,
        outcome=f"attempt {job.attempts} failed: {type(error).__name__}",
    )


def run_job(job: AnalysisJob) -> str:
    """Run a claimed job to its end: done, queued again, or failed."""
    request = DataRequest.objects.select_related("case").get(pk=job.request_id)
    try:
        return _settle(job, request)
    except LeaseLost:
        raise
    except AnswersDestroyed as error:  # no retry can bring them back
        with transaction.atomic():
            _give_up(job, request, error)
        return "failed: answers destroyed by retention"
    except Exception as error:  # any failure of a step: retried, then given up
        # The message may quote data; the log keeps the kind of error only.
        log.warning("job %s failed (%s), attempt %s", job.pk, type(error).__name__, job.attempts)
        try:
            with transaction.atomic():
                if job.attempts >= MAX_ATTEMPTS:
                    _give_up(job, request, error)
                else:
                    _retry_later(job, error)
        except LeaseLost:
            raise
        except Exception:  # a queued sibling blocks the requeue, or the lease is gone
            _hold(job, status=JobStatus.FAILED, finished_at=timezone.now(), outcome="superseded")
        return f"failed: {type(error).__name__}"


def _run_scan(scan: HotspotScan) -> str:
    """Scan the hotspots of ``scan``'s cases; the result is stored with the job's end."""

    def progress(percent: int) -> None:  # also renews the lease: a long scan keeps its job
        _hold(scan, progress=percent, lease_until=timezone.now() + lease_length())

    cases = Case.objects.in_bulk(scan.cases)
    view = hotspots.scan_cases([cases[pk] for pk in scan.cases if pk in cases], progress)
    outcome = f"scanned {len(view.cases_scanned)} cases: {len(view.clusters)} clusters"
    _hold(
        scan,
        status=JobStatus.DONE,
        finished_at=timezone.now(),
        progress=100,
        result_enc=hotspots.seal_view(view),
        outcome=outcome,
    )
    return outcome


def run_scan(scan: HotspotScan) -> str:
    """Run a claimed hotspot scan to its end: done, queued again, or failed."""
    try:
        return _run_scan(scan)
    except LeaseLost:
        raise
    except Exception as error:  # retried with backoff, then given up (the page says so)
        log.warning("scan %s failed (%s), attempt %s", scan.pk, type(error).__name__, scan.attempts)
        if scan.attempts >= MAX_ATTEMPTS:
            reason = f"{type(error).__name__} after {scan.attempts} attempts"
            _hold(scan, status=JobStatus.FAILED, finished_at=timezone.now(), outcome=reason)
        else:
            _retry_later(scan, error)
        return f"failed: {type(error).__name__}"


# Jobs of apps above the exchange (the chains' link refresh), registered by their app at
# start-up: the runner claims and runs them without importing those apps.
Work = Callable[[Any], Callable[[], str]]
_REGISTERED: dict[type[DurableJob], Work] = {}


def register_job(model: type[DurableJob], work: Work) -> None:
    """Run jobs of ``model`` too: ``work(job)`` computes outside any transaction and returns
    ``commit()``, which stores the result and returns the outcome; the runner calls it in
    the transaction that marks the job done (only while it holds the lease), and retries
    with backoff when ``work`` or ``commit`` fails."""
    _REGISTERED[model] = work


def run_registered(job: DurableJob) -> str:
    """Run a claimed job of a registered model to its end: done, queued again, or failed."""
    try:
        commit = _REGISTERED[type(job)](job)
        with transaction.atomic():
            outcome = commit()  # rolled back below if this worker lost the job meanwhile
            _hold(job, status=JobStatus.DONE, finished_at=timezone.now(), outcome=outcome)
        return outcome
    except LeaseLost:
        raise
    except Exception as error:  # retried with backoff, then given up
        kind = type(job).__name__
        log.warning(
            "%s %s failed (%s), attempt %s", kind, job.pk, type(error).__name__, job.attempts
        )
        if job.attempts >= MAX_ATTEMPTS:
            reason = f"{type(error).__name__} after {job.attempts} attempts"
            _hold(job, status=JobStatus.FAILED, finished_at=timezone.now(), outcome=reason)
        else:
            _retry_later(job, error)
        return f"failed: {type(error).__name__}"


def _claim_any(worker: str) -> DurableJob | None:
    # A request's step first: answers waiting to be analysed matter more than a map.
    found = claim(worker) or claim(worker, HotspotScan)
    for model in _REGISTERED:
        found = found or claim(worker, model)
    return found


def run_pending(worker: str | None = None, limit: int = 1000) -> int:
    """Run due jobs until none is left (tests, ``epitrace worker --once``). Returns how many."""
    worker = worker or worker_name()
    done = 0
    while done < limit:
        job = _claim_any(worker)
        if job is None:
            return done
        try:
            if isinstance(job, HotspotScan):
                run_scan(job)
            elif type(job) in _REGISTERED:
                run_registered(job)
            else:
                run_job(job)
        except LeaseLost:
            log.warning("job %s: lease lost, its work was rolled back", job.pk)
        done += 1
    return done


def run_worker(
    stop: threading.Event, poll_seconds: float = 1.0, on_idle: Callable[[], None] | None = None
) -> None:
    """Run jobs until ``stop`` is set (a thread of ``epitrace serve``, or ``epitrace worker``)."""
    worker = worker_name()
    while not stop.is_set():
        close_old_connections()
        try:
            ran = run_pending(worker, limit=20)
        except Exception:  # the database went away: wait and try again
            log.exception("job runner: could not reach the database")
            ran = 0
        if not ran:
            if on_idle is not None:
                on_idle()
            stop.wait(poll_seconds)
    close_old_connections()


def start_worker_thread(
    on_idle: Callable[[], None] | None = None, poll_seconds: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    """Run jobs in a thread of this process; ``on_idle`` is called when none is due (the
    hub's schedule, ``retention.schedule.housekeeping``)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(stop, poll_seconds, on_idle),
        name="epitrace-jobs",
        daemon=True,
    )
    thread.start()
    return thread, stop
