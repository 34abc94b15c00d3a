"""The JSON API of cases. Each endpoint asks the policy first; every decision is audited.

- ``GET /api/cases``: the cases in the account's jurisdiction (no identifiers).
- ``POST /api/cases``: register a case (investigators, in their jurisdiction).
- ``POST /api/cases/search``: find cases by number, person_ref, phone, identity
  number, region or confirmation dates. A POST body on purpose: identifiers in a
  query string would end up in proxy and server access logs.
- ``GET /api/cases/<case_id>?purpose=...``: one case with its identifiers decrypted;
  the purpose is required and kept in the audit log.

Nothing here logs, and errors name the field, never echo its value. The case pages are
in cases/views.py and validate their forms with the same ``dates_from``,
``identifiers_from`` and ``region_from``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from epitrace.hub import access, crypto, policy, reasons
from epitrace.hub.accounts.models import Region
from epitrace.hub.api import BadRequest, bad_request, body_of, field
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.cases.dates import birth_date_problem, date_problem
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import (
    CaseDates,
    Identifiers,
    cases_matching,
    identifiers_of,
    normalise_national_id,
    normalise_phone,
    register_case,
)
from epitrace.hub.security import client_ip

LIST_LIMIT = 1000
# A new case's fields, as the registration form and the API body give them; all are
# required but the onset date (see dates_from).
CASE_FIELDS = (
    "region",
    "name",
    "birth_date",
    "national_id",
    "address",
    "person_ref",
    "phones",
    "onset_date",
    "specimen_date",
    "confirmation_date",
    "isolation_date",
)
REQUIRED_CASE_FIELDS = tuple(name for name in CASE_FIELDS if name != "onset_date")
# The search body's fields (the OpenAPI schema lists them in this order).
SEARCH_FIELDS = (
    "purpose",
    "case_id",
    "person_ref",
    "phone",
    "national_id",
    "region",
    "confirmed_from",
    "confirmed_to",
)
SEARCH_KEYS = set(SEARCH_FIELDS)
# Criteria that look a person up: the search needs a purpose, kept with the cases found.
IDENTIFIER_KEYS = {"person_ref", "phone", "national_id"}


def _summary(case: Case) -> dict[str, Any]:
    """What a list shows: the case and its dates, never who the person is."""

    def iso(day: dt.date | None) -> str | None:
        return day.isoformat() if day else None

    return {
        "case_id": case.case_id,
        "region": case.region.code,
        "onset_date": iso(case.onset_date),
        "specimen_date": iso(case.specimen_date),
        "confirmation_date": iso(case.confirmation_date),
        "isolation_date": iso(case.isolation_date),
    }


def _cases() -> QuerySet:
    return Case.objects.select_related("region").order_by("case_id")


def _date(data: dict[str, Any], name: str, *, required: bool = True) -> dt.date | None:
    text = field(data, name, required=required)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        # The value is not echoed: it may be a birth date.
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD)") from error


def _phones(data: dict[str, Any]) -> list[str]:
    phones = data.get("phones")
    if not isinstance(phones, list) or not phones:
        raise BadRequest("phones must be a non-empty list of phone numbers")
    for phone in phones:
        if not isinstance(phone, str) or not 7 <= len(normalise_phone(phone)) <= 15:
            raise BadRequest("phones: each must be a phone number of 7 to 15 digits")
    return [phone.strip() for phone in phones]


def identifiers_from(data: dict[str, Any]) -> Identifiers:
    """The person's identifiers from a form or body; ``BadRequest`` names a wrong field."""
    national_id = field(data, "national_id")
    if not normalise_national_id(national_id):
        raise BadRequest("national_id must contain letters or digits")
    birth_date = _date(data, "birth_date")
    problem = birth_date_problem(birth_date)
    if problem:
        raise BadRequest(problem)
    return Identifiers(
        name=field(data, "name").strip(),
        birth_date=birth_date,
        national_id=national_id.strip(),
        address=field(data, "address").strip(),
        person_ref=field(data, "person_ref").strip(),
        phones=_phones(data),
    )


def dates_from(data: dict[str, Any]) -> CaseDates:
    """The case's dates from a form or body, checked against each other."""
    dates = CaseDates(
        specimen_date=_date(data, "specimen_date"),
        confirmation_date=_date(data, "confirmation_date"),
        isolation_date=_date(data, "isolation_date"),
        onset_date=_date(data, "onset_date", required=False),
    )
    problem = date_problem(dates)
    if problem:
        raise BadRequest(problem)
    return dates


class SamePerson(BadRequest):
    """The person is already a case: registering them again needs explicit confirmation."""


def check_new_person(request: HttpRequest, ids: Identifiers, *, confirmed: bool) -> None:
    """Refuse a second case of one person (the same identity number or ``person_ref``,
    by the blind index) unless the investigator confirms it is one (a reinfection)."""
    same = {*cases_matching("national_id", ids.national_id)}
    same |= {*cases_matching("person_ref", ids.person_ref)}
    if not same or confirmed:
        return
    shown = policy.visible(request.user, "case.view", Case.objects.filter(pk__in=same))
    named = ", ".join(sorted(shown.values_list("case_id", flat=True))) or "a case of another region"
    raise SamePerson(
        f"this person (same national_id or person_ref) is already registered as {named}; "
        "confirm a new case of the same person (same_person_confirmed) to register it"
    )


