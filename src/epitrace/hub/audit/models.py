"""Audit entries, sealed in a chain: each entry's seal covers its content and the seal
before it, so an entry altered, removed or moved breaks every seal from there on."""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="1, 2, ... with no gaps")
    at = models.DateTimeField()
    actor = models.CharField(max_length=150, help_text="username; kept if the account goes")
    role = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, help_text="e.g. case.view, request.approve")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # What was done, never the personal data itself (no names, numbers or places).
    detail = models.JSONField(default=dict, blank=True)
    previous_seal = models.CharField(max_length=64)
    seal = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["actor", "at"]), models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


class ChainHead(models.Model):
    """The single row every append locks, so concurrent appends never fork the chain.
    Sealed in turn (``head_seal``, over its number and seal), so it cannot be moved back
    to hide the removal of the last entries without the audit key."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    seal = models.CharField(max_length=64, default="")
    head_seal = models.CharField(max_length=64, default="")


class ChainCheckpoint(models.Model):
    """Where the chain now begins after entries past retention were removed: the last
    removed entry's number and seal, sealed in turn, so the rest still verifies and a
    forged checkpoint (hiding later deletions) does not."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField()
    seal = models.CharField(max_length=64)
    pruned_at = models.DateTimeField()
    checkpoint_seal = models.CharField(max_length=64)
