"""The HTML pages of cases: the list with status and deadlines, registration, and the
case page (map, timeline, stays, interview comparison, contacts).

Each page asks ``epitrace.hub.policy`` exactly as the JSON API in cases/api.py does:
``visible`` for lists, ``find`` for one case (a case outside the jurisdiction is a 404
like a missing one), and every view of personal data is in the audit log (``find`` and
``decide`` record it; registration records ``case.created`` as the API does).
The case's requests and analysis come from the exchange (``exchange.case_requests``,
``exchange.case_analysis``); the interview upload is the exchange's page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from epitrace.hub import access, crypto, policy, reasons
from epitrace.hub.api import BadRequest
from epitrace.hub.cases.api import (
    CASE_FIELDS,
    LIST_LIMIT,
    case_regions,
    check_new_person,
    create_case,
    dates_from,
    identifiers_from,
    region_from,
)
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import identifiers_of
from epitrace.hub.exchange import case_analysis, case_requests, results
from epitrace.hub.security import client_ip
from epitrace.hub.web.basemap import map_settings, timeline_labels


def _cases() -> Any:
    return Case.objects.select_related("region").order_by("-confirmation_date", "case_id")


@require_GET
@access.page("case.list")
def case_list_page(request: HttpRequest) -> HttpResponse:
    cases = list(policy.visible(request.user, "case.list", _cases())[:LIST_LIMIT])
    statuses = case_requests.status_of_cases(cases)
    rows = [(case, statuses.get(case.pk)) for case in cases]
    return render(
        request,
        "cases/cases.html",
        {
            "rows": rows,
            "may_create": policy.permits(request.user, "case.create"),
            "today": timezone.localdate(),
        },
    )


def _form_data(request: HttpRequest) -> dict[str, Any]:
    data: dict[str, Any] = {name: request.POST.get(name, "").strip() for name in CASE_FIELDS}
    data["phones"] = [p.strip() for p in data["phones"].replace(";", ",").split(",") if p.strip()]
    return data


@require_http_methods(["GET", "POST"])
@access.page("case.create")
def case_new_page(request: HttpRequest) -> HttpResponse:
    regions = case_regions(request, "case.create").select_related("sido")
    error = ""
    if request.method == "POST":
        data = _form_data(request)
        try:
            region = region_from(request, "case.create", data["region"])
            dates, ids = dates_from(data), identifiers_from(data)
            confirmed = request.POST.get("same_person_confirmed") == "on"
            check_new_person(request, ids, confirmed=confirmed)
        except BadRequest as problem:
            error = str(problem)  # names the field, never echoes its value
        else:
            case = create_case(request, region, dates, ids)
            return HttpResponseRedirect(f"/cases/{case.case_id}")
    # A refused form comes back empty: its values are personal data, not echoed.
    return render(
        request,
        "cases/case_new.html",
        {"regions": regions, "error": error},
        status=400 if error else 200,
    )


def _identifiers_for(request: HttpRequest, case_id: str) -> tuple[Any, str]:
    """The identifiers, only when a purpose is given; recorded as a case.view with it."""
    purpose = request.GET.get("purpose", "").strip()
    if not reasons.is_meaningful(purpose):
        return None, ""
    decision, case = policy.find(
        request.user,
        "case.view",
        _cases(),
        ip=client_ip(request),
        purpose=purpose,
        case_id=case_id,
    )
    if not decision.allowed:
        return None, ""
    try:
        return identifiers_of(case), "readable"
    except crypto.KeyDestroyed:
        return None, "destroyed"


def _guideline_window(case: Case) -> tuple[dt.date, dt.date]:
    # 2 days before onset (or the specimen date without symptoms) to isolation.
    reference = case.onset_date or case.specimen_date
    return reference - dt.timedelta(days=2), case.isolation_date


@require_GET
@access.page()
def case_page(request: HttpRequest, case_id: str) -> HttpResponse:
    case = access.find(
        request,
        "result.view",
        _cases(),
        purpose="case page: path, stays, interview comparison and contacts",
        case_id=case_id,
    )
    analysis = results.latest_analysis(case)
    view = case_analysis.view_of(analysis) if analysis is not None else None
    identifiers, personal = _identifiers_for(request, case.case_id)
    zone = timezone.get_current_timezone_name()
    context = {
        "case": case,
        "analysis": view,
        "analysis_zone": analysis.timezone if analysis is not None else "",
        "map_data": (
            {**view.map_data(zone), **map_settings(), "labels": timeline_labels()} if view else None
        ),
        "identifiers": identifiers,
        "personal_data": personal,
        "purpose_asked": bool(request.GET.get("purpose", "").strip()),
        "guideline_window": _guideline_window(case),
        "requests": case_requests.requests_of_case(request.user, case),
        "may_request": case_requests.may_request(request.user),
        "may_export": policy.permits(request.user, "result.export"),
        "may_disclose": policy.permits(request.user, "disclosure.prepare"),
        "comparison_labels": {
            "confirmed": _("Confirmed by the data"),
            "only in data": _("Only in the data (not told in the interview)"),
            "only in interview": _("Only in the interview (not found in the data)"),
        },
    }
    return render(request, "cases/case.html", context)
