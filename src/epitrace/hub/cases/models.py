"""Confirmed cases. Personal identifiers are stored only as ciphertexts.

What the database holds in clear: the case number, the region and the dates (the
analysis needs them and they name nobody on their own). The name, birth date, phone
numbers, identity number, address and the providers' reference to the person are
AES-GCM ciphertexts under the case's own data key (see epitrace.hub.crypto), and the
data key is stored only wrapped by the master key, in ``CaseKey``.
"""

from __future__ import annotations

import uuid

from django.db import models

from epitrace.hub.accounts.models import Region

# The personal fields, each its own ciphertext column ``<name>_enc``.
ENCRYPTED_FIELDS = ("name", "birth_date", "phones", "national_id", "address", "person_ref")


class Case(models.Model):
    # Random and fixed at creation: bound into every ciphertext's associated data and
    # the wrapped key's, so nothing can be moved between cases.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case_id = models.CharField(max_length=16, unique=True, null=True, help_text="C00001, ...")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="cases")
    onset_date = models.DateField(null=True, blank=True, help_text="empty if asymptomatic")
    specimen_date = models.DateField()
    confirmation_date = models.DateField(db_index=True)
    isolation_date = models.DateField()
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.CharField(max_length=150)

    name_enc = models.BinaryField()
    birth_date_enc = models.BinaryField()
    phones_enc = models.BinaryField()
    national_id_enc = models.BinaryField()
    address_enc = models.BinaryField()
    person_ref_enc = models.BinaryField()

    class Meta:
        ordering = ["case_id"]

    def __str__(self) -> str:
        return self.case_id or f"case {self.pk}"

    @property
    def audit_name(self) -> str:
        """How the audit log names the case: its number (C00003), what people see and an
        auditor types; the row id only before a number is given (docs/security.md)."""
        return self.case_id or str(self.pk)


class CaseKey(models.Model):
    """A case's data key, wrapped by the master key. Deleting it shreds the case's data."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="key")
    wrapped = models.BinaryField()
    provider = models.CharField(max_length=64, help_text="the key provider that wrapped it")
    created_at = models.DateTimeField(auto_now_add=True)


class BlindIndex(models.Model):
    """HMAC of a normalised identifier: finds a case by phone or number without decrypting."""

    class Kind(models.TextChoices):
        PHONE = "phone"
        NATIONAL_ID = "national_id"
        PERSON_REF = "person_ref"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="blind_indexes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    digest = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["kind", "digest"])]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind", "digest"], name="one_digest_per_case")
        ]


class CaseNote(models.Model):
    """Free text written about a case — the purpose of a view, a request's justification,
    a reason — sealed under the case's key (cases/notes.py). The audit entry that needs
    it holds only ``ref``, so the chain's seals outlive the text, and the purge that
    destroys the case (its key first, then this row by cascade) destroys the text too."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    ref = models.CharField(max_length=32, db_index=True, help_text="random; named by audit entries")
    text_enc = models.BinaryField()
    written_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "ref"], name="one_note_per_case")]
