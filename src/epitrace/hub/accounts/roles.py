"""Granting, changing and revoking roles: every change is kept twice, in the role
history (RoleChange, append-only) and in the sealed audit chain."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from epitrace.errors import EpitraceError
from epitrace.hub.accounts.models import Agency, Region, Role, RoleAssignment, RoleChange
from epitrace.hub.audit.chain import record


class RoleError(EpitraceError, ValueError):
    """A role that cannot be held as asked (e.g. a regional investigator without a region)."""


def _binding_is_valid(role: Role, region: Region | None, agency: Agency | None) -> None:
    if (role == Role.REGIONAL_INVESTIGATOR) != (region is not None):
        raise RoleError("a regional investigator, and only one, is bound to a region")
    if (role == Role.PROVIDER_OPERATOR) != (agency is not None):
        raise RoleError("a provider operator, and only one, is bound to an agency")


def current_assignment(user: AbstractBaseUser) -> RoleAssignment | None:
    return RoleAssignment.objects.select_related("region", "agency").filter(user=user).first()


def _code(place: Region | Agency | None) -> str:
    return place.code if place is not None else ""


def _keep(
    user: AbstractBaseUser,
    by: str,
    kind: RoleChange.Kind,
    before: RoleAssignment | None,
    after: RoleAssignment | None,
    reason: str,
) -> RoleChange:
    change = RoleChange.objects.create(
        at=timezone.now(),
        username=user.get_username(),
        changed_by=by,
        kind=kind,
        role_before=before.role if before else "",
        role_after=after.role if after else "",
        region_before=_code(before.region) if before else "",
        region_after=_code(after.region) if after else "",
        agency_before=_code(before.agency) if before else "",
        agency_after=_code(after.agency) if after else "",
        reason=reason,
    )
    record(
        by,
        f"role.{kind}",
        object_type="user",
        object_id=user.get_username(),
        detail={
            "role_before": change.role_before,
            "role_after": change.role_after,
            "region_before": change.region_before,
            "region_after": change.region_after,
            "agency_before": change.agency_before,
            "agency_after": change.agency_after,
            "reason": reason,
            "role_change": change.pk,
        },
    )
    return change


def assign_role(
    user: AbstractBaseUser,
    role: Role | str,
    *,
    by: str,
    reason: str,
    region: Region | None = None,
    agency: Agency | None = None,
) -> RoleChange:
    """Give ``user`` this role (a grant if it had none, else a change)."""
    role = Role(role)
    _binding_is_valid(role, region, agency)
    if not reason.strip():
        raise RoleError("a role change needs a reason")
    with transaction.atomic():
        # update_or_create fetches its own row, so ``before`` keeps the old values.
        before = current_assignment(user)
        after, _ = RoleAssignment.objects.update_or_create(
            user=user,
            defaults={
                "role": role,
                "region": region,
                "agency": agency,
                "granted_at": timezone.now(),
                "granted_by": by,
            },
        )
        kind = RoleChange.Kind.CHANGE if before else RoleChange.Kind.GRANT
        return _keep(user, by, kind, before, after, reason)


def revoke_role(user: AbstractBaseUser, *, by: str, reason: str) -> RoleChange | None:
    """Take the role away; the account keeps its login but may do nothing but whoami."""
    if not reason.strip():
        raise RoleError("a role change needs a reason")
    with transaction.atomic():
        before = current_assignment(user)
        if before is None:
            return None
        change = _keep(user, by, RoleChange.Kind.REVOKE, before, None, reason)
        before.delete()
        return change
