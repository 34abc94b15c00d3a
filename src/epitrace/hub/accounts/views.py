"""JSON endpoints of accounts and jurisdictions. Each asks the policy first."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from epitrace.hub import policy
from epitrace.hub.accounts.models import Agency, Region, Role, RoleAssignment, RoleChange
from epitrace.hub.accounts.roles import RoleError, assign_role, revoke_role
from epitrace.hub.api import BadRequest, bad_request, body_of, field, refusal
from epitrace.hub.audit.chain import record
from epitrace.hub.security import client_ip

User = get_user_model()


def _decide(request: HttpRequest, action: str, obj: Any = None) -> policy.Decision:
    return policy.decide(request.user, action, obj, ip=client_ip(request))


@require_GET
def whoami(request: HttpRequest) -> JsonResponse:
    decision = _decide(request, "account.whoami")
    if not decision.allowed:
        return refusal(decision)
    assignment = policy.assignment_of(request.user)
    return JsonResponse({"username": request.user.get_username(), **_role_of(assignment)})


def _role_of(assignment: RoleAssignment | None) -> dict[str, str | None]:
    if assignment is None:
        return {"role": None, "region": None, "agency": None}
    return {
        "role": assignment.role,
        "region": assignment.region.code if assignment.region else None,
        "agency": assignment.agency.code if assignment.agency else None,
    }


# Regions: the pattern every object in a jurisdiction follows (cases reuse it).


def _region_json(region: Region) -> dict[str, str]:
    return {"code": region.code, "name": region.name}


@require_GET
def region_list(request: HttpRequest) -> JsonResponse:
    decision = _decide(request, "region.view")
    if not decision.allowed:
        return refusal(decision)
    regions = policy.visible(request.user, "region.view", Region.objects.all())
    return JsonResponse({"regions": [_region_json(r) for r in regions]})


@require_GET
def region_detail(request: HttpRequest, code: str) -> JsonResponse:
    decision, region = policy.find(
        request.user, "region.view", Region.objects.all(), ip=client_ip(request), code=code
    )
    if not decision.allowed:
        return refusal(decision)
    return JsonResponse(_region_json(region))


# Users and roles: administrators only.


def _user_json(user: Any) -> dict[str, Any]:
    assignment = RoleAssignment.objects.select_related("region", "agency").filter(user=user).first()
    return {"username": user.get_username(), "active": user.is_active, **_role_of(assignment)}


def _place(model: type[Region] | type[Agency], code: str) -> Region | Agency | None:
    if not code:
        return None
    place = model.objects.filter(code=code).first()
    if place is None:
        raise BadRequest(f"no {model._meta.verbose_name} {code!r}")
    return place


def _assign_from(request: HttpRequest, user: Any, data: dict[str, Any]) -> None:
    try:
        assign_role(
            user,
            Role(field(data, "role")),
            by=request.user.get_username(),
            reason=field(data, "reason"),
            region=_place(Region, field(data, "region", required=False)),
            agency=_place(Agency, field(data, "agency", required=False)),
        )
    except (ValueError, RoleError) as error:  # Role("nonsense") raises ValueError
        raise BadRequest(str(error)) from error


@require_http_methods(["GET", "POST"])
def user_list(request: HttpRequest) -> JsonResponse:
    decision = _decide(request, "user.manage")
    if not decision.allowed:
        return refusal(decision)
    if request.method == "GET":
        users = User.objects.order_by("username")
        return JsonResponse({"users": [_user_json(u) for u in users]})
    try:
        return _create_user(request, body_of(request))
    except BadRequest as error:
        return bad_request(error)


def _create_user(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    username, password = field(data, "username"), field(data, "password")
    if User.objects.filter(username=username).exists():
        raise BadRequest("that username is taken")
    user = User(username=username, email=field(data, "email", required=False))
    try:
        validate_password(password, user)
    except ValidationError as error:
        return JsonResponse({"error": "password refused", "reasons": error.messages}, status=400)
    with transaction.atomic():
        user.set_password(password)
        user.save()
        _assign_from(request, user, data)
    return JsonResponse(_user_json(user), status=201)


def _managed_user(request: HttpRequest, username: str) -> tuple[policy.Decision, Any]:
    return policy.find(
        request.user, "user.manage", User.objects.all(), ip=client_ip(request), username=username
    )


@require_POST
def user_role(request: HttpRequest, username: str) -> JsonResponse:
    """Grant or change the role: {"role", "region"?, "agency"?, "reason"}."""
    decision, user = _managed_user(request, username)
    if not decision.allowed:
        return refusal(decision)
    try:
        with transaction.atomic():
            _assign_from(request, user, body_of(request))
    except BadRequest as error:
        return bad_request(error)
    return JsonResponse(_user_json(user))


@require_POST
def user_revoke(request: HttpRequest, username: str) -> JsonResponse:
    """Take the role away: {"reason"}."""
    decision, user = _managed_user(request, username)
    if not decision.allowed:
        return refusal(decision)
    try:
        reason = field(body_of(request), "reason")
        revoke_role(user, by=request.user.get_username(), reason=reason)
    except (BadRequest, RoleError) as error:
        return bad_request(error)
    return JsonResponse(_user_json(user))


@require_POST
def user_unlock(request: HttpRequest, username: str) -> JsonResponse:
    """Lift a lockout (after 5 failed logins). Works for unknown usernames too: they lock alike."""
    decision = _decide(request, "user.manage")
    if not decision.allowed:
        return refusal(decision)
    cleared = axes_reset(username=username)
    record(
        request.user.get_username(),
        "account.unlock",
        role=Role.ADMINISTRATOR,
        object_type="user",
        object_id=username,
        detail={"ip": client_ip(request), "failed_attempts_cleared": cleared},
    )
    return JsonResponse({"username": username, "unlocked": True})


@require_GET
def role_history(request: HttpRequest, username: str) -> JsonResponse:
    """Every grant, change and revocation for one username, oldest first."""
    decision = _decide(request, "role_history.read")
    if not decision.allowed:
        return refusal(decision)
    changes = RoleChange.objects.filter(username=username)
    fields = ["kind", "changed_by", "reason", "role_before", "role_after"]
    fields += ["region_before", "region_after", "agency_before", "agency_after"]
    return JsonResponse(
        {
            "username": username,
            "changes": [
                {"at": c.at.isoformat(), **{name: getattr(c, name) for name in fields}}
                for c in changes
            ],
        }
    )
