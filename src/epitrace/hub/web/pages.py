"""What every page shares: the signed-in check, refusals as pages, the stylesheet."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_noop

from epitrace.hub import policy

STYLESHEET = Path(__file__).with_name("static") / "hub.css"


def stylesheet(request: HttpRequest) -> HttpResponse:
    """The one stylesheet, served by the hub itself (the CSP allows 'self' only)."""
    response = HttpResponse(STYLESHEET.read_text(), content_type="text/css; charset=utf-8")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


def refused(request: HttpRequest, decision: policy.Decision) -> HttpResponse:
    """A refused decision as a page: sign in again (401), or a plain 403/404 that leaks nothing."""
    if decision.status == 401:  # the password given but not yet the code: ask for the code
        return HttpResponseRedirect("/verify" if request.user.is_authenticated else "/login")
    # Translated by the template (refused.html); marked here for the catalogue.
    title = gettext_noop("Not found") if decision.status == 404 else gettext_noop("Not allowed")
    return render(
        request,
        "web/refused.html",
        {"title": title, "reason": decision.reason if decision.status == 403 else ""},
        status=decision.status,
    )
