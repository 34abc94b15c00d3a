"""Who may do what, decided in one place.

Every view, API endpoint and job asks ``decide(user, action, obj)`` and follows the
answer; lists are narrowed with ``visible(user, action, queryset)``. Nothing else in the
hub looks at roles.

- 401: not signed in, or the second factor (TOTP) not yet given.
- 403: the role may never do this (or the account holds no role).
- 404: the role may do this, but the object lies outside the account's jurisdiction;
  answered exactly as for an object that does not exist, so nothing leaks.
- 200: allowed.

Objects in a jurisdiction carry ``region_id`` (a ForeignKey named ``region``) or
``agency_id`` (``agency``): that is all a new app (cases, requests) needs to plug in.
A regional investigator's jurisdiction is a 시군구, holding its own cases, or a 시도,
holding the cases of every 시군구 in it (``Region.covered``).
Every decision about personal data, allowed or not, appends an audit entry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet

from epitrace.hub.accounts.models import Region, Role, RoleAssignment
from epitrace.hub.accounts.passwords import must_change_password
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes


class Scope(enum.Enum):
    EVERYWHERE = "everywhere"
    OWN_REGION = "own region"
    OWN_AGENCY = "own agency"


EVERYWHERE = Scope.EVERYWHERE
INVESTIGATORS = {
    Role.NATIONAL_INVESTIGATOR: EVERYWHERE,
    Role.REGIONAL_INVESTIGATOR: Scope.OWN_REGION,
}

# action -> the roles that may take it, and where. A role absent from a line: 403.
RULES: dict[str, dict[Role, Scope]] = {
    "region.view": INVESTIGATORS,
    "case.list": INVESTIGATORS,
    "case.view": INVESTIGATORS,
    "case.create": INVESTIGATORS,
    "case.search": INVESTIGATORS,
    "result.view": INVESTIGATORS,  # analysis results: never a provider operator
    "result.export": INVESTIGATORS,  # files leave the hub: each with a reason, audited
    # Aggregate counts only; investigators within their jurisdiction, administrators all.
    "dashboard.view": {**INVESTIGATORS, Role.ADMINISTRATOR: EVERYWHERE},
    # Links between cases (chains): both cases within the jurisdiction.
    "link.view": INVESTIGATORS,
    "link.decide": INVESTIGATORS,  # confirm, reject or add a link: each with a reason
    "disclosure.prepare": INVESTIGATORS,
    "disclosure.publish": INVESTIGATORS,
    "request.create": INVESTIGATORS,
    "request.view": {
        **INVESTIGATORS,
        Role.POLICE_APPROVER: EVERYWHERE,
        Role.PROVIDER_OPERATOR: Scope.OWN_AGENCY,
    },
    "request.approve": {Role.POLICE_APPROVER: EVERYWHERE},
    "request.fulfil": {Role.PROVIDER_OPERATOR: Scope.OWN_AGENCY},
    "audit.read": {Role.AUDITOR: EVERYWHERE},
    # Checking the chain's seals from the audit page (as ``epitrace audit verify``).
    "audit.verify": {Role.AUDITOR: EVERYWHERE},
    "role_history.read": {Role.AUDITOR: EVERYWHERE, Role.ADMINISTRATOR: EVERYWHERE},
    "user.manage": {Role.ADMINISTRATOR: EVERYWHERE},
    "settings.manage": {Role.ADMINISTRATOR: EVERYWHERE},
}
# Any signed-in, verified account, with or without a role.
SELF_ACTIONS = {"account.whoami", "account.password"}
# What an account whose password the hub generated may do until its owner changes it.
BEFORE_PASSWORD_CHANGE = {"account.whoami", "account.password"}
# Decisions about these touch personal data (cases, people in requests and results,
# the log of who looked at whom, accounts): each one is recorded.
# (Verifying the chain reads seals, not entries: the page records its outcome itself.)
PERSONAL_DATA_ACTIONS = set(RULES) - {"region.view", "settings.manage", "audit.verify"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # 200, 401, 403 or 404: what an HTTP endpoint answers
    reason: str  # in English, for the JSON API and the audit log
    # A role refused an action: which, so that a page can say it in a person's words.
    role: str = ""
    action: str = ""


ALLOWED = Decision(True, 200, "allowed")
NOT_SIGNED_IN = Decision(False, 401, "sign in with password and second factor")
SECOND_FACTOR_MISSING = Decision(False, 401, "second factor required")
NO_ROLE = Decision(False, 403, "the account holds no role")
PASSWORD_CHANGE_REQUIRED = Decision(False, 403, "change your one-time password first")
NOT_FOUND = Decision(False, 404, "not found")


def is_verified(user: Any) -> bool:
    """Signed in with both factors (django-otp marks the request's user)."""
    verified = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and callable(verified) and verified())


def assignment_of(user: Any) -> RoleAssignment | None:
    """The account's role, read afresh each time: a revocation takes effect at once."""
    if not user.is_authenticated:
        return None
    return RoleAssignment.objects.select_related("region", "agency").filter(user=user).first()


