"""The JSON API of accounts: signing in, who am I, jurisdictions, users and roles.

- ``GET /api/csrf``; ``POST /api/login`` {"username", "password"} -> {"second_factor":
  "verify" | "enrol"}; ``GET/POST /api/otp/enrol``; ``POST /api/otp/verify``;
  ``POST /api/otp/recovery-codes``; ``POST /api/logout`` (the steps: accounts/login.py).
- ``GET /api/whoami``, ``GET /api/regions``, ``GET /api/regions/<code>``.
- ``GET/POST /api/users``, ``POST /api/users/<name>/role|revoke|unlock|password-reset|
  second-factor-reset``, ``GET /api/users/<name>/role-history``, ``GET /api/role-grants``,
  ``POST /api/role-grants/<id>/approve|refuse``: administrators (and auditors for the
  history).

Every endpoint but the sign-in steps asks the policy first (``access.api``). The
administrator's steps are accounts/management.py's, which the pages (accounts/views.py)
call too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth import login as django_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import match_token

from epitrace.hub import access, policy
from epitrace.hub.accounts import management
from epitrace.hub.accounts.login import (
    address_refusal,
    check_password,
    has_confirmed_totp,
    new_recovery_codes,
    qr_data_uri,
    record_own_step,
    second_factor_failed,
    unconfirmed_device,
    verified,
)
from epitrace.hub.accounts.models import Region, RoleAssignment, RoleChange, RoleGrant
from epitrace.hub.accounts.passwords import change_password
from epitrace.hub.accounts.roles import (
    AccountProblem,
    FourEyesError,
    RoleError,
    approve_grant,
    refuse_grant,
)
from epitrace.hub.api import BadRequest, bad_request, body_of, field
from epitrace.hub.security import client_ip

INVALID_LOGIN = {"error": "invalid username or password"}

# --- signing in ----------------------------------------------------------------


@require_GET
def csrf(request: HttpRequest) -> JsonResponse:
    """The CSRF token for API clients (the cookie itself is HttpOnly)."""
    return JsonResponse({"csrf_token": get_token(request)})


@require_POST
def login(request: HttpRequest) -> JsonResponse:
    try:
        data = body_of(request)
        username, password = field(data, "username"), field(data, "password")
    except BadRequest as error:
        return bad_request(error)
    refusal = address_refusal(request)
    if refusal is not None:
        return refusal
    user = check_password(request, username, password)
    if user is None:
        # Wrong password, unknown or disabled account: one answer (lockout answered by axes).
        return JsonResponse(INVALID_LOGIN, status=401)
    django_login(request, user)
    return JsonResponse({"second_factor": "verify" if has_confirmed_totp(user) else "enrol"})


def _password_step_done(request: HttpRequest) -> bool:
    return request.user.is_authenticated


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> JsonResponse:
    """First sign-in only: an account that already has a TOTP device cannot add another here."""
    if not _password_step_done(request):
        return JsonResponse({"error": "sign in with your password first"}, status=401)
    if has_confirmed_totp(request.user):
        return JsonResponse({"error": "a second factor is already enrolled"}, status=403)
    device = unconfirmed_device(request.user)
    if request.method == "GET":
        uri = device.config_url
        return JsonResponse({"otpauth_uri": uri, "qr_code": qr_data_uri(uri)})
    try:
        token = field(body_of(request), "token")
    except BadRequest as error:
        return bad_request(error)
    if not device.verify_token(token):
        return JsonResponse({"error": "invalid code"}, status=401)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = new_recovery_codes(request.user)
    verified(request, device, "login.enrolled")
    return JsonResponse({"recovery_codes": codes})


@require_POST
def verify(request: HttpRequest) -> JsonResponse:
    """The second factor: a TOTP code, or one of the recovery codes."""
    if not _password_step_done(request):
        return JsonResponse({"error": "sign in with your password first"}, status=401)
    try:
        token = field(body_of(request), "token")
    except BadRequest as error:
        return bad_request(error)
    device = match_token(request.user, token)
    if device is None:
        second_factor_failed(request)
        return JsonResponse({"error": "invalid code"}, status=401)
    verified(request, device, "login.verified")
    return JsonResponse({"verified": True})


@require_POST
def recovery_codes(request: HttpRequest) -> JsonResponse:
    """New recovery codes (the old ones stop working); needs a fully signed-in session."""
    if not policy.is_verified(request.user):
        return JsonResponse({"error": "second factor required"}, status=401)
    codes = new_recovery_codes(request.user)
    record_own_step(request, "login.recovery_codes_renewed")
    return JsonResponse({"recovery_codes": codes})


@require_POST
def sign_out(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse({"signed_out": True})


# --- the account, jurisdictions, users and roles ----------------------------------

User = get_user_model()


@require_GET
@access.api("account.whoami")
def whoami(request: HttpRequest) -> JsonResponse:
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


def _region_json(region: Region) -> dict[str, str | None]:
    return {
        "code": region.code,
        "name": region.name,
        "name_en": region.name_en,
        "level": region.level,
        "sido": region.sido.code if region.sido else None,
    }


@require_GET
@access.api("region.view")
def region_list(request: HttpRequest) -> JsonResponse:
    regions = policy.visible(request.user, "region.view", Region.objects.select_related("sido"))
    return JsonResponse({"regions": [_region_json(r) for r in regions]})


@require_GET
@access.api()
def region_detail(request: HttpRequest, code: str) -> JsonResponse:
    region = access.find(request, "region.view", Region.objects.all(), code=code)
    return JsonResponse(_region_json(region))


# Users and roles: administrators only.


def _user_json(user: Any) -> dict[str, Any]:
    assignment = RoleAssignment.objects.select_related("region", "agency").filter(user=user).first()
    return {"username": user.get_username(), "active": user.is_active, **_role_of(assignment)}


def _grant_json(grant: RoleGrant) -> dict[str, Any]:
    return {
        "id": grant.pk,
        "username": grant.user.get_username(),
        "role": grant.role,
        "region": grant.region.code if grant.region else None,
        "agency": grant.agency.code if grant.agency else None,
        "reason": grant.reason,
        "requested_by": grant.requested_by,
        "requested_at": grant.requested_at.isoformat(),
        "status": grant.status,
        "decided_by": grant.decided_by or None,
    }


def _refused(error: Exception) -> JsonResponse:
    return JsonResponse({"error": str(error)}, status=403)


def _answer_problem(error: AccountProblem) -> JsonResponse:
    """A refused step: 403 when it is not this administrator's to take, else 400."""
    return _refused(error) if isinstance(error, PermissionError) else bad_request(error)


