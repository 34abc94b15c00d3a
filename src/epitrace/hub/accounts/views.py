"""The HTML pages of accounts: signing in (password, then TOTP enrolment or verification),
signing out, changing one's password, the regions, the users and their roles.

The same steps as the JSON API (accounts/api.py), as HTML forms, through the shared
steps of accounts/login.py (signing in) and accounts/management.py (the administrator's);
every page that shows data asks the policy (``access.page``).

- ``/users``: every account and its role, adding one (POST), the roles awaiting a second
  administrator, the sign-ins locked now.
- ``/users/<username>``: one account: change its role or region, revoke it, unlock,
  reset the password (a one-time password shown once) or the second factor; POSTed to
  ``/users/<username>/<step>``.
- ``/role-grants/<id>/approve|refuse``: a second administrator decides a grant.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth import login as django_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import match_token

from epitrace.hub import access, policy
from epitrace.hub.accounts import lockout, management
from epitrace.hub.accounts.login import (
    address_refusal,
    check_password,
    has_confirmed_totp,
    new_recovery_codes,
    qr_data_uri,
    second_factor_failed,
    unconfirmed_device,
    verified,
)
from epitrace.hub.accounts.models import Agency, Region, Role, RoleAssignment, RoleChange, RoleGrant
from epitrace.hub.accounts.passwords import change_password, must_change_password
from epitrace.hub.accounts.roles import (
    FOUR_EYES_ROLES,
    AccountProblem,
    approve_grant,
    current_assignment,
    refuse_grant,
    role_label,
)
from epitrace.hub.security import client_ip


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        refusal = address_refusal(request)
        if refusal is not None:
            return refusal
        user = check_password(
            request, request.POST.get("username", ""), request.POST.get("password", "")
        )
        if user is not None:
            django_login(request, user)
            return HttpResponseRedirect("/verify" if has_confirmed_totp(user) else "/enrol")
        error = _("Invalid username or password.")  # one answer for both, as in the API
    return render(request, "accounts/login.html", {"error": error}, status=401 if error else 200)


@require_http_methods(["GET", "POST"])
def enrol_page(request: HttpRequest) -> HttpResponse:
    """First sign-in: scan the QR code, confirm a code, see the recovery codes once."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login")
    if has_confirmed_totp(request.user):
        return HttpResponseRedirect("/verify")
    device = unconfirmed_device(request.user)
    error = ""
    if request.method == "POST":
        if device.verify_token(request.POST.get("token", "").strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = new_recovery_codes(request.user)
            verified(request, device, "login.enrolled")
            # Shown in this answer only; the hub keeps nothing it could show again.
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
        error = _("That code is not valid; try the next one your app shows.")
    uri = device.config_url
    context = {"qr_code": qr_data_uri(uri), "otpauth_uri": uri, "error": error}
    return render(request, "accounts/enrol.html", context, status=401 if error else 200)


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login")
    if not has_confirmed_totp(request.user):
        return HttpResponseRedirect("/enrol")
    error = ""
    if request.method == "POST":
        device = match_token(request.user, request.POST.get("token", "").strip())
        if device is not None:
            verified(request, device, "login.verified")
            return HttpResponseRedirect("/password" if must_change_password(request.user) else "/")
        second_factor_failed(request)
        error = _("That code is not valid.")
    return render(request, "accounts/verify.html", {"error": error}, status=401 if error else 200)


@require_http_methods(["GET", "POST"])
@access.page("account.password")
def password_page(request: HttpRequest) -> HttpResponse:
    """The owner changes their password; required after a one-time password."""
    reasons: list[str] = []
    changed = False
    if request.method == "POST":
        try:
            change_password(
                request.user, request.POST.get("current", ""), request.POST.get("new", "")
            )
        except ValidationError as error:
            reasons = error.messages
        else:
            update_session_auth_hash(request, request.user)
            changed = True
    context = {
        "required": must_change_password(request.user),
        "changed": changed,
        "reasons": reasons,
    }
    return render(request, "accounts/password.html", context, status=400 if reasons else 200)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/login")


@access.page("region.view")
def regions_page(request: HttpRequest) -> HttpResponse:
    regions = policy.visible(request.user, "region.view", Region.objects.all())
    return render(request, "accounts/regions.html", {"regions": regions})


# --- the administrator's pages: accounts and roles ---------------------------------

# What the account page says after a step (``?done=``); the step itself is audited.
DONE = {
    "created": gettext_noop("The account was added."),
    "changed": gettext_noop("The role was changed."),
    "asked": gettext_noop(
        "The role was asked for: it takes effect once another administrator approves it."
    ),
    "revoked": gettext_noop("The role was revoked."),
    "unlocked": gettext_noop("The sign-in was unlocked."),
    "second-factor-reset": gettext_noop(
        "The authenticator and recovery codes were removed: the account enrols a new "
        "authenticator at its next sign-in."
    ),
    "approved": gettext_noop("The role was approved and is now in effect."),
    "refused": gettext_noop("The role was refused."),
}
HISTORY_SHOWN = 20
CHANGE_KINDS = {
    RoleChange.Kind.GRANT: gettext_noop("granted"),
    RoleChange.Kind.CHANGE: gettext_noop("changed"),
    RoleChange.Kind.REVOKE: gettext_noop("revoked"),
}


def region_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Regions to choose from, grouped by 시도: each 시도 first (its whole jurisdiction),
    then its 시군구, as (code, name); regions that are not districts last."""
    regions = list(Region.objects.order_by("code"))
    sigungu: dict[int, list[Region]] = {}
    for region in regions:
        if region.level == Region.Level.SIGUNGU and region.sido_id is not None:
            sigungu.setdefault(region.sido_id, []).append(region)
    groups = [
        (
            sido.name,
            [(sido.code, _("%(sido)s (all of it)") % {"sido": sido.name})]
            + [(r.code, r.name) for r in sigungu.get(sido.pk, [])],
        )
        for sido in regions
        if sido.level == Region.Level.SIDO
    ]
    others = [(r.code, r.name) for r in regions if r.level == Region.Level.OTHER]
    return groups + ([(_("Other regions"), others)] if others else [])


def _role_form_choices() -> dict[str, Any]:
    """The roles (with whether a second administrator must approve), the regions by
    시도 and the agencies, for the forms that give a role."""
    return {
        "roles": [(r.value, role_label(r.value), r in FOUR_EYES_ROLES) for r in Role],
        "region_groups": region_groups(),
        "agencies": Agency.objects.order_by("name"),
    }


def _done(request: HttpRequest) -> str:
    code = request.GET.get("done", "")
    return _(DONE[code]) if code in DONE else ""


def _status_of(problem: AccountProblem) -> int:
    return 403 if isinstance(problem, PermissionError) else 400


def _users(
    request: HttpRequest, *, error: str = "", form: Any = None, status: int = 200
) -> HttpResponse:
    assignments = {a.user_id: a for a in RoleAssignment.objects.select_related("region", "agency")}
    users = [
        (user, assignments.get(user.pk)) for user in get_user_model().objects.order_by("username")
    ]
    pending = RoleGrant.objects.filter(status=RoleGrant.Status.PENDING).select_related(
        "user", "region", "agency"
    )
    context = {
        "users": users,
        "pending": pending,
        "lockouts": lockout.current_lockouts(),
        "me": request.user.get_username(),
        "error": error,
        "done": _done(request),
        "form": form or {},
        **_role_form_choices(),
    }
    return render(request, "accounts/users.html", context, status=status)


def _one_time_password(
    request: HttpRequest, user: Any, password: str, *, grant: RoleGrant | None, created: bool
) -> HttpResponse:
    """The one-time password, in this answer only (never stored, never in an address)."""
    context = {"account": user, "password": password, "grant": grant, "created": created}
    response = render(request, "accounts/one_time_password.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@access.page("user.manage")
def users_page(request: HttpRequest) -> HttpResponse:
    """Every account and its role; POST adds an account (its one-time password shown once,
    a role given at once or awaiting a second administrator)."""
    if request.method == "GET":
        return _users(request)
    form = request.POST
    try:
        created = management.create_account(
            form.get("username", ""),
            by=request.user.get_username(),
            email=form.get("email", ""),
            role=form.get("role", ""),
            reason=form.get("reason", ""),
            region=form.get("region", "") if form.get("role") == Role.REGIONAL_INVESTIGATOR else "",
            agency=form.get("agency", "") if form.get("role") == Role.PROVIDER_OPERATOR else "",
        )
    except AccountProblem as problem:
        return _users(request, error=problem.translated(), form=form, status=_status_of(problem))
    return _one_time_password(
        request, created.user, created.one_time_password, grant=created.grant, created=True
    )


def _managed(request: HttpRequest, username: str) -> Any:
    return access.find(request, "user.manage", get_user_model().objects.all(), username=username)


def _account(
    request: HttpRequest, user: Any, *, error: str = "", status: int = 200
) -> HttpResponse:
    username = user.get_username()
    assignment = current_assignment(user)
    context = {
        "account": user,
        "assignment": assignment,
        "current": {
            "role": assignment.role if assignment else "",
            "region": assignment.region.code if assignment and assignment.region else "",
            "agency": assignment.agency.code if assignment and assignment.agency else "",
        },
        "own": username == request.user.get_username(),
        "pending": RoleGrant.objects.filter(
            user=user, status=RoleGrant.Status.PENDING
        ).select_related("region", "agency"),
        "history": [
            (change, _(CHANGE_KINDS.get(change.kind, change.kind)))
            for change in RoleChange.objects.filter(username=username).order_by("-at", "-id")[
                :HISTORY_SHOWN
            ]
        ],
        "lockouts": lockout.current_lockouts(username),
        "has_authenticator": has_confirmed_totp(user),
        "must_change_password": must_change_password(user),
        "error": error,
        "done": _done(request),
        **_role_form_choices(),
    }
    return render(request, "accounts/user.html", context, status=status)


@require_GET
@access.page("user.manage")
def user_page(request: HttpRequest, username: str) -> HttpResponse:
    return _account(request, _managed(request, username))


def _back_to(username: str, done: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"/users/{quote(username)}?done={done}")


@require_POST
@access.page("user.manage")
def user_step(request: HttpRequest, username: str, step: str) -> HttpResponse:
    """One administrator's step on an account (management.py: the same as the API's)."""
    by = request.user.get_username()
    if step == "unlock":  # unknown usernames lock alike: no account needed
        management.unlock(username, by=by, ip=client_ip(request))
        known = get_user_model().objects.filter(username=username).exists()
        return (
            _back_to(username, "unlocked")
            if known
            else HttpResponseRedirect("/users?done=unlocked#lockouts")
        )
    user = _managed(request, username)
    form = request.POST
    try:
        if step == "role":
            role = form.get("role", "")
            grant = management.ask_role(
                user,
                role,
                by=by,
                reason=form.get("reason", ""),
                region=form.get("region", "") if role == Role.REGIONAL_INVESTIGATOR else "",
                agency=form.get("agency", "") if role == Role.PROVIDER_OPERATOR else "",
            )
            return _back_to(username, "asked" if grant else "changed")
        if step == "revoke":
            management.revoke(user, by=by, reason=form.get("reason", ""))
            return _back_to(username, "revoked")
        if step == "password-reset":
            password = management.reset_password(user, by=by)
            return _one_time_password(request, user, password, grant=None, created=False)
        if step == "second-factor-reset":
            management.reset_second_factor(user, by=by)
            return _back_to(username, "second-factor-reset")
    except AccountProblem as problem:
        return _account(request, user, error=problem.translated(), status=_status_of(problem))
    raise access.Refused(policy.NOT_FOUND)


@require_POST
@access.page("user.manage")
def grant_decision(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """A second administrator approves or refuses a grant (not its asker, not its holder)."""
    grant = access.find(request, "user.manage", RoleGrant.objects.select_related("user"), pk=pk)
    by = request.user.get_username()
    try:
        if decision == "approve":
            approve_grant(grant, by=by)
        elif decision == "refuse":
            refuse_grant(grant, by=by, reason=request.POST.get("reason", ""))
        else:
            raise access.Refused(policy.NOT_FOUND)
    except AccountProblem as problem:
        return _users(request, error=problem.translated(), status=_status_of(problem))
    done = "approved" if decision == "approve" else "refused"
    return HttpResponseRedirect(f"/users?done={done}#pending-grants")
