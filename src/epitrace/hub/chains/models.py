"""Links between cases: proposed by the link job, decided by investigators, or entered
by hand.

A link is an ordered pair *source -> target* of cases. Both cases' rows cascade: the
purge that destroys either case destroys its links (and the reasons, sealed as
``CaseNote`` rows under the cases' keys). The evidence (where and when the two met) is
where people were: it is sealed under the target case's key (``evidence_enc``), never
stored in clear; the score, the status and the decision's when and who are in clear.
"""

from __future__ import annotations

from django.db import models

from epitrace.hub.cases.models import Case
from epitrace.hub.exchange.models import DurableJob, JobStatus


class LinkStatus(models.TextChoices):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class LinkOrigin(models.TextChoices):
    PROPOSED = "proposed", "proposed from the stays"
    HAND = "hand", "entered by hand"


class ProposedLink(models.Model):
    """One source -> target pair: its evidence, score and the investigators' decision."""

    source = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_in")
    origin = models.CharField(max_length=16, choices=LinkOrigin.choices)
    score = models.FloatField(null=True, blank=True, help_text="0-1; empty for a hand link")
    evidence_enc = models.BinaryField(help_text="JSON evidence, under the target case's key")
    status = models.CharField(
        max_length=16, choices=LinkStatus.choices, default=LinkStatus.PROPOSED, db_index=True
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # {"note": ref}: the reason sealed with both cases (cases/notes.py), never the text.
    reason = models.JSONField(blank=True, default=dict)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="one_link_per_pair"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="link_between_two_cases"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"

    @property
    def audit_name(self) -> str:
        return f"{self.source.audit_name}->{self.target.audit_name}"

    @property
    def region_ids(self) -> tuple[int, int]:
        """Both cases' regions: a regional investigator sees a link only when both are
        in the jurisdiction (policy._within)."""
        return (self.source.region_id, self.target.region_id)


class LinkRefresh(DurableJob):
    """Recompute the proposals from every stored analysis: a job of the runner. At most
    one waits at a time: analyses stored together coalesce into one refresh."""

    scope = models.CharField(max_length=16, default="all")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope"],
                condition=models.Q(status=JobStatus.QUEUED),
                name="one_queued_link_refresh",
            )
        ]
