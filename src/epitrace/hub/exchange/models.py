"""Data requests, the agencies' tasks that answer them, agents' credentials, jobs.

A ``DataRequest`` is what an investigator asks about one case: which kinds of data,
for which window, why. Location data waits for a police approver's decision. The
hub then asks the agencies in rounds of ``AgencyTask`` (one per agency and round),
each holding the exact questions (``Question``, encrypted under the case's key, like
everything else that names the person). Agents answer from their own stores; the
answer files live encrypted in the case's folder. An ``AnalysisJob`` advances the
request after each answer, and finally stores an ``AnalysisResult``.
"""

from __future__ import annotations

from django.db import models

from epitrace.hub.accounts.models import Agency
from epitrace.hub.cases.models import Case


class Status(models.TextChoices):
    AWAITING_APPROVAL = "awaiting approval"
    REFUSED = "refused"
    IN_PROGRESS = "in progress"
    ANALYSED = "analysed"
    FAILED = "failed"


class DataRequest(models.Model):
    request_id = models.CharField(max_length=16, unique=True, null=True, help_text="R00001")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="requests")
    kinds = models.JSONField(help_text="telecom, cards, transit, checkins, contacts")
    start = models.DateTimeField(help_text="window asked for, UTC")
    end = models.DateTimeField()
    justification = models.TextField()
    legal_basis = models.JSONField(
        default=list, help_text="provisions of law the request is made under"
    )
    widen_reason = models.TextField(blank=True, help_text="why the window is wider")
    needs_approval = models.BooleanField()
    status = models.CharField(max_length=24, choices=Status.choices, db_index=True)
    requested_by = models.CharField(max_length=150)
    requested_role = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    deadline = models.DateTimeField(help_text="when the answers are due")
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True, help_text="why the request failed (no personal data)")

    region_lookup = "case__region"
    agency_lookup = "tasks__agency"  # an agency sees the requests it was asked about

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.request_id or f"request {self.pk}"

    @property
    def audit_name(self) -> str:
        """How the audit log names the request: its number (R00001), as for a case."""
        return self.request_id or str(self.pk)

    @property
    def region_id(self) -> int:
        return self.case.region_id

    @property
    def agency_ids(self) -> set[int]:
        """The agencies asked about this request (what an operator may see of it)."""
        return set(self.tasks.values_list("agency_id", flat=True))


class TaskStatus(models.TextChoices):
    READY = "ready"  # the agency may fetch and answer it
    ANSWERED = "answered"
    REFUSED = "refused"  # the agency declined, with a reason
    CANCELLED = "cancelled"  # the request was refused or failed first


class AgencyTask(models.Model):
    """One round of questions to one agency, answered by one answer file."""

    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="tasks")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="tasks")
    round = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=TaskStatus.choices, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deadline = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_sha256 = models.CharField(max_length=64, blank=True)
    answer_bytes = models.BigIntegerField(null=True, blank=True)
    answer_rows = models.BigIntegerField(null=True, blank=True)
    refusal = models.TextField(blank=True)

    region_lookup = "request__case__region"

    class Meta:
        ordering = ["request_id", "round", "agency_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "round", "agency"], name="one_task_per_agency_and_round"
            )
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.agency_id}, round {self.round})"

    @property
    def region_id(self) -> int:
        return self.request.case.region_id


class Question(models.Model):
    """One exact question of a task. The JSON names the person: encrypted per case."""

    task = models.ForeignKey(AgencyTask, on_delete=models.CASCADE, related_name="questions")
    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=32)
    asked_enc = models.BinaryField()
    agency_fingerprint = models.CharField(
        max_length=100, help_text="agency code + fingerprint: unique within a request"
    )

    class Meta:
        ordering = ["task_id", "position"]
        constraints = [
            # The same question is never asked twice in a request, even by two jobs at once.
            models.UniqueConstraint(
                fields=["request", "agency_fingerprint"], name="one_question_per_request"
            )
        ]


