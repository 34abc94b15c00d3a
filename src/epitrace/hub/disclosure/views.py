"""The HTML pages of the disclosure: the investigator's review, and the public list.

- ``GET  /cases/<case_id>/disclosure``: the draft or publication, what was left out
  and why (``disclosure.prepare``: investigators, their jurisdiction).
- ``POST /cases/<case_id>/disclosure/<step>``: prepare, edit, remove, merge, include
  (``disclosure.prepare``), publish and withdraw (``disclosure.publish``).
- ``GET  /public/exposures``: no sign-in, no personal data: places, neighbourhoods,
  rides and time windows, listed by place (its JSON feed is disclosure/api.py).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from epitrace.hub import access, crypto, policy
from epitrace.hub.cases.models import Case
from epitrace.hub.disclosure import drafts, rules
from epitrace.hub.disclosure.models import Disclosure, DisclosureEntry
from epitrace.hub.exchange import results

# Each step and the policy action it needs.
STEPS = {
    "prepare": "disclosure.prepare",
    "edit": "disclosure.prepare",
    "remove": "disclosure.prepare",
    "merge": "disclosure.prepare",
    "include": "disclosure.prepare",
    "publish": "disclosure.publish",
    "withdraw": "disclosure.publish",
}
FEED_CACHE_SECONDS = 60


def _find(request: HttpRequest, action: str, case_id: str) -> Case:
    return access.find(
        request,
        action,
        Case.objects.select_related("region"),
        purpose="public disclosure",
        case_id=case_id,
    )


def _reviewer_zone() -> Any:
    """The signed-in user's zone (their preference, else the hub's): the review shows
    and reads times in it, as the other pages do."""
    return timezone.get_current_timezone()


def _local(value: dt.datetime, zone: Any) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _input_value(value: dt.datetime, zone: Any) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def place_shown(entry: DisclosureEntry) -> str:
    """The place or ride as people read it: the ride's mode (in the page's language) and
    line, the place's name, or "a private place"."""
    if entry.category == DisclosureEntry.Category.TRANSPORT:
        mode = _(rules.MODE_LABELS[entry.mode]) if entry.mode in rules.MODE_LABELS else entry.mode
        return f"{mode} {entry.line}".strip()
    return entry.label or _("a private place")


def _analysis_stays_and_contacts(case: Case) -> tuple[list[dict], list[dict] | None]:
    """The latest analysis's stays and contacts (None: no contact search); nothing once
    the case's data was destroyed or before any analysis."""
    try:
        analysis = results.latest_analysis(case)
    except crypto.KeyDestroyed:
        return [], None
    if analysis is None:
        return [], None
    contacts = analysis.contacts.to_pylist() if analysis.contacts is not None else None
    return analysis.stays.to_pylist(), contacts


def _contact_counts(
    entries: list[DisclosureEntry], stays: list[dict], contacts: list[dict] | None
) -> dict[int, tuple[int, int]]:
    """{entry: (contacts found at its stays, not yet identified)}; empty without a search."""
    if contacts is None:
        return {}
    return {e.pk: rules.contacts_at(e.stays, stays, contacts) for e in entries}


def _stays_text(entry: DisclosureEntry, stays: list[dict]) -> str:
    """The stays an entry comes from, as the case page numbers them. A ride is no stay (its
    number only names it in the draft): it reads as the stays it went between, "3 → 4"."""
    if entry.category != "transport":
        return ", ".join(str(seq) for seq in entry.stays)
    # The entry's times are rounded outwards (rules.GRANULARITY): the stay left began
    # before the ride, the stay reached ends after it.
    before = [s["seq"] for s in stays if s["start"] < entry.start]
    after = [s["seq"] for s in stays if s["end"] > entry.end]
    if not before and not after:
        return "–"
    return f"{max(before) if before else '–'} → {min(after) if after else '–'}"


def _review(
    request: HttpRequest, case: Case, *, error: str = "", status: int = 200
) -> HttpResponse:
    disclosure = Disclosure.objects.filter(case=case).first()
    zone = _reviewer_zone()
    rows = []
    if disclosure is not None:
        entries = list(disclosure.entries.order_by("category", "neighbourhood", "label", "start"))
        stays, contacts = _analysis_stays_and_contacts(case)
        counts = _contact_counts(entries, stays, contacts)
        for entry in entries:
            rows.append(
                {
                    "contacts": counts.get(entry.pk),
                    "stays": _stays_text(entry, stays),
                    "entry": entry,
                    "place": place_shown(entry),
                    "start": _local(entry.start, zone),
                    "end": _local(entry.end, zone),
                    "start_input": _input_value(entry.start, zone),
                    "end_input": _input_value(entry.end, zone),
                    "expires": _local(entry.expires_at, zone),
                    "shown": disclosure.status == Disclosure.Status.PUBLISHED
                    and entry.withdrawn_at is None
                    and entry.expires_at > drafts.now(),
                }
            )
    context = {
        "case": case,
        "disclosure": disclosure,
        "rows": rows,
        "window": (
            (_local(disclosure.window_start, zone), _local(disclosure.window_end, zone))
            if disclosure
            else None
        ),
        "exclusions": [
            {**item, "overrulable": item["rule"].startswith(drafts.OVERRULABLE)}
            for item in (disclosure.exclusions if disclosure else [])
        ],
        "error": error,
        "zone": str(zone),
        "may_publish": policy.permits(request.user, "disclosure.publish"),
    }
    return render(request, "disclosure/review.html", context, status=status)


