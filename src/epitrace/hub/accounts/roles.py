"""Granting, changing and revoking roles: every change is kept twice, in the role
history (RoleChange, append-only) and in the sealed audit chain.

Through the hub (its API and pages), a role that sees personal data, or administers
the hub, is granted in two steps by two administrators (four eyes): ``request_role``
asks, ``approve_grant`` by another administrator — neither the one who asked nor the
account concerned — puts it in effect. Nobody changes their own role. ``assign_role``
itself is the host-side path (the demo's and the tests' accounts, the first
administrators): whoever runs it already holds the hub's keys.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.errors import EpitraceError
from epitrace.hub.accounts.models import (
    Agency,
    Region,
    Role,
    RoleAssignment,
    RoleChange,
    RoleGrant,
)
from epitrace.hub.audit.chain import record


class AccountProblem(EpitraceError):
    """An administrator's step on an account refused, and why: a message of the catalogue
    (with %(name)s fields) that the JSON API answers in English (``str``) and the pages in
    the reader's language (``translated``)."""

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(problem % params if params else problem)
        self.problem, self.params = problem, params

    def translated(self) -> str:
        """The message in the active language; a field that is one of the hub's words (a
        grant's status) translated too."""
        if not self.params:
            return _(self.problem)
        words = {k: _(v) if isinstance(v, str) and v else v for k, v in self.params.items()}
        return _(self.problem) % words


class RoleError(AccountProblem, ValueError):
    """A role that cannot be held as asked (e.g. a regional investigator without a region)."""


class FourEyesError(AccountProblem, PermissionError):
    """A role change the asking administrator may not make (their own role, or approving
    a grant they asked for or would hold)."""


NEEDS_REASON = gettext_noop("a role change needs a reason")
NOT_OWN_ROLE = gettext_noop("nobody changes their own role")
ALREADY_DECIDED = gettext_noop("this grant was already %(status)s")

# Roles that see personal data (cases, requests and their subjects, results), and the
# administrator (who approves grants: a second administrator under one person's control
# would make the four eyes two). Granting one needs a second administrator's approval.
FOUR_EYES_ROLES = frozenset(
    {
        Role.NATIONAL_INVESTIGATOR,
        Role.REGIONAL_INVESTIGATOR,
        Role.POLICE_APPROVER,
        Role.PROVIDER_OPERATOR,
        Role.ADMINISTRATOR,
    }
)


# The roles' labels (accounts/models.py, Role) as the catalogue knows them: translated
# where they are shown, through role_label.
ROLE_LABELS = (
    gettext_noop("National investigator"),
    gettext_noop("Regional investigator"),
    gettext_noop("Police approver"),
    gettext_noop("Provider operator"),
    gettext_noop("Auditor"),
    gettext_noop("Administrator"),
)


def role_label(code: str) -> str:
    """A role's label in the active language (``police_approver`` -> 경찰 승인 담당자);
    an unknown code (an agent's ``agent``, a past role) as it is, empty as empty."""
    if code == "agent":  # a provider's agent, recorded under its agency
        return _("provider agent")
    try:
        return _(Role(code).label)
    except ValueError:
        return code


def _binding_is_valid(role: Role, region: Region | None, agency: Agency | None) -> None:
    if (role == Role.REGIONAL_INVESTIGATOR) != (region is not None):
        raise RoleError(gettext_noop("a regional investigator, and only one, is bound to a region"))
    if (role == Role.PROVIDER_OPERATOR) != (agency is not None):
        raise RoleError(gettext_noop("a provider operator, and only one, is bound to an agency"))


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
    _has_reason(reason)
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
    _has_reason(reason)
    with transaction.atomic():
        before = current_assignment(user)
        if before is None:
            return None
        change = _keep(user, by, RoleChange.Kind.REVOKE, before, None, reason)
        before.delete()
        return change


def _has_reason(reason: str) -> None:
    if not reason.strip():
        raise RoleError(NEEDS_REASON)


def _not_own(user: AbstractBaseUser, by: str) -> None:
    if user.get_username() == by:
        raise FourEyesError(NOT_OWN_ROLE)


def request_role(
    user: AbstractBaseUser,
    role: Role | str,
    *,
    by: str,
    reason: str,
    region: Region | None = None,
    agency: Agency | None = None,
) -> RoleGrant | RoleChange:
    """An administrator's grant or change: at once for a role that sees no personal data
    (a RoleChange), else a pending RoleGrant that another administrator must approve."""
    role = Role(role)
    _not_own(user, by)
    _binding_is_valid(role, region, agency)
    _has_reason(reason)
    if role not in FOUR_EYES_ROLES:
        return assign_role(user, role, by=by, reason=reason, region=region, agency=agency)
    with transaction.atomic():
        grant = RoleGrant.objects.create(
            user=user,
            role=role,
            region=region,
            agency=agency,
            reason=reason,
            requested_by=by,
            requested_at=timezone.now(),
        )
        record(
            by,
            "role.request",
            object_type="user",
            object_id=user.get_username(),
            detail={
                "role": role,
                "region": _code(region),
                "agency": _code(agency),
                "reason": reason,
                "grant": grant.pk,
            },
        )
    return grant


def approve_grant(grant: RoleGrant, *, by: str) -> RoleChange:
    """Put a pending grant in effect: ``by`` is a second administrator."""
    with transaction.atomic():
        grant = RoleGrant.objects.select_for_update().select_related("user").get(pk=grant.pk)
        if grant.status != RoleGrant.Status.PENDING:
            raise RoleError(ALREADY_DECIDED, status=grant.status)
        if by == grant.requested_by:
            raise FourEyesError(
                gettext_noop("a grant is approved by another administrator than its asker")
            )
        _not_own(grant.user, by)
        grant.status, grant.decided_by, grant.decided_at = (
            RoleGrant.Status.APPROVED,
            by,
            timezone.now(),
        )
        grant.save()
        record(
            by,
            "role.approve",
            object_type="user",
            object_id=grant.user.get_username(),
            detail={"grant": grant.pk, "role": grant.role, "requested_by": grant.requested_by},
        )
        return assign_role(
            grant.user,
            grant.role,
            by=by,
            reason=f"{grant.reason} (asked by {grant.requested_by}, approved by {by})",
            region=grant.region,
            agency=grant.agency,
        )


def refuse_grant(grant: RoleGrant, *, by: str, reason: str) -> RoleGrant:
    """Turn a pending grant down (or withdraw one's own request)."""
    if not reason.strip():
        raise RoleError(gettext_noop("a refusal needs a reason"))
    with transaction.atomic():
        grant = RoleGrant.objects.select_for_update().select_related("user").get(pk=grant.pk)
        if grant.status != RoleGrant.Status.PENDING:
            raise RoleError(ALREADY_DECIDED, status=grant.status)
        grant.status, grant.decided_by, grant.decided_at = (
            RoleGrant.Status.REFUSED,
            by,
            timezone.now(),
        )
        grant.save()
        record(
            by,
            "role.refuse",
            object_type="user",
            object_id=grant.user.get_username(),
            detail={"grant": grant.pk, "role": grant.role, "reason": reason},
        )
    return grant