class AgencyProfile(models.Model):
    """What the hub knows of an agency's store: its name there, kind and period.

    The name, kind and tables are set when an administrator provisions the agency
    (exchange/provisioning.py); the agent's hello may describe its store within them
    (``manifest``: its period, the tables it holds), never change or widen them."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="profile")
    store_agency = models.CharField(max_length=100, help_text="the agency's name in its store")
    kind = models.CharField(max_length=32, help_text="carrier, card_issuer, card_association, ...")
    tables = models.JSONField(
        default=list, blank=True, help_text="tables it may be asked about; empty: its kind's"
    )
    manifest = models.JSONField(default=dict, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    def provisioned_tables(self) -> list[str]:
        from epitrace.hub.exchange.routing import KIND_TABLES

        return sorted(self.tables or KIND_TABLES.get(self.kind, ()))


class AgentCredential(models.Model):
    """An agent's bearer token, stored only as its SHA-256 (the token is 256 random bits)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="credentials")
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    issued_by = models.CharField(max_length=150)
    issued_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DurableJob(models.Model):
    """What the job runner (exchange/jobs.py) needs of a job: its status and its lease.

    A worker claims a job by a conditional UPDATE that sets a fresh lease token; only
    the holder of the current token may finish it, in the same transaction as its
    result. A worker that dies leaves its lease to expire and the job is claimed again;
    a worker that outlives its lease finds its token gone and its work rolled back. So
    a job is never lost, and its result is never stored twice.
    """

    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    run_after = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="what the job did (no personal data)")

    class Meta:
        abstract = True


class AnalysisJob(DurableJob):
    """Advance a request: ask the next round, or analyse what came in. Durable."""

    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="jobs")

    class Meta:
        ordering = ["id"]
        constraints = [
            # At most one job waiting per request: answers arriving together coalesce.
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(status="queued"),
                name="one_queued_job_per_request",
            )
        ]


class HotspotScan(DurableJob):
    """The hotspot page's scan over a set of cases' analyses: a job of the runner, and its
    cached result. ``signature`` names the cases and the analyses scanned, so a new
    analysis (or a case gone) makes a new scan; the result is sealed under the hub's key
    (it holds where cases stayed) and forgotten when any analysis or case is destroyed."""

    signature = models.CharField(max_length=64, unique=True)
    cases = models.JSONField(help_text="the cases' primary keys, in the page's order")
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent done")
    result_enc = models.BinaryField(blank=True, default=b"")

    class Meta:
        ordering = ["-finished_at", "-id"]


class AnalysisResult(models.Model):
    """The path, stays, interview comparison and contacts of a case, encrypted."""

    request = models.OneToOneField(DataRequest, on_delete=models.CASCADE, related_name="result")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="results")
    computed_at = models.DateTimeField()
    stays = models.PositiveIntegerField()
    contacts = models.PositiveIntegerField(null=True, blank=True)
    provenance = models.JSONField(help_text="each answer used: agency, task, sha256, rows")
    bundle_enc = models.BinaryField(help_text="zip of the outputs, under the case's key")

    class Meta:
        ordering = ["-computed_at"]


class Notification(models.Model):
    username = models.CharField(max_length=150, db_index=True)
    case = models.ForeignKey(Case, null=True, on_delete=models.CASCADE)
    request = models.ForeignKey(DataRequest, null=True, on_delete=models.CASCADE)
    # A message of the catalogue (exchange/workflow.py), its %(name)s fields in ``params``,
    # shown in the reader's language; before issue #19, English text without params.
    message = models.CharField(max_length=300, help_text="no personal data: numbers and statuses")
    params = models.JSONField(
        blank=True, default=dict, help_text="the fields of a catalogue message"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class InterviewRecord(models.Model):
    """The places a patient named in the interview (``interview_visits``), encrypted."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="interview")
    uploaded_by = models.CharField(max_length=150)
    uploaded_at = models.DateTimeField(auto_now=True)
    rows = models.PositiveIntegerField()
    table_enc = models.BinaryField(help_text="Parquet of interview_visits, under the case's key")
