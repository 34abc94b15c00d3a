"""The HTML pages of accounts: signing in (password, then TOTP enrolment or verification),
signing out, changing one's password, the regions, the users and their roles.

The same steps as the JSON API (accounts/api.py), as HTML forms, through the shared
steps of accounts/login.py; every page that shows data asks the policy (``access.page``).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth import login as django_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import match_token

from epitrace.hub import access, policy
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
from epitrace.hub.accounts.models import Region, RoleAssignment, RoleGrant
from epitrace.hub.accounts.passwords import change_password, must_change_password


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


@access.page("user.manage")
def users_page(request: HttpRequest) -> HttpResponse:
    assignments = {a.user_id: a for a in RoleAssignment.objects.select_related("region", "agency")}
    users = [
        (user, assignments.get(user.pk)) for user in get_user_model().objects.order_by("username")
    ]
    pending = RoleGrant.objects.filter(status=RoleGrant.Status.PENDING).select_related(
        "user", "region", "agency"
    )
    return render(request, "accounts/users.html", {"users": users, "pending": pending})
