"""A case's public disclosure: the draft an investigator reviews, then publishes.

Nothing here names the patient: entries hold a place (or a ride), a neighbourhood
and a time window. They are still the case's data (together with the case they
say where it went), so they belong to the case and go with it (CASCADE), and the
retention rules take them down ("public disclosures", issue 9).
"""

from __future__ import annotations

from django.db import models

from epitrace.hub.cases.models import Case


class Disclosure(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="disclosure")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    window_start = models.DateTimeField(help_text="2 days before onset (or specimen), UTC")
    window_end = models.DateTimeField(help_text="end of the isolation day, UTC")
    timezone = models.CharField(max_length=64, help_text="the place's zone, for display")
    analysis_computed_at = models.DateTimeField(null=True, blank=True)
    # Stays left out and the rule that did, for the reviewer: [{"seq": 3, "rule": "home..."}].
    exclusions = models.JSONField(default=list, blank=True)
    prepared_by = models.CharField(max_length=150)
    prepared_at = models.DateTimeField()
    published_by = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    region_lookup = "case__region"

    def __str__(self) -> str:
        return f"disclosure of {self.case}"

    @property
    def region_id(self) -> int:
        return self.case.region_id


class DisclosureEntry(models.Model):
    class Category(models.TextChoices):
        PLACE = "place"
        TRANSPORT = "transport"

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="entries")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="disclosure_entries")
    category = models.CharField(max_length=16, choices=Category.choices)
    label = models.CharField(max_length=200, blank=True, help_text="empty: a private place")
    neighbourhood = models.CharField(max_length=100, blank=True, help_text="the dong, no finer")
    region_name = models.CharField(max_length=100)
    lat = models.FloatField(null=True, blank=True, help_text="public places only")
    lon = models.FloatField(null=True, blank=True)
    mode = models.CharField(max_length=16, blank=True)
    line = models.CharField(max_length=100, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True, help_text="14 days after the last exposure")
    stays = models.JSONField(default=list, blank=True, help_text="stay seqs; never public")
    withdrawn_at = models.DateTimeField(null=True, blank=True, db_index=True)
    withdrawn_by = models.CharField(max_length=150, blank=True)
    withdrawn_reason = models.CharField(max_length=300, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    region_lookup = "case__region"

    class Meta:
        ordering = ["category", "neighbourhood", "label", "mode", "start", "id"]

    def __str__(self) -> str:
        return f"{self.category} {self.label or self.neighbourhood} {self.start:%Y-%m-%d %H:%M}"

    @property
    def region_id(self) -> int:
        return self.case.region_id
