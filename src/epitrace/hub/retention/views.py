"""The administrator's retention page (``settings.manage``); its JSON twin is
retention/api.py, and both change the settings through retention/editing.py.

- ``GET /retention``, ``GET /api/retention``: the settings, what is due at the next
  purge, what will be destroyed when (counts per kind and date) and what was
  destroyed; never a case number or anything personal.
- ``POST /retention`` (form), ``POST /api/retention`` (JSON): change the settings,
  with a required reason; every change is appended to the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from epitrace.hub import access, policy
from epitrace.hub.retention.editing import InvalidSettings, change_settings, forecast
from epitrace.hub.retention.rules import Kind, label_of, rule_label
from epitrace.hub.security import client_ip

ACTION = "settings.manage"
SHOWN_DATES = 60  # the page's schedule; the JSON has every date
FIELDS = ("emergency_end", *(f"{kind}_days" for kind in Kind))


def change(request: HttpRequest, data: dict[str, object]) -> dict[str, list[object]]:
    """Apply the form's or body's changes as the signed-in administrator, with its reason."""
    assignment = policy.assignment_of(request.user)
    reason = data.get("reason", "")
    return change_settings(
        {name: data[name] for name in FIELDS if name in data},
        by=request.user.get_username(),
        role=assignment.role if assignment else "",
        ip=client_ip(request),
        reason=reason if isinstance(reason, str) else "",
    )


def _emergency_over(found: dict[str, Any]) -> bool:
    end = found["settings"]["emergency_end"]
    return bool(end) and str(end) < str(found["today"])


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def in_words(found: dict[str, Any]) -> dict[str, Any]:
    """The forecast with its kinds' labels and its rules in the reader's language (the
    JSON twin keeps the English of ``forecast``)."""
    for row in [*found["kinds"], *found["schedule"], *found["destroyed"]]:
        row["label"] = label_of(str(row["kind"]))
    for row in found["schedule"]:
        row["rule"] = rule_label(str(row["rule"]))
    changed = found["settings"].get("changed_at")
    if changed:  # an instant in UTC: shown in the reader's zone, as every time on a page
        local = timezone.localtime(dt.datetime.fromisoformat(changed))
        found["settings"]["changed_at"] = local.strftime("%Y-%m-%d %H:%M")
    return found


@require_http_methods(["GET", "POST"])
@access.page(ACTION)
def retention_page(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    if request.method == "POST":
        try:
            changes = change(request, request.POST.dict())
        except InvalidSettings as problem:
            error, status = problem.translated(), 400
        else:
            return HttpResponseRedirect(f"/retention?saved={len(changes)}")
    found = in_words(forecast())
    context = {
        **found,
        "schedule": found["schedule"][:SHOWN_DATES],
        "more_dates": max(0, len(found["schedule"]) - SHOWN_DATES),
        "emergency_over": _emergency_over(found),
        "error": error,
        "saved": _count(request.GET.get("saved", "")),
        "form": request.POST if error else None,
        "kind_fields": [(f"{kind}_days", label_of(kind)) for kind in Kind],
    }
    return render(request, "retention/retention.html", context, status=status)