def case_regions(request: HttpRequest, action: str) -> QuerySet:
    """The regions a case may be registered in by the account: those of its jurisdiction
    that hold cases (a 시군구, never a 시도)."""
    regions = policy.visible(request.user, action, Region.objects.all())
    return regions.exclude(level=Region.Level.SIDO)


def region_from(request: HttpRequest, action: str, code: str) -> Region:
    """The region ``code`` if a case may be registered in it (``case_regions``)."""
    # Only regions in the account's jurisdiction; others look unknown (nothing leaks).
    region = case_regions(request, action).filter(code=code).first()
    if region is None:
        raise BadRequest("region: unknown region (a case's region is a 시군구 code)")
    return region


@require_http_methods(["GET", "POST"])
@access.api()
def case_collection(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _create(request)
    access.require(request, "case.list")
    cases = policy.visible(request.user, "case.list", _cases())[:LIST_LIMIT]
    return JsonResponse({"cases": [_summary(c) for c in cases]})


@access.api("case.create")
def _create(request: HttpRequest) -> JsonResponse:
    try:
        data = body_of(request)
        region = region_from(request, "case.create", field(data, "region"))
        dates, ids = dates_from(data), identifiers_from(data)
        check_new_person(request, ids, confirmed=data.get("same_person_confirmed") is True)
    except SamePerson as error:
        return JsonResponse({"error": str(error)}, status=409)
    except BadRequest as error:
        return bad_request(error)
    return JsonResponse(_summary(create_case(request, region, dates, ids)), status=201)


def create_case(request: HttpRequest, region: Region, dates: CaseDates, ids: Identifiers) -> Case:
    """Register the case (its fields already checked) and record ``case.created``: the
    API and the registration page both create through here."""
    case = register_case(region, dates, ids, by=request.user.get_username())
    record(
        request.user.get_username(),
        "case.created",
        role=policy.assignment_of(request.user).role,
        object_type="case",
        object_id=case.audit_name,
        detail={"case_id": case.case_id, "region": region.code, "ip": client_ip(request)},
    )
    return case


def _search_filter(request: HttpRequest, data: dict[str, Any], cases: QuerySet) -> QuerySet:
    unknown = set(data) - SEARCH_KEYS
    if unknown:
        raise BadRequest(f"unknown search fields: {', '.join(sorted(unknown))}")
    if not set(data) - {"purpose"}:
        raise BadRequest("give at least one of: " + ", ".join(sorted(SEARCH_KEYS - {"purpose"})))
    if case_id := field(data, "case_id", required=False):
        cases = cases.filter(case_id=case_id.strip().upper())
    for kind in ("person_ref", "phone", "national_id"):
        if value := field(data, kind, required=False):
            cases = cases.filter(pk__in=cases_matching(kind, value))
    if code := field(data, "region", required=False):  # a 시도 code: all its 시군구
        cases = cases.filter(Q(region__code=code) | Q(region__sido__code=code))
    if start := _date(data, "confirmed_from", required=False):
        cases = cases.filter(confirmation_date__gte=start)
    if end := _date(data, "confirmed_to", required=False):
        cases = cases.filter(confirmation_date__lte=end)
    return cases


@require_POST
@access.api()
def case_search(request: HttpRequest) -> JsonResponse:
    try:
        data = body_of(request)
        purpose = field(data, "purpose", required=False)
    except BadRequest as error:
        return bad_request(error)
    access.require(request, "case.search")
    try:
        if IDENTIFIER_KEYS & {k for k, v in data.items() if v}:
            reasons.checked(purpose, "purpose")
        cases = _search_filter(request, data, policy.visible(request.user, "case.search", _cases()))
    except (BadRequest, reasons.NotAReason) as error:
        return bad_request(error)
    found = list(cases[:LIST_LIMIT])
    # Which criteria were used and which cases matched; never the values searched for.
    # The purpose is kept with the cases found (cases/notes.py), not in the entry.
    record(
        request.user.get_username(),
        "case.searched",
        role=policy.assignment_of(request.user).role,
        detail={
            "criteria": sorted(set(data) - {"purpose"}),
            "matches": len(found),
            "cases": [case.case_id for case in found],
            **notes.sealed_texts(found, purpose=purpose),
        },
    )
    return JsonResponse({"cases": [_summary(c) for c in found]})


def _identifiers_json(ids: Identifiers) -> dict[str, Any]:
    return {
        "name": ids.name,
        "birth_date": ids.birth_date.isoformat(),
        "phones": ids.phones,
        "national_id": ids.national_id,
        "address": ids.address,
        "person_ref": ids.person_ref,
    }


@require_GET
@access.api()
def case_detail(request: HttpRequest, case_id: str) -> JsonResponse:
    purpose = request.GET.get("purpose", "").strip()
    if not reasons.is_meaningful(purpose) and policy.is_verified(request.user):
        # Refused before the lookup, so the audit log shows no view that never happened.
        rule = reasons.rule("purpose")
        return bad_request(BadRequest(f"{rule}: it is required to view a case's personal data"))
    case = access.find(request, "case.view", _cases(), purpose=purpose, case_id=case_id)
    try:
        identifiers: dict[str, Any] | None = _identifiers_json(identifiers_of(case))
        status = "readable"
    except crypto.KeyDestroyed:
        identifiers, status = None, "destroyed"
    return JsonResponse({**_summary(case), "identifiers": identifiers, "personal_data": status})
