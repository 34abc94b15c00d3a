"""The HTML pages of the exchange: data requests (issue 6's workflow, issue 7's screens),
notifications, the interview upload, exports of a case's analysis and the hotspots.

- ``/cases/<case_id>/request``: an investigator asks for a case's data (kinds, the
  guideline's window by default, a justification, a reason to widen it).
- ``/requests``: each role's list: the investigator's requests, the police approver's
  queue (awaiting approval first), the provider operator's requests of its agency.
- ``/requests/<request_id>``: status, tasks per agency, and the approver's decision form.
- ``/requests/<request_id>/status``: the small status fragment the requester's page
  polls with htmx every few seconds until the request is settled.
- ``/notifications``: the account's notifications, marked read when seen.
- ``/cases/<case_id>/interview``: the interview's places, typed in a form or uploaded as a
  CSV file (exchange/interview_form.py, exchange/interviews.py).
- ``/cases/<case_id>/exports``: the analysis's files, chosen together with one reason
  (several come as one zip), each recorded; ``.../exports/<name>`` takes one file (the
  files themselves: exchange/exports.py).
- ``/hotspots``: the space-time scan over the visible cases, run as a background job
  (exchange/hotspots.py); ``/hotspots/progress`` is the fragment the page polls.

Everything goes through ``epitrace.hub.exchange.workflow`` (never the HTTP API) and the
policy (``access.page``), as the JSON endpoints in exchange/api.py do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from epitrace.hub import access, crypto, policy, reasons
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import identifiers_of
from epitrace.hub.exchange import exports, hotspots, interview_form, results, workflow
from epitrace.hub.exchange.interviews import (
    InterviewProblems,
    Worded,
    attach_interview,
    keep_interview,
)
from epitrace.hub.exchange.models import (
    AgencyTask,
    DataRequest,
    InterviewRecord,
    JobStatus,
    Notification,
    Status,
)
from epitrace.hub.security import client_ip
from epitrace.hub.web.basemap import map_settings

LIST_LIMIT = 500
POLL_SECONDS = 3
SETTLED = {Status.REFUSED, Status.ANALYSED, Status.FAILED}
KIND_LABELS = {
    "telecom": gettext_noop("Mobile phone location (telecom)"),
    "cards": gettext_noop("Card transactions"),
    "transit": gettext_noop("Transit card taps"),
    "checkins": gettext_noop("Venue check-ins (entry logs)"),
    "contacts": gettext_noop("Contact search around the stays"),
}
TASK_STATUSES = (gettext_noop("cancelled"),)


def _cases() -> QuerySet:
    return Case.objects.select_related("region")


def _requests() -> QuerySet:
    return DataRequest.objects.select_related("case", "case__region")


def _kind_choices() -> list[tuple[str, str, bool]]:
    """(kind, label, needs the police's approval)."""
    return [(k, _(KIND_LABELS[k]), k in workflow.LOCATION_KINDS) for k in workflow.KINDS]


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@access.page()
def request_new_page(request: HttpRequest, case_id: str) -> HttpResponse:
    ip = client_ip(request)
    case = access.find(
        request,
        "request.create",
        Case.objects.select_related("region"),
        purpose="data request form",
        case_id=case_id,
    )
    first, last = workflow.default_window(case)
    form = {"kinds": ["telecom", "cards"], "first": first, "last": last}
    error = ""
    if request.method == "POST":
        form = {
            "kinds": request.POST.getlist("kinds"),
            "first": _day(request.POST.get("first", "")) or first,
            "last": _day(request.POST.get("last", "")) or last,
            "justification": request.POST.get("justification", ""),
            "widen_reason": request.POST.get("widen_reason", ""),
        }
        start, end = workflow.day_bounds(form["first"], form["last"])
        try:
            created = workflow.create_request(
                request.user,
                case,
                form["kinds"],
                form["justification"],
                start=start,
                end=end,
                widen_reason=form["widen_reason"],
                ip=ip,
            )
        except workflow.RequestError as problem:
            error = problem.translated()
        except PermissionError as problem:
            error = str(problem)
        else:
            return HttpResponseRedirect(f"/requests/{created.request_id}")
    context = {
        "case": case,
        "kinds": _kind_choices(),
        "form": form,
        "guideline": (first, last),
        "error": error,
    }
    return render(request, "exchange/request_new.html", context, status=400 if error else 200)


def _queue_first(listed: QuerySet) -> QuerySet:
    waiting_first = SqlCase(
        When(status=Status.AWAITING_APPROVAL, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return listed.annotate(waiting=waiting_first).order_by("waiting", "deadline", "-created_at")


@require_GET
@access.page("request.view")
def request_list_page(request: HttpRequest) -> HttpResponse:
    assignment = policy.assignment_of(request.user)
    role = Role(assignment.role)
    listed = policy.visible(request.user, "request.view", _requests()).distinct()
    status = request.GET.get("status", "")
    if status in Status.values:
        listed = listed.filter(status=status)
    if role == Role.POLICE_APPROVER:
        # The approver's queue: the requests that needed its decision, never a request
        # of card payments alone that went straight to the agencies.
        listed = _queue_first(listed.filter(needs_approval=True))
    requests = list(listed[:LIST_LIMIT])
    tasks: dict[int, list[AgencyTask]] = {}
    if role == Role.PROVIDER_OPERATOR:  # the operator sees its own agency's tasks only
        for task in AgencyTask.objects.filter(request__in=requests, agency=assignment.agency):
            tasks.setdefault(task.request_id, []).append(task)
    rows = [
        (r, tasks.get(r.pk, []), workflow.is_overdue(r), workflow.kinds_in_words(r.kinds))
        for r in requests
    ]
    context = {
        "rows": rows,
        "role": role.value,
        "statuses": Status.choices,
        "status": status,
        "awaiting": sum(1 for r in requests if r.status == Status.AWAITING_APPROVAL),
    }
    return render(request, "exchange/requests.html", context)


def _status_context(user: Any, found: DataRequest) -> dict[str, Any]:
    return {
        "req": found,
        "tasks": workflow.tasks_seen_by(user, found),
        "overdue": workflow.is_overdue(found),
        "settled": found.status in SETTLED,
        "poll_seconds": POLL_SECONDS,
        "jobs": workflow.open_jobs(found),
    }


def _may_decide(user: Any, found: DataRequest) -> bool:
    return (
        policy.permits(user, "request.approve")
        and found.status == Status.AWAITING_APPROVAL
        and found.requested_by != user.get_username()
    )


def _page_context(user: Any, found: DataRequest, error: str = "") -> dict[str, Any]:
    return {
        **_status_context(user, found),
        "kind_labels": {k: _(v) for k, v in KIND_LABELS.items()},
        "may_decide": _may_decide(user, found),
        "may_see_case": policy.permits(user, "result.view"),
        "organisation": workflow.requesting_organisation(found),
        "legal_basis": workflow.legal_basis_labels(found),
        "error": error,
    }


@require_GET
@access.page()
def request_page(request: HttpRequest, request_id: str) -> HttpResponse:
    found = access.find(request, "request.view", _requests(), request_id=request_id)
    return render(request, "exchange/request.html", _page_context(request.user, found))


@require_GET
@access.page()
def request_status_fragment(request: HttpRequest, request_id: str) -> HttpResponse:
    """Polled every few seconds: statuses and agency codes only, nothing personal, so it
    is narrowed with ``visible`` (unrecorded) rather than a recorded ``find`` per poll; the
    page that polls it recorded the view once."""
    if not policy.permits(request.user, "request.view"):
        # Decided without the address, as the fragment always was (the page recorded it).
        raise access.Refused(policy.decide(request.user, "request.view"))
    found = (
        policy.visible(request.user, "request.view", _requests())
        .filter(request_id=request_id)
        .first()
    )
    if found is None:
        raise Http404
    return render(request, "exchange/request_status.html", _status_context(request.user, found))


@require_POST
@access.page()
def request_decision(request: HttpRequest, request_id: str) -> HttpResponse:
    ip = client_ip(request)
    reason = request.POST.get("reason", "")
    found = access.find(
        request, "request.approve", _requests(), purpose=reason, request_id=request_id
    )
    approve = request.POST.get("decision") == "approve"
    try:
        workflow.decide_request(request.user, found, approve=approve, reason=reason, ip=ip)
    except (workflow.RequestError, workflow.NotYourDecision) as problem:
        context = _page_context(request.user, found, error=problem.translated())
        return render(request, "exchange/request.html", context, status=400)
    except PermissionError as problem:  # the policy changed its mind since the lookup
        context = _page_context(request.user, found, error=str(problem))
        return render(request, "exchange/request.html", context, status=403)
    return HttpResponseRedirect(f"/requests/{request_id}")


@require_http_methods(["GET", "POST"])
@access.page("account.whoami")
def notifications_page(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(username=request.user.get_username())
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return HttpResponseRedirect("/notifications")
    listed = list(mine.select_related("request", "case")[:200])
    shown = [(n, workflow.notification_text(n)) for n in listed]
    return render(
        request,
        "exchange/notifications.html",
        {"notifications": shown, "unread": sum(1 for n in listed if n.read_at is None)},
    )


# --- the interview (the places the patient named) -------------------------------


def _interview_page(
    request: HttpRequest,
    case: Case,
    *,
    rows: list[interview_form.TypedRow] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "case": case,
        "earlier": InterviewRecord.objects.filter(case=case).first(),
        "rows": rows or interview_form.rows_of({}, interview_form.ROWS_SHOWN),
        "problems": problems or [],
        "zone": str(timezone.get_current_timezone()),
    }
    return render(request, "exchange/interview.html", context, status=status)


@require_http_methods(["GET", "POST"])
@access.page()
def case_interview_page(request: HttpRequest, case_id: str) -> HttpResponse:
    """The interview's places, typed in the form or uploaded as a CSV file, kept and
    compared at once; an earlier interview is replaced only when the form says so."""
    case = access.find(request, "request.create", _cases(), case_id=case_id)
    if request.method == "GET":
        return _interview_page(request, case)
    form = request.POST
    typed = "file" not in request.FILES and form.get("entry") == "form"
    rows = interview_form.rows_of(form, interview_form.row_count(form)) if typed else None
    if typed and "more" in form:  # more empty rows, the typed ones kept; nothing stored
        more = len(rows or []) + interview_form.ROWS_SHOWN
        return _interview_page(request, case, rows=interview_form.rows_of(form, more))
    by, replace = request.user.get_username(), form.get("replace") == "yes"
    try:
        if typed:
            person = identifiers_of(case).person_ref
            zone = timezone.get_current_timezone()
            visits = interview_form.interview_table(rows or [], person, zone)
            keep_interview(case, visits, by, replace=replace, source="form")
        else:
            upload = request.FILES.get("file")
            if upload is None:
                raise InterviewProblems(
                    [Worded(gettext_noop("Choose the interview file (CSV) first."))]
                )
            attach_interview(case, upload.read(), by, replace=replace)
    except InterviewProblems as error:
        shown = error.translated()
        return _interview_page(request, case, rows=rows, problems=shown, status=422)
    return HttpResponseRedirect(f"/cases/{case.case_id}#comparison-title")


# --- exports of a case's analysis (the files: exchange/exports.py) ---------------


def _form(
    request: HttpRequest,
    case_id: str,
    *,
    analysis: Any = None,
    error: str = "",
    status: int = 200,
    chosen: list[str] | None = None,
) -> HttpResponse:
    context = {
        "case_id": case_id,
        "kinds": [(kind, _(kind.label)) for kind in exports.KINDS.values()],
        "chosen": chosen if chosen is not None else list(exports.KINDS),
        "analysis": analysis,
        "error": error,
        "reason_max": exports.REASON_MAX,
    }
    return render(request, "exchange/export.html", context, status=status)


def _analysis_or_page(request: HttpRequest, case: Case) -> tuple[Any, HttpResponse | None]:
    try:
        analysis = results.latest_analysis(case)
    except crypto.KeyDestroyed:
        message = _("This case's data was destroyed: there is nothing to export.")
        return None, _form(request, case.case_id, error=message, status=410)
    if analysis is None:
        message = _("This case has no analysis yet: nothing to export.")
        return None, _form(request, case.case_id, error=message, status=404)
    return analysis, None


@require_http_methods(["GET", "POST"])
@access.page()
def export_page(request: HttpRequest, case_id: str) -> HttpResponse:
    """What can be exported for the case: one form, the files chosen, one reason. Posted,
    the chosen files (one file as itself, several as one zip), each recorded."""
    if request.method == "POST":
        names = request.POST.getlist("files")
        return _export(request, case_id, [exports.KINDS.get(n) for n in names])
    case = access.find(request, "result.view", _cases(), purpose="export page", case_id=case_id)
    analysis, page = _analysis_or_page(request, case)
    return page or _form(request, case.case_id, analysis=analysis)


@require_POST
@access.page()
def export_file(request: HttpRequest, case_id: str, name: str) -> HttpResponse:
    """One file (the form's older address, kept for links and scripts)."""
    return _export(request, case_id, [exports.KINDS.get(name)])


def _export(
    request: HttpRequest, case_id: str, kinds: list[exports.ExportKind | None]
) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()[: exports.REASON_MAX]
    known = [k for k in kinds if k is not None]
    if policy.is_verified(request.user):
        # Refused before the lookup: the audit log shows no access that never happened.
        if not kinds or len(known) < len(kinds):
            error = _("Choose the files to export.") if not kinds else _("No such export.")
            return _form(request, case_id, error=error, status=400 if not kinds else 404)
        if not reasons.is_meaningful(reason):
            chosen = [k.name for k in known]
            return _form(
                request, case_id, error=_("An export needs a reason."), status=400, chosen=chosen
            )
    case = access.find(request, "result.export", _cases(), purpose=reason, case_id=case_id)
    analysis, page = _analysis_or_page(request, case)
    if page is not None:
        return page
    files = {}
    for kind in dict.fromkeys(known):  # each file once, in the order asked
        body, rows = exports.file_for(kind, case, analysis)
        _record_export(request, case, kind, rows, reason, analysis)
        files[kind.filename(case)] = (body, kind.content_type)
    if len(files) == 1:
        ((filename, (body, content_type)),) = files.items()
    else:
        filename = f"{case.case_id}-exports.zip"
        body = exports.bundle({name: content for name, (content, _type) in files.items()})
        content_type = exports.BUNDLE_TYPE
    response = HttpResponse(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _record_export(
    request: HttpRequest,
    case: Case,
    kind: exports.ExportKind,
    rows: int,
    reason: str,
    analysis: Any,
) -> None:
    """One audit entry per file taken, as each file alone was recorded before."""
    record(
        request.user.get_username(),
        f"export.{kind.subject}",
        role=getattr(policy.assignment_of(request.user), "role", ""),
        object_type="case",
        object_id=case.audit_name,
        detail={
            "case": case.case_id,
            "format": kind.fmt,
            "rows": rows,
            **notes.sealed_texts([case], reason=reason),
            "computed_at": analysis.computed_at.isoformat(),
            "ip": client_ip(request),
        },
    )


# --- hotspots -------------------------------------------------------------------


def _visible_cases(request: HttpRequest) -> list[Case]:
    cases = policy.visible(
        request.user,
        "case.list",
        Case.objects.select_related("region").order_by("-confirmation_date", "case_id"),
    )
    return list(cases[: hotspots.SCAN_CASE_LIMIT])


def _map_data(view: hotspots.HotspotView) -> dict[str, Any]:
    return {
        **map_settings(),
        "clusters": [
            {k: c[k] for k in ("number", "lat", "lon", "radius_m", "p_value", "cases", "district")}
            | {"significant": c["significant"]}
            for c in view.clusters
        ],
        "events": view.events,
    }


@require_GET
@access.page("case.list")
def hotspots_page(request: HttpRequest) -> HttpResponse:
    """The last scan the user may see (each case in it a recorded view), and the progress
    of the scan of the cases as they are now, if it is not that one."""
    cases = _visible_cases(request)
    scan = hotspots.scan_for(cases)
    shown = hotspots.last_result(scan, {case.pk for case in cases})
    view = hotspots.open_view(shown.result_enc) if shown is not None else None
    alpha = hotspots.significance_level()
    suspected, not_significant = [], []
    if view is not None:
        hotspots.record_views(request.user, client_ip(request), view)
        for cluster, district in zip(
            view.clusters, hotspots.cluster_districts(view.clusters), strict=True
        ):
            cluster["district"] = district
        suspected, not_significant = hotspots.split_by_significance(view.clusters, alpha)
    context = {
        "suspected": suspected,
        "not_significant": not_significant,
        "alpha": alpha,
        "view": view,
        "computed_at": shown.finished_at if shown is not None else None,
        "scan": scan,
        "current": shown is not None and shown.pk == scan.pk,
        "map_data": _map_data(view) if view is not None else None,
        "replications": hotspots.SCAN_PARAMS.replications,
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "exchange/hotspots.html", context)


@require_GET
@access.page("case.list")
def hotspots_progress_fragment(request: HttpRequest) -> HttpResponse:
    """Polled while the scan runs: its progress only (nothing personal). Once it is done
    the page reloads itself (``HX-Refresh``) to show, and record, the new result."""
    scan = hotspots.scan_for(_visible_cases(request))
    context = {"scan": scan, "poll_seconds": POLL_SECONDS}
    response = render(request, "exchange/hotspots_progress.html", context)
    if scan.status == JobStatus.DONE:
        response.headers["HX-Refresh"] = "true"
    return response