@require_GET
@access.page()
def review_page(request: HttpRequest, case_id: str) -> HttpResponse:
    case = _find(request, "disclosure.prepare", case_id)
    return _review(request, case)


def _ids(request: HttpRequest) -> list[int]:
    try:
        return [int(v) for v in request.POST.getlist("entry")]
    except ValueError:
        raise drafts.DisclosureError(_("no such entry in this draft")) from None


def _moment(text: str) -> dt.datetime:
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError:
        raise drafts.DisclosureError(_("times are YYYY-MM-DD HH:MM")) from None
    return naive.replace(tzinfo=_reviewer_zone()).astimezone(dt.UTC)


def _analysis(case: Case) -> Any:
    try:
        analysis = results.latest_analysis(case)
    except crypto.KeyDestroyed:
        raise drafts.DisclosureError(_("this case's data was destroyed")) from None
    if analysis is None:
        raise drafts.DisclosureError(_("this case has no analysis yet"))
    return analysis


def _take_step(request: HttpRequest, step: str, case: Case) -> None:
    by = request.user.get_username()
    role = getattr(policy.assignment_of(request.user), "role", "")
    if step == "prepare":
        drafts.prepare_draft(case, _analysis(case), by=by, role=role)
        return
    disclosure = Disclosure.objects.filter(case=case).first()
    if disclosure is None:
        raise drafts.DisclosureError(_("prepare a draft first"))
    if step == "edit":
        (entry_id,) = _ids(request)[:1] or [0]
        changes: dict[str, Any] = {
            name: request.POST[name]
            for name in ("label", "neighbourhood", "line")
            if name in request.POST
        }
        for name in ("start", "end"):
            if request.POST.get(name):
                changes[name] = _moment(request.POST[name])
        drafts.edit_entry(disclosure, entry_id, changes, by=by, role=role)
    elif step == "remove":
        drafts.remove_entries(disclosure, _ids(request), by=by, role=role)
    elif step == "merge":
        drafts.merge(disclosure, _ids(request), by=by, role=role)
    elif step == "include":
        try:
            seq = int(request.POST.get("seq", ""))
        except ValueError:
            raise drafts.DisclosureError(_("no such stay")) from None
        drafts.include_stay(disclosure, _analysis(case), seq, by=by, role=role)
    elif step == "publish":
        drafts.publish(disclosure, by=by, role=role)
    elif step == "withdraw":
        (entry_id,) = _ids(request)[:1] or [0]
        reason = request.POST.get("reason", "")
        drafts.withdraw(disclosure, entry_id, reason, by=by, role=role)


@require_POST
@access.page()
def step_view(request: HttpRequest, case_id: str, step: str) -> HttpResponse:
    action = STEPS.get(step)
    if action is None:
        raise access.Refused(policy.NOT_FOUND)
    case = _find(request, action, case_id)
    try:
        _take_step(request, step, case)
    except drafts.DisclosureError as problem:
        return _review(request, case, error=str(problem), status=400)
    return HttpResponseRedirect(f"/cases/{case.case_id}/disclosure")


# --- public ------------------------------------------------------------------


def public_tz() -> str:
    """The zone the public list and feed are dated in: the hub's local zone."""
    return settings.EPITRACE_LOCAL_TIME_ZONE


@require_GET
def public_page(request: HttpRequest) -> HttpResponse:
    """The public list: no sign-in, nothing about anyone, listed by region and place."""
    now = drafts.now()
    zone = zoneinfo.ZoneInfo(public_tz())
    entries: list[tuple[DisclosureEntry, str, str, str]] = [
        (e, place_shown(e), _local(e.start, zone), _local(e.end, zone))
        for e in drafts.shown_entries(now)
    ]
    context = {"entries": entries, "tz": public_tz(), "updated": _local(now, zone)}
    response = render(request, "disclosure/public.html", context)
    response.headers["Cache-Control"] = f"public, max-age={FEED_CACHE_SECONDS}"
    return response
