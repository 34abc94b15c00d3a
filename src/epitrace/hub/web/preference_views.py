"""The language switch in the header and the preferences page (language, time zone)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from epitrace.hub import policy
from epitrace.hub.web.pages import refused
from epitrace.hub.web.preferences import (
    COMMON_TIME_ZONES,
    LANGUAGES,
    default_time_zone,
    is_time_zone,
    preference_of,
    save_preference,
)


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
def preferences_page(request: HttpRequest) -> HttpResponse:
    decision = policy.decide(request.user, "account.whoami")
    if not decision.allowed:
        return refused(request, decision)
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
