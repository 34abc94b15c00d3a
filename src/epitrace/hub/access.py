"""Asking the policy from a view, and answering its refusals: one decorator for all views.

Every page and JSON endpoint is wrapped in ``page(action)`` or ``api(action)``. With an
action, the decorator asks ``policy.decide(user, action, ip=...)`` before the view runs
(recorded when personal data is concerned, as the policy says). Inside the view,
``find(request, action, queryset, ...)`` fetches one object through ``policy.find``, and
``require(request, action, obj)`` decides on one object; both raise ``Refused`` when the
policy says no, and the decorator turns it into the answer:

- a page: 401 sends the browser to sign in (or to the second factor), 403 and 404 are
  the plain refusal page (``web/refused.html``), which leaks nothing;
- the JSON API: ``{"error": reason}`` with the decision's status.

The status and the audit entries are exactly those of ``policy.decide``/``policy.find``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.errors import EpitraceError
from epitrace.hub import policy
from epitrace.hub.accounts.roles import role_label
from epitrace.hub.api import refusal
from epitrace.hub.audit.labels import action_label
from epitrace.hub.security import client_ip

View = Callable[..., HttpResponse]


class Refused(EpitraceError):
    """The policy said no; the decorator around the view answers ``decision``."""

    def __init__(self, decision: policy.Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


def require(request: HttpRequest, action: str, obj: Any = None, *, purpose: str = "") -> None:
    """Decide ``action`` (on ``obj``) for the request's user; raise ``Refused`` unless allowed."""
    decision = policy.decide(request.user, action, obj, ip=client_ip(request), purpose=purpose)
    if not decision.allowed:
        raise Refused(decision)


def find(
    request: HttpRequest, action: str, queryset: QuerySet, *, purpose: str = "", **lookup: Any
) -> Any:
    """The one object ``policy.find`` allows, or ``Refused`` (a missing object is a 404)."""
    decision, found = policy.find(
        request.user, action, queryset, ip=client_ip(request), purpose=purpose, **lookup
    )
    if not decision.allowed:
        raise Refused(decision)
    return found


def refusal_sentence(decision: policy.Decision) -> str:
    """Why a 403, as a sentence a person reads, in the page's language (the policy's own
    reason, "a police approver may not result.view", is for the API and the log)."""
    if decision.role and decision.action:
        return _("Your role, %(role)s, does not allow %(what)s.") % {
            "role": role_label(decision.role),
            "what": action_label(decision.action),
        }
    if decision is policy.NO_ROLE:
        return _("Your account holds no role yet: an administrator grants one.")
    if decision is policy.PASSWORD_CHANGE_REQUIRED:
        return _("Change your one-time password first.")
    return _("You may not open this page.")


def refused_page(request: HttpRequest, decision: policy.Decision) -> HttpResponse:
    """A refused decision as a page: sign in again (401), or a plain 403/404 that leaks nothing."""
    if decision.status == 401:  # the password given but not yet the code: ask for the code
        return HttpResponseRedirect("/verify" if request.user.is_authenticated else "/login")
    # Translated by the template (refused.html); marked here for the catalogue.
    title = gettext_noop("Not found") if decision.status == 404 else gettext_noop("Not allowed")
    return render(
        request,
        "web/refused.html",
        {"title": title, "reason": refusal_sentence(decision) if decision.status == 403 else ""},
        status=decision.status,
    )


def _refused_json(request: HttpRequest, decision: policy.Decision) -> HttpResponse:
    return refusal(decision)


def _guarded(action: str | None, answer: Callable[[HttpRequest, policy.Decision], HttpResponse]):
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if action is not None:
                    require(request, action)
                return view(request, *args, **kwargs)
            except Refused as refused:
                return answer(request, refused.decision)

        return guarded

    return decorate


def page(action: str | None = None) -> Callable[[View], View]:
    """An HTML page: ask the policy for ``action`` first (if given); refusals as pages."""
    return _guarded(action, refused_page)


def api(action: str | None = None) -> Callable[[View], View]:
    """A JSON endpoint: ask the policy for ``action`` first (if given); refusals as JSON."""
    return _guarded(action, _refused_json)
