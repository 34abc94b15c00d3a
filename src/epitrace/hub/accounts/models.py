"""Jurisdictions (regions, agencies), the role each account holds, and the history of roles.

An account holds at most one role: a person who investigates does not also approve,
audit or administer under the same login (separation of duties).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

# Role history is kept at least this long (issue 5); nothing in the hub deletes it.
ROLE_HISTORY_RETENTION = dt.timedelta(days=3 * 366)


class Region(models.Model):
    """A health jurisdiction: a 시군구, which cases belong to, or a 시도, whose regional
    investigators see the cases of every 시군구 in it (``accounts.regions``).

    ``code`` is the legal-district code (``epitrace.geography``): 5 digits for a 시군구
    (27230), 2 for a 시도 (27); ``name`` its official Korean name (대구광역시 북구).
    A region from before regions were districts whose code could not be mapped keeps
    its code and name and the level OTHER: it covers only itself, as before.
    """

    class Level(models.TextChoices):
        SIDO = "sido", "시도"
        SIGUNGU = "sigungu", "시군구"
        OTHER = "other", "other"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.OTHER)
    # The 시도 a 시군구 lies in; empty for a 시도 and for OTHER.
    sido = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="sigungu"
    )
    # The romanised code the region had before migration 0005 mapped it (e.g. "buk-gu"):
    # audit entries and role history written earlier name it so.
    former_code = models.CharField(max_length=32, blank=True)

    # How querysets of this model are narrowed to one region (see policy.visible).
    region_lookup = "pk"

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def region_id(self) -> int:
        """A region is in its own jurisdiction."""
        return self.pk

    @property
    def name_en(self) -> str:
        """The English second label (e.g. "Buk-gu, Daegu"); the name itself for OTHER."""
        from epitrace.geography import district

        found = district(self.code) if self.level != self.Level.OTHER else None
        return found.english if found is not None else self.name

    @property
    def label(self) -> str:
        """The Korean name with the English one after it: "대구광역시 북구 (Buk-gu, Daegu)"."""
        english = self.name_en
        return self.name if english == self.name else f"{self.name} ({english})"

    def covered(self) -> models.QuerySet[Region]:
        """The regions whose cases this jurisdiction holds: itself, and a 시도's 시군구."""
        return Region.objects.filter(models.Q(pk=self.pk) | models.Q(sido=self.pk))

    def covers(self, region_id: int | None) -> bool:
        """Does this jurisdiction hold the cases of the region ``region_id``?"""
        if region_id is None:
            return False
        if region_id == self.pk:
            return True
        return self.level == self.Level.SIDO and self.covered().filter(pk=region_id).exists()


class Agency(models.Model):
    """A data provider: a carrier, a card company, the credit-finance association."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    NATIONAL_INVESTIGATOR = "national_investigator", "National investigator"
    REGIONAL_INVESTIGATOR = "regional_investigator", "Regional investigator"
    POLICE_APPROVER = "police_approver", "Police approver"
    PROVIDER_OPERATOR = "provider_operator", "Provider operator"
    AUDITOR = "auditor", "Auditor"
    ADMINISTRATOR = "administrator", "Administrator"


class RoleAssignment(models.Model):
    """The role an account holds now. Changed only through accounts.roles (which keeps history)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignment"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT)
    granted_at = models.DateTimeField()
    granted_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            # A regional investigator is bound to exactly one region, a provider
            # operator to exactly one agency, and nobody else to either.
            models.CheckConstraint(
                condition=(
                    models.Q(role=Role.REGIONAL_INVESTIGATOR, region__isnull=False)
                    | (~models.Q(role=Role.REGIONAL_INVESTIGATOR) & models.Q(region__isnull=True))
                ),
                name="region_iff_regional_investigator",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(role=Role.PROVIDER_OPERATOR, agency__isnull=False)
                    | (~models.Q(role=Role.PROVIDER_OPERATOR) & models.Q(agency__isnull=True))
                ),
                name="agency_iff_provider_operator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise PermissionError("role history is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("role history is append-only")


class RoleChange(models.Model):
    """One grant, change or revocation of a role. Append-only; kept >= 3 years.

    Usernames are copied, not linked: the history outlives the accounts it names.
    """

    class Kind(models.TextChoices):
        GRANT = "grant"
        CHANGE = "change"
        REVOKE = "revoke"

    at = models.DateTimeField(db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    changed_by = models.CharField(max_length=150)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    role_before = models.CharField(max_length=32, blank=True)
    role_after = models.CharField(max_length=32, blank=True)
    region_before = models.CharField(max_length=32, blank=True)
    region_after = models.CharField(max_length=32, blank=True)
    agency_before = models.CharField(max_length=32, blank=True)
    agency_after = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=500)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.kind} {self.username} by {self.changed_by}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("role history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("role history is append-only")


class RoleGrant(models.Model):
    """A role one administrator asked for, in effect only once another approves it (four
    eyes): neither the one who asked nor the account that would hold it may approve."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REFUSED = "refused"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT)
    reason = models.CharField(max_length=500)
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} asked by {self.requested_by} ({self.status})"


class TemporaryPassword(models.Model):
    """The account's password was generated by the hub (a new account, or a reset by an
    administrator): until its owner changes it, the account may do nothing else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="temporary_password"
    )
    issued_by = models.CharField(max_length=150)
    issued_at = models.DateTimeField()


class LockoutStreak(models.Model):
    """How many times one username has been locked out from one client address lately:
    each lockout within a day of the last doubles the next cool-off (accounts/lockout.py).
    """

    username = models.CharField(max_length=255)
    ip_address = models.GenericIPAddressField(null=True)
    lockouts = models.PositiveIntegerField(default=0)
    last_lockout = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "ip_address"], name="one_streak_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.lockouts} lockouts of {self.username} from {self.ip_address}"
