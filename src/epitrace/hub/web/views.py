"""The shared pages of the hub: home, the stylesheet, the language switch in the header
and the preferences page (language, time zone).

The pages of each concern live in its app (``<app>/views.py``; JSON in ``<app>/api.py``);
``web`` keeps the chrome every page shares: base templates, static files, languages and
time zones, the refusal page, the home page and the operations dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from epitrace.hub import access, policy
from epitrace.hub.accounts.roles import role_label
from epitrace.hub.web.preferences import (
    COMMON_TIME_ZONES,
    LANGUAGES,
    default_time_zone,
    is_time_zone,
    preference_of,
    save_preference,
)
from epitrace.report.model import palette_css

STYLESHEET = Path(__file__).with_name("static") / "hub.css"
# The hub's icon, served at the address browsers ask for by themselves too (no 404 on
# every page, nothing fetched from outside the closed network).
ICON = Path(__file__).with_name("static") / "favicon.svg"
# What the home page may link to: (action the policy decides, address, label).
LINKS = [
    ("case.list", "/cases", gettext_lazy("Cases")),
    ("case.list", "/hotspots", gettext_lazy("Hotspots")),
    ("request.view", "/requests", gettext_lazy("Data requests")),
    ("region.view", "/regions", gettext_lazy("Regions")),
    ("dashboard.view", "/dashboard", gettext_lazy("Operations dashboard")),
    ("user.manage", "/users", gettext_lazy("Users and roles")),
    ("settings.manage", "/retention", gettext_lazy("Retention and destruction")),
    ("audit.read", "/audit", gettext_lazy("Audit log")),
    ("audit.read", "/audit/review", gettext_lazy("Monthly audit review")),
]


def stylesheet(request: HttpRequest) -> HttpResponse:
    """The one stylesheet, served by the hub itself (the CSP allows 'self' only)."""
    response = HttpResponse(STYLESHEET.read_text(), content_type="text/css; charset=utf-8")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


def palette(request: HttpRequest) -> HttpResponse:
    """The path's colours as CSS variables (``--precise``, ``--bus`` ...), from the one
    palette report.html uses too (report.model.PALETTE); the maps and legends read them."""
    response = HttpResponse(palette_css(), content_type="text/css; charset=utf-8")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: the hub's icon (SVG, which browsers take at this address too)."""
    response = HttpResponse(ICON.read_bytes(), content_type="image/svg+xml")
    response.headers["Cache-Control"] = "max-age=86400"
    return response


def _role_context(user: Any) -> dict[str, Any]:
    assignment = policy.assignment_of(user)
    return {
        "role": role_label(assignment.role) if assignment else _("no role"),
        "region": assignment.region if assignment else None,
        "agency": assignment.agency if assignment else None,
    }


@access.page("account.whoami")
def home(request: HttpRequest) -> HttpResponse:
    links = [(url, label) for action, url, label in LINKS if policy.permits(request.user, action)]
    return render(request, "web/home.html", {**_role_context(request.user), "links": links})


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "/")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _remember_language(response: HttpResponse, language: str) -> HttpResponse:
    # Before sign-in (and for the sign-in pages) the cookie carries the choice.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Strict",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    if language not in LANGUAGES:
        return HttpResponseRedirect(_safe_next(request))
    if policy.is_verified(request.user):
        current = preference_of(request.user)
        save_preference(
            request.user, language=language, time_zone=current.time_zone if current else ""
        )
    translation.activate(language)
    return _remember_language(HttpResponseRedirect(_safe_next(request)), language)


@require_http_methods(["GET", "POST"])
@access.page("account.whoami")
def preferences_page(request: HttpRequest) -> HttpResponse:
    current = preference_of(request.user)
    error, saved = "", False
    if request.method == "POST":
        language = request.POST.get("language", "")
        zone = request.POST.get("time_zone", "").strip()
        if zone and not is_time_zone(zone):
            error = _("Unknown time zone: choose one from the list, e.g. Asia/Seoul.")
        else:
            current = save_preference(
                request.user, language=language if language in LANGUAGES else "", time_zone=zone
            )
            if current.language:
                translation.activate(current.language)
            saved = True
    context = {
        "language": current.language if current else "",
        "time_zone": (current.time_zone if current else "") or "",
        "default_time_zone": default_time_zone(),
        "common_time_zones": COMMON_TIME_ZONES,
        "error": error,
        "saved": saved,
    }
    response = render(request, "web/preferences.html", context, status=400 if error else 200)
    if saved and current and current.language:
        _remember_language(response, current.language)
    return response
