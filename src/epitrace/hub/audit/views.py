"""The HTML pages of the audit log: the log with filters and paging, its exports, the
verification of the chain, the monthly review (the JSON API is audit/api.py).

Only what the policy allows for ``audit.read`` and ``audit.verify`` (auditors). No page
edits or deletes an entry; each export and each verification appends one of its own.
Times are shown in the reader's zone (named in the column head); the exports keep UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from epitrace.hub import access, policy, reasons
from epitrace.hub.audit import exports
from epitrace.hub.audit.chain import ChainCheck, record, verify_chain
from epitrace.hub.audit.models import AuditEntry, ChainHead
from epitrace.hub.cases import notes
from epitrace.hub.cases.models import Case
from epitrace.hub.security import client_ip

PER_PAGE = 50
FILTERS = ("actor", "action", "object", "date_from", "date_to")


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def about_object(text: str) -> Q:
    """Entries about the object an auditor typed: a kind (``case``), an id (``C00003``) or
    both (``case:C00003``). A case is found whichever way it is named: by its number
    (how the log names it, Case.audit_name), by the row id older entries used, and in
    the entries about its requests and exports, which name it in their detail."""
    kind, colon, ident = text.partition(":")
    if not colon:
        return Q(object_type=text) | _named(text, "")
    return _named(ident, kind) if ident else Q(object_type=kind)


def _named(ident: str, kind: str) -> Q:
    names = {ident}
    if kind in ("", "case"):
        number = Q(case_id=ident.upper())
        case = Case.objects.filter(number | Q(pk=int(ident)) if ident.isdigit() else number)
        for found in case[:1]:
            names |= {found.audit_name, str(found.pk)}
    matched = Q(object_id__in=names) & (Q(object_type=kind) if kind else Q())
    if kind in ("", "case"):
        matched |= Q(detail__case__in=sorted(n for n in names if not n.isdigit()))
    return matched


def filtered(params: Any) -> tuple[QuerySet, dict[str, str]]:
    """Entries matching the filters (actor exact, action prefix, object as
    ``about_object`` says, dates inclusive in the hub's local zone) and the filters that
    were given."""
    given = {name: params.get(name, "").strip() for name in FILTERS if params.get(name, "").strip()}
    entries = AuditEntry.objects.order_by("seq")
    if "actor" in given:
        entries = entries.filter(actor=given["actor"])
    if "action" in given:
        entries = entries.filter(action__startswith=given["action"])
    if "object" in given:
        entries = entries.filter(about_object(given["object"]))
    zone = ZoneInfo(settings.EPITRACE_LOCAL_TIME_ZONE)
    start, end = _day(given.get("date_from", "")), _day(given.get("date_to", ""))
    if start:
        entries = entries.filter(at__gte=dt.datetime.combine(start, dt.time(), tzinfo=zone))
    if end:
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        entries = entries.filter(at__lt=after)
    return entries, given


@require_GET
@access.page("audit.read")
def log_page(request: HttpRequest) -> HttpResponse:
    return _log(request, request.GET)


def _log(
    request: HttpRequest,
    params: Any,
    *,
    error: str = "",
    check: ChainCheck | None = None,
    status: int = 200,
) -> HttpResponse:
    entries, given = filtered(params)
    page = Paginator(entries, PER_PAGE).get_page(params.get("page"))
    with_texts(page.object_list)
    context = {
        "page": page,
        "filters": given,
        "query": urlencode(given),
        "error": error,
        "check": check,
        "check_problem": _problem(check) if check is not None else "",
        "may_verify": policy.permits(request.user, "audit.verify"),
    }
    return render(request, "audit/log.html", context, status=status)


def _problem(check: ChainCheck) -> str:
    """Why the chain fails, in the reader's language."""
    if not check.problem:
        return ""
    params = {k: _(v) if isinstance(v, str) else v for k, v in check.params.items()}
    return _(check.problem) % params if params else _(check.problem)


@require_POST
@access.page("audit.verify")
def verify_page(request: HttpRequest) -> HttpResponse:
    """Verify the whole chain, as ``epitrace audit verify`` does, show the outcome on the
    log page and append it to the log (the verification is itself an entry)."""
    check = verify_chain()
    record(
        request.user.get_username(),
        "audit.verify",
        role=getattr(policy.assignment_of(request.user), "role", ""),
        object_type="audit_log",
        detail={
            "ok": check.ok and not check.anchor_missing,
            "entries": check.entries,
            "first_bad": check.first_bad,
            "problem": check.reason,
            "through_seq": check.head[0] if check.ok else None,
            "ip": client_ip(request),
        },
    )
    return _log(request, request.POST, check=check)


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
        error = _("An export needs a reason: say why, in words (at least %(n)d letters).") % {
            "n": reasons.MIN_WEIGHT
        }
        return _log(request, request.POST, error=error, status=400)
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
    zone = settings.EPITRACE_LOCAL_TIME_ZONE
    this_month = timezone.localtime(timezone.now(), ZoneInfo(zone)).strftime("%Y-%m")
    month = request.GET.get("month", "") or this_month
    try:
        start, end = exports.month_bounds(month, zone)
    except ValueError:
        month = this_month
        start, end = exports.month_bounds(month, zone)
    entries = AuditEntry.objects.filter(at__gte=start, at__lt=end).order_by("seq")
    review = exports.monthly_review(entries, month, zone)
    with_texts(review.exports)  # the reasons given, while their cases keep them
    # The head's seal, printed with every review and kept apart from the database: a
    # later check finds this entry, with this seal, still in the chain (docs/security.md).
    head = ChainHead.objects.filter(id=1).first()
    context = {"review": review, "tz": zone, "head": head}
    return render(request, "audit/review.html", context)
