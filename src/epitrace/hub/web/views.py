"""Sign-in pages (password, then TOTP enrolment or verification), home, regions, users.

The same steps as the JSON API in accounts/login.py, as HTML forms; every page asks
the policy, and links are shown only for what the account's role may do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, logout
from django.contrib.auth import login as django_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from epitrace.hub import policy
from epitrace.hub.accounts.login import (
    _has_confirmed_totp,
    _new_recovery_codes,
    _qr_data_uri,
    _verified,
)
from epitrace.hub.accounts.models import Region, RoleAssignment
from epitrace.hub.audit.chain import record
from epitrace.hub.security import client_ip
from epitrace.hub.web.pages import refused

# What the home page may link to: (action the policy decides, address, label).
LINKS = [
    ("case.list", "/cases", _("Cases")),
    ("case.list", "/hotspots", _("Hotspots")),
    ("request.view", "/requests", _("Data requests")),
    ("region.view", "/regions", _("Regions")),
    ("dashboard.view", "/dashboard", _("Operations dashboard")),
    ("user.manage", "/users", _("Users and roles")),
    ("settings.manage", "/retention", _("Retention and destruction")),
    ("audit.read", "/audit", _("Audit log")),
    ("audit.read", "/audit/review", _("Monthly audit review")),
]


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        user = authenticate(
            request,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        if user is not None:
            django_login(request, user)
            return HttpResponseRedirect("/verify" if _has_confirmed_totp(user) else "/enrol")
        error = "Invalid username or password."  # one answer for both, as in the API
    return render(request, "web/login.html", {"error": error}, status=401 if error else 200)


@require_http_methods(["GET", "POST"])
def enrol_page(request: HttpRequest) -> HttpResponse:
    """First sign-in: scan the QR code, confirm a code, see the recovery codes once."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login")
    if _has_confirmed_totp(request.user):
        return HttpResponseRedirect("/verify")
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": "authenticator"}
    )
    error = ""
    if request.method == "POST":
        if device.verify_token(request.POST.get("token", "").strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_recovery_codes(request.user)
            _verified(request, device, "login.enrolled")
            # Shown in this answer only; the hub keeps nothing it could show again.
            return render(request, "web/recovery_codes.html", {"codes": codes})
        error = "That code is not valid; try the next one your app shows."
    uri = device.config_url
    context = {"qr_code": _qr_data_uri(uri), "otpauth_uri": uri, "error": error}
    return render(request, "web/enrol.html", context, status=401 if error else 200)


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login")
    if not _has_confirmed_totp(request.user):
        return HttpResponseRedirect("/enrol")
    error = ""
    if request.method == "POST":
        device = match_token(request.user, request.POST.get("token", "").strip())
        if device is not None:
            _verified(request, device, "login.verified")
            return HttpResponseRedirect("/")
        record(
            request.user.get_username(),
            "login.second_factor_failed",
            object_type="user",
            object_id=request.user.get_username(),
            detail={"ip": client_ip(request)},
        )
        error = "That code is not valid."
    return render(request, "web/verify.html", {"error": error}, status=401 if error else 200)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/login")


def _role_context(user: Any) -> dict[str, Any]:
    assignment = policy.assignment_of(user)
    return {
        "role": assignment.get_role_display() if assignment else "no role",
        "region": assignment.region if assignment else None,
        "agency": assignment.agency if assignment else None,
    }


def home(request: HttpRequest) -> HttpResponse:
    decision = policy.decide(request.user, "account.whoami")
    if not decision.allowed:
        return refused(request, decision)
    links = [(url, label) for action, url, label in LINKS if policy.permits(request.user, action)]
    return render(request, "web/home.html", {**_role_context(request.user), "links": links})


def regions_page(request: HttpRequest) -> HttpResponse:
    decision = policy.decide(request.user, "region.view", ip=client_ip(request))
    if not decision.allowed:
        return refused(request, decision)
    regions = policy.visible(request.user, "region.view", Region.objects.all())
    return render(request, "web/regions.html", {"regions": regions})


def users_page(request: HttpRequest) -> HttpResponse:
    decision = policy.decide(request.user, "user.manage", ip=client_ip(request))
    if not decision.allowed:
        return refused(request, decision)
    assignments = {a.user_id: a for a in RoleAssignment.objects.select_related("region", "agency")}
    users = [
        (user, assignments.get(user.pk)) for user in get_user_model().objects.order_by("username")
    ]
    return render(request, "web/users.html", {"users": users})
