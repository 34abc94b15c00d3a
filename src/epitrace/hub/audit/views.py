"""The HTML pages of the audit log: the log with filters and paging, its exports, the
monthly review (the JSON API is audit/api.py).

Only what the policy allows for ``audit.read`` (auditors). No page edits or deletes an
entry; each export appends one of its own, with the reason the auditor gave.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from epitrace.hub import access, policy, reasons
from epitrace.hub.audit import exports
from epitrace.hub.audit.chain import record
from epitrace.hub.audit.models import AuditEntry, ChainHead
from epitrace.hub.cases import notes
from epitrace.hub.security import client_ip

PER_PAGE = 50
FILTERS = ("actor", "action", "object", "date_from", "date_to")


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def filtered(params: Any) -> tuple[QuerySet, dict[str, str]]:
    """Entries matching the filters (actor exact, action prefix, object type or id,
    dates inclusive in UTC) and the filters that were given."""
    given = {name: params.get(name, "").strip() for name in FILTERS if params.get(name, "").strip()}
    entries = AuditEntry.objects.order_by("seq")
    if "actor" in given:
        entries = entries.filter(actor=given["actor"])
    if "action" in given:
        entries = entries.filter(action__startswith=given["action"])
    if "object" in given:
        kind, _, ident = given["object"].partition(":")
        either = Q(object_type=kind) | Q(object_id=kind)
        entries = entries.filter(Q(object_type=kind, object_id=ident) if ident else either)
    start, end = _day(given.get("date_from", "")), _day(given.get("date_to", ""))
    if start:
        entries = entries.filter(at__gte=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    if end:
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        entries = entries.filter(at__lt=after)
    return entries, given


@require_GET
@access.page("audit.read")
def log_page(request: HttpRequest) -> HttpResponse:
    entries, given = filtered(request.GET)
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    with_texts(page.object_list)
    query = urlencode(given)
    context = {"page": page, "filters": given, "query": query, "error": ""}
    return render(request, "audit/log.html", context)


def with_texts(entries: Any) -> None:
    """Show each entry's free text (kept with its case, cases/notes.py) in place of its
    reference, in memory only: the stored entry and its seal are untouched."""
    entries = list(entries)
    for entry, shown in zip(entries, notes.shown_details([e.detail for e in entries]), strict=True):
        entry.detail = shown


def _export(request: HttpRequest, kind: str) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()
    access.require(request, "audit.read", purpose=reason)
    entries, given = filtered(request.POST)
    if not reasons.is_meaningful(reason):
        page = Paginator(entries, PER_PAGE).get_page(1)
        error = f"An export needs a reason: {reasons.rule('it')}."
        context = {"page": page, "filters": given, "query": "", "error": error}
        return render(request, "audit/log.html", context, status=400)
    rows = list(entries)
    record(
        request.user.get_username(),
        "audit.export",
        role=getattr(policy.assignment_of(request.user), "role", ""),
        object_type="audit_log",
        detail={
            "format": kind,
            **notes.sealed_texts([], reason=reason),  # concerns no case: not kept
            "filters": given,
            "rows": len(rows),
            "ip": client_ip(request),
        },
    )
    with_texts(rows)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if kind == "csv":
        response = HttpResponse(exports.to_csv(rows), content_type="text/csv; charset=utf-8")
        name = f"audit-{stamp}.csv"
    else:
        body = json.dumps(exports.to_fhir_bundle(rows), ensure_ascii=False, indent=1)
        response = HttpResponse(body, content_type="application/fhir+json; charset=utf-8")
        name = f"audit-{stamp}.fhir.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@access.page()
def export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


@require_POST
@access.page()
def export_fhir(request: HttpRequest) -> HttpResponse:
    return _export(request, "fhir")


@require_GET
@access.page("audit.read")
def review_page(request: HttpRequest) -> HttpResponse:
    """The monthly review of unusual access (?month=YYYY-MM, default this month)."""
    month = request.GET.get("month", "") or timezone.now().strftime("%Y-%m")
    try:
        start, end = exports.month_bounds(month)
    except ValueError:
        month = timezone.now().strftime("%Y-%m")
        start, end = exports.month_bounds(month)
    entries = AuditEntry.objects.filter(at__gte=start, at__lt=end).order_by("seq")
    review = exports.monthly_review(entries, month, settings.EPITRACE_LOCAL_TIME_ZONE)
    # The head's seal, printed with every review and kept apart from the database: a
    # later check finds this entry, with this seal, still in the chain (docs/security.md).
    head = ChainHead.objects.filter(id=1).first()
    context = {"review": review, "tz": settings.EPITRACE_LOCAL_TIME_ZONE, "head": head}
    return render(request, "audit/review.html", context)
