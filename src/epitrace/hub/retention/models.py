"""What the purge keeps: the retention settings, its own log, and anonymous aggregates.

Nothing here holds personal data: the purge log names a case by its number and its
random uid (the name of its file folder), the aggregates are counts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# Defaults (days), each counted from the date the target names (for a case's data: its
# confirmation date), and never beyond the emergency's end. Why these numbers:
DEFAULT_DAYS = {
    # Raw answers of carriers, card companies, entry logs: needed to build the path and
    # find contacts, which takes days; 14 days (one incubation period) leaves room for
    # a re-analysis, then only the analysis results stand.
    "raw_results": 14,
    # Paths, stays, contacts: needed while contacts are traced and tested (two
    # incubation periods).
    "analysis_results": 28,
    # Who the case is: kept through isolation, release and follow-up (about 3 months).
    "identifiers": 90,
    # What was disclosed to the public about a case's movements: taken down after one
    # incubation period, as the 2020 disclosure guideline asked.
    "disclosures": 14,
    # Who looked at what: the hub's audit retention (2 years by default, issue 5), not
    # cut short by the emergency's end.
    "audit_log": settings.EPITRACE_AUDIT_RETENTION_DAYS,
}
# An administrator may lengthen the audit log's life, never shorten it.
MINIMUM_AUDIT_LOG_DAYS = settings.EPITRACE_AUDIT_RETENTION_DAYS


class RetentionSettings(models.Model):
    """The single row of retention settings the administrator edits (``settings.manage``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    emergency_end = models.DateField(
        null=True, blank=True, help_text="last day of the emergency; empty while it lasts"
    )
    raw_results_days = models.PositiveIntegerField(default=DEFAULT_DAYS["raw_results"])
    analysis_results_days = models.PositiveIntegerField(default=DEFAULT_DAYS["analysis_results"])
    identifiers_days = models.PositiveIntegerField(default=DEFAULT_DAYS["identifiers"])
    disclosures_days = models.PositiveIntegerField(default=DEFAULT_DAYS["disclosures"])
    audit_log_days = models.PositiveIntegerField(default=DEFAULT_DAYS["audit_log"])
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=150, blank=True)

    @classmethod
    def current(cls) -> RetentionSettings:
        """The settings in force (the defaults until the administrator saves any)."""
        return cls.objects.filter(id=1).first() or cls(id=1)

    def days(self, kind: str) -> int:
        return int(getattr(self, f"{kind}_days"))


class PurgeRecord(models.Model):
    """One destruction, written before it starts and completed step by step: an
    interrupted purge is found here and finished by the next run."""

    target = models.CharField(max_length=64, help_text="the registered target that destroys it")
    kind = models.CharField(max_length=32)
    item = models.CharField(max_length=64, help_text="what the target destroys, e.g. a case uid")
    case_uid = models.UUIDField(null=True, blank=True)
    case_pk = models.BigIntegerField(null=True, blank=True, help_text="the audit log's object id")
    case_number = models.CharField(max_length=16, blank=True)
    count = models.PositiveIntegerField(default=1, help_text="rows this item stands for")
    expires_on = models.DateField()
    rule = models.CharField(max_length=200)
    cutoff = models.DateField(
        null=True, blank=True, help_text="parts of a case: what arrived up to this day goes"
    )
    steps_done = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(help_text="the clock of the run that started it")
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set once the tables the destruction touched were vacuumed (deleted rows linger in
    # free pages until then); a run that could not vacuum leaves it for the next one.
    vacuumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # At most one unfinished destruction per item: two runs at once never both
            # start one (and a case's aggregates are folded once).
            models.UniqueConstraint(
                fields=["target", "item"],
                condition=Q(finished_at__isnull=True),
                name="one_open_purge_per_item",
            )
        ]

    @property
    def done(self) -> bool:
        return self.finished_at is not None


class PurgedCaseCount(models.Model):
    """Purged cases, counted by confirmation date, onset date and region: the statistics
    stay right after the cases are gone (live cases + these counts)."""

    confirmation_date = models.DateField()
    onset_date = models.DateField(null=True, blank=True)
    region_code = models.CharField(max_length=32)
    cases = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["confirmation_date", "region_code"])]