def _within(scope: Scope, assignment: RoleAssignment, obj: Any) -> bool:
    if scope is Scope.OWN_REGION:
        regions = getattr(obj, "region_ids", None)  # an object of several cases: all of them
        if regions is not None:
            return all(assignment.region.covers(region) for region in regions)
        return assignment.region.covers(getattr(obj, "region_id", None))
    if scope is Scope.OWN_AGENCY:
        several = getattr(obj, "agency_ids", None)  # an object that concerns many agencies
        if several is not None:
            return assignment.agency_id in several
        return getattr(obj, "agency_id", None) == assignment.agency_id
    return True


def _judge(user: Any, action: str, obj: Any) -> Decision:
    if not user.is_authenticated:
        return NOT_SIGNED_IN
    if not is_verified(user):
        return SECOND_FACTOR_MISSING
    if action not in BEFORE_PASSWORD_CHANGE and must_change_password(user):
        return PASSWORD_CHANGE_REQUIRED
    if action in SELF_ACTIONS:
        return ALLOWED
    if action not in RULES:
        raise KeyError(f"unknown action {action!r}: add it to policy.RULES")
    assignment = assignment_of(user)
    if assignment is None:
        return NO_ROLE
    scope = RULES[action].get(Role(assignment.role))
    if scope is None:
        reason = f"a {assignment.get_role_display().lower()} may not {action}"
        return Decision(False, 403, reason, role=assignment.role, action=action)
    if obj is not None and not _within(scope, assignment, obj):
        return NOT_FOUND
    return ALLOWED


def audit_name(obj: Any) -> str:
    """The id the audit log gives ``obj``: the number people see where it has one (a
    case's C00003, a request's R00001: ``audit_name``), else its row id; "" for no object."""
    if not isinstance(obj, Model):
        return ""
    return str(getattr(obj, "audit_name", obj.pk))


def _record(user: Any, action: str, obj: Any, decision: Decision, ip: str, purpose: str) -> None:
    assignment = assignment_of(user)
    detail: dict[str, object] = {"allowed": decision.allowed, "status": decision.status}
    if ip:
        detail["ip"] = ip
    if not decision.allowed:
        detail["reason"] = decision.reason
    with transaction.atomic():
        # The purpose is free text: sealed with the case it concerns, referenced here.
        detail.update(notes.sealed_texts([notes.case_of(obj)], purpose=purpose))
        record(
            user.get_username() if user.is_authenticated else "",
            action,
            role=assignment.role if assignment else "",
            object_type=obj._meta.model_name if isinstance(obj, Model) else "",
            object_id=audit_name(obj),
            detail=detail,
        )


def decide(user: Any, action: str, obj: Any = None, *, ip: str = "", purpose: str = "") -> Decision:
    """May ``user`` take ``action`` (on ``obj``)? Recorded when personal data is concerned."""
    decision = _judge(user, action, obj)
    if action in PERSONAL_DATA_ACTIONS:
        _record(user, action, obj, decision, ip, purpose)
    return decision


def find(
    user: Any, action: str, queryset: QuerySet, *, ip: str = "", purpose: str = "", **lookup: Any
) -> tuple[Decision, Any]:
    """Fetch one object for ``action``: (decision, object or None).

    A missing object and one outside the jurisdiction get the same 404 (after the
    same single query), so the answer does not tell them apart.
    """
    obj = queryset.filter(**lookup).first()
    decision = _judge(user, action, obj)
    if decision.allowed and obj is None:
        decision = NOT_FOUND
    if action in PERSONAL_DATA_ACTIONS:
        _record(user, action, obj, decision, ip, purpose)
    return decision, (obj if decision.allowed else None)


def visible(user: Any, action: str, queryset: QuerySet) -> QuerySet:
    """Narrow a list to the account's jurisdiction; empty unless ``action`` is allowed."""
    if not _judge(user, action, None).allowed:
        return queryset.none()
    assignment = assignment_of(user)
    if assignment is None:  # a self action: no objects of anyone's jurisdiction
        return queryset.none()
    scope = RULES[action][Role(assignment.role)]
    if scope is Scope.OWN_REGION:
        lookup = getattr(queryset.model, "region_lookup", "region")
        if assignment.region.level != Region.Level.SIDO:
            return queryset.filter(**{lookup: assignment.region_id})
        # A subquery, not a list: the 시도 and its 시군구.
        return queryset.filter(**{f"{lookup}__in": assignment.region.covered().values("pk")})
    if scope is Scope.OWN_AGENCY:
        lookup = getattr(queryset.model, "agency_lookup", "agency")
        return queryset.filter(**{lookup: assignment.agency_id})
    return queryset


def permits(user: Any, action: str) -> bool:
    """Would ``action`` be allowed at all? For showing links: not recorded, decides nothing."""
    return _judge(user, action, None).allowed