@require_http_methods(["GET", "POST"])
@access.api("user.manage")
def user_list(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        users = User.objects.order_by("username")
        return JsonResponse({"users": [_user_json(u) for u in users]})
    try:
        return _create_user(request, body_of(request))
    except BadRequest as error:
        return bad_request(error)


def _create_user(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    """A new account with a one-time password the hub generates and shows only here; a
    role, if asked, takes effect at once or awaits a second administrator."""
    if "password" in data:
        raise BadRequest("the hub generates the first password; its owner sets their own")
    try:
        created = management.create_account(
            field(data, "username"),
            by=request.user.get_username(),
            email=field(data, "email", required=False),
            role=field(data, "role", required=False),
            reason=field(data, "reason", required=bool(data.get("role"))),
            region=field(data, "region", required=False),
            agency=field(data, "agency", required=False),
        )
    except AccountProblem as error:
        return _answer_problem(error)
    answer = {
        **_user_json(created.user),
        "one_time_password": created.one_time_password,
        "must_change_password": True,
    }
    if created.grant is not None:
        answer["grant"] = _grant_json(created.grant)
    return JsonResponse(answer, status=201)


def _managed_user(request: HttpRequest, username: str) -> Any:
    return access.find(request, "user.manage", User.objects.all(), username=username)


@require_POST
@access.api()
def user_role(request: HttpRequest, username: str) -> JsonResponse:
    """Grant or change the role: {"role", "region"?, "agency"?, "reason"}. A role that
    sees personal data is only asked for (202): a second administrator approves it."""
    user = _managed_user(request, username)
    try:
        data = body_of(request)
        with transaction.atomic():
            grant = management.ask_role(
                user,
                field(data, "role"),
                by=request.user.get_username(),
                reason=field(data, "reason"),
                region=field(data, "region", required=False),
                agency=field(data, "agency", required=False),
            )
    except BadRequest as error:
        return bad_request(error)
    except AccountProblem as error:
        return _answer_problem(error)
    if grant is not None:
        return JsonResponse({**_user_json(user), "grant": _grant_json(grant)}, status=202)
    return JsonResponse(_user_json(user))


@require_POST
@access.api()
def user_revoke(request: HttpRequest, username: str) -> JsonResponse:
    """Take the role away: {"reason"}. At once (it only ever lowers access); never one's own."""
    user = _managed_user(request, username)
    try:
        reason = field(body_of(request), "reason")
        management.revoke(user, by=request.user.get_username(), reason=reason)
    except BadRequest as error:
        return bad_request(error)
    except AccountProblem as error:
        return _answer_problem(error)
    return JsonResponse(_user_json(user))


@require_GET
@access.api("user.manage")
def grant_list(request: HttpRequest) -> JsonResponse:
    """Grants awaiting a second administrator (?status=approved|refused for the others)."""
    status = request.GET.get("status") or RoleGrant.Status.PENDING
    grants = RoleGrant.objects.filter(status=status).select_related("user", "region", "agency")
    return JsonResponse({"grants": [_grant_json(g) for g in grants]})


def _grant(request: HttpRequest, pk: int) -> RoleGrant:
    return access.find(request, "user.manage", RoleGrant.objects.select_related("user"), pk=pk)


def _decide_grant(
    request: HttpRequest, pk: int, decide: Callable[[RoleGrant], object]
) -> JsonResponse:
    """Approve or refuse the grant ``pk`` through ``decide``; the grant as it now stands."""
    grant = _grant(request, pk)
    try:
        decide(grant)
    except FourEyesError as error:
        return _refused(error)
    except BadRequest as error:
        return bad_request(error)
    except RoleError as error:
        return JsonResponse({"error": str(error)}, status=409)
    grant.refresh_from_db()
    return JsonResponse(_grant_json(grant))


@require_POST
@access.api()
def grant_approve(request: HttpRequest, pk: int) -> JsonResponse:
    """A second administrator puts the grant in effect (not its asker, not its holder)."""
    return _decide_grant(
        request, pk, lambda grant: approve_grant(grant, by=request.user.get_username())
    )


@require_POST
@access.api()
def grant_refuse(request: HttpRequest, pk: int) -> JsonResponse:
    """Turn the grant down: {"reason"}."""
    return _decide_grant(
        request,
        pk,
        lambda grant: refuse_grant(
            grant, by=request.user.get_username(), reason=field(body_of(request), "reason")
        ),
    )


@require_POST
@access.api()
def user_password_reset(request: HttpRequest, username: str) -> JsonResponse:
    """A new one-time password for someone who lost theirs, shown once; the old one is
    never read. Never one's own (owners change theirs)."""
    user = _managed_user(request, username)
    try:
        password = management.reset_password(user, by=request.user.get_username())
    except AccountProblem as error:
        return _answer_problem(error)
    return JsonResponse(
        {"username": username, "one_time_password": password, "must_change_password": True}
    )


@require_POST
@access.api("account.password")
def own_password(request: HttpRequest) -> JsonResponse:
    """The owner changes their password: {"current", "new"} (Django's validators)."""
    try:
        data = body_of(request)
        current, new = field(data, "current"), field(data, "new")
    except BadRequest as error:
        return bad_request(error)
    try:
        change_password(request.user, current, new)
    except ValidationError as error:
        return JsonResponse({"error": "password refused", "reasons": error.messages}, status=400)
    update_session_auth_hash(request, request.user)  # stays signed in, other sessions end
    return JsonResponse({"username": request.user.get_username(), "changed": True})


@require_POST
@access.api("user.manage")
def user_unlock(request: HttpRequest, username: str) -> JsonResponse:
    """Lift a lockout (after 5 failed logins). Works for unknown usernames too: they lock alike."""
    management.unlock(username, by=request.user.get_username(), ip=client_ip(request))
    return JsonResponse({"username": username, "unlocked": True})


@require_POST
@access.api()
def user_second_factor_reset(request: HttpRequest, username: str) -> JsonResponse:
    """Remove the account's authenticator and recovery codes (lost both): it enrols again
    at its next sign-in. Never one's own."""
    user = _managed_user(request, username)
    try:
        removed = management.reset_second_factor(user, by=request.user.get_username())
    except AccountProblem as error:
        return _answer_problem(error)
    return JsonResponse({"username": username, "devices_removed": removed, "must_enrol": True})


@require_GET
@access.api("role_history.read")
def role_history(request: HttpRequest, username: str) -> JsonResponse:
    """Every grant, change and revocation for one username, oldest first."""
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
