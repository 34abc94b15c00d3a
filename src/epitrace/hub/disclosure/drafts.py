"""Drafts, publication, withdrawal and expiry of a case's disclosure, in the database.

The rules are in ``rules`` (pure); this module stores what they produce and what the
reviewer changes. Callers have passed the policy (``disclosure.prepare`` to draft and
edit, ``disclosure.publish`` to publish and withdraw); every change is recorded in
the audit log here, with counts and rules, never a place or a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from epitrace.errors import EpitraceError
from epitrace.hub import reasons
from epitrace.hub.audit.chain import record
from epitrace.hub.cases import notes
from epitrace.hub.cases.models import Case
from epitrace.hub.disclosure import areas, rules
from epitrace.hub.disclosure.models import Disclosure, DisclosureEntry

# Exclusions a reviewer may overturn: what the place was is a guess; the window is not.
OVERRULABLE = ("home", "workplace", "private")


def now() -> dt.datetime:
    """The disclosure's clock: every rule that depends on the time (what has expired, what
    the public reads) asks it here, so that a test or a dry run can move it."""
    return timezone.now()


class DisclosureError(EpitraceError, ValueError):
    """The change is not allowed now; the message says why (shown to the reviewer)."""


def _audit(actor: str, role: str, action: str, case: Case, **detail: Any) -> None:
    record(
        actor,
        action,
        role=role,
        object_type="case",
        object_id=case.audit_name,
        detail={"case": case.case_id, **detail},
    )


def _entry_row(disclosure: Disclosure, entry: rules.Entry) -> DisclosureEntry:
    return DisclosureEntry(
        disclosure=disclosure,
        case=disclosure.case,
        category=entry.category,
        label=entry.label,
        neighbourhood=entry.neighbourhood,
        region_name=disclosure.case.region.name,
        lat=entry.lat,
        lon=entry.lon,
        mode=entry.mode,
        line=entry.line,
        start=entry.start,
        end=entry.end,
        expires_at=entry.expires_at,
        stays=list(entry.stays),
    )


def as_rule_entry(row: DisclosureEntry) -> rules.Entry:
    return rules.Entry(
        category=row.category,  # type: ignore[arg-type]
        label=row.label,
        neighbourhood=row.neighbourhood,
        start=row.start,
        end=row.end,
        lat=row.lat,
        lon=row.lon,
        mode=row.mode,
        line=row.line,
        stays=tuple(row.stays),
    )


def places_of(analysis: Any) -> list[rules.StayPlace]:
    """The analysis's stays with a guessed kind and their neighbourhood (from the city's
    outlines, when the administrator set them), and its rides on public transport."""
    tz = analysis.timezone or "UTC"
    stays = analysis.stays.to_pylist()
    places = [
        dataclasses.replace(p, neighbourhood=areas.neighbourhood_of(p.lat, p.lon))
        for p in rules.classify_stays(stays, tz)
    ]
    first_ride = max((s["seq"] for s in stays), default=0) + 1
    return places + rules.transport_rides(analysis.path, first_ride)


def case_window(case: Case, tz: str) -> tuple[dt.datetime, dt.datetime]:
    return rules.disclosure_window(case.onset_date, case.specimen_date, case.isolation_date, tz)


@transaction.atomic
def prepare_draft(case: Case, analysis: Any, *, by: str, role: str) -> Disclosure:
    """A new draft from the case's latest analysis (replacing any earlier draft or
    publication: the case's entries leave the public list until published again)."""
    tz = analysis.timezone or "UTC"
    window = case_window(case, tz)
    candidates = rules.candidate_entries(places_of(analysis), window, now())
    disclosure, _ = Disclosure.objects.update_or_create(
        case=case,
        defaults={
            "status": Disclosure.Status.DRAFT,
            "window_start": window[0],
            "window_end": window[1],
            "timezone": tz,
            "analysis_computed_at": analysis.computed_at,
            "exclusions": [{"seq": x.seq, "rule": x.rule} for x in candidates.exclusions],
            "prepared_by": by,
            "prepared_at": now(),
            "published_by": "",
            "published_at": None,
        },
    )
    disclosure.entries.all().delete()
    DisclosureEntry.objects.bulk_create(_entry_row(disclosure, e) for e in candidates.entries)
    _audit(
        by,
        role,
        "disclosure.drafted",
        case,
        entries=len(candidates.entries),
        left_out=len(candidates.exclusions),
    )
    return disclosure


def _draft_entries(disclosure: Disclosure, ids: Iterable[int]) -> list[DisclosureEntry]:
    if disclosure.status != Disclosure.Status.DRAFT:
        raise DisclosureError(_("a published disclosure is not edited: prepare a new draft"))
    wanted = sorted(set(ids))
    found = list(disclosure.entries.filter(pk__in=wanted).order_by("start", "pk"))
    if len(found) != len(wanted) or not found:
        raise DisclosureError(_("no such entry in this draft"))
    return found


def edit_entry(
    disclosure: Disclosure, entry_id: int, changes: dict[str, Any], *, by: str, role: str
) -> DisclosureEntry:
    """The reviewer's corrections: the name shown, neighbourhood, line, window."""
    (entry,) = _draft_entries(disclosure, [entry_id])
    for name in ("label", "neighbourhood", "line"):
        if name in changes:
            setattr(entry, name, str(changes[name]).strip()[: 100 if name != "label" else 200])
    if "start" in changes:
        entry.start = changes["start"]
    if "end" in changes:
        entry.end = changes["end"]
    problems = rules.problems_before_publishing([as_rule_entry(entry)])
    if problems:
        raise DisclosureError(_(problems[0].message))
    entry.expires_at = entry.end + rules.EXPIRY
    entry.save()
    _audit(by, role, "disclosure.edited", disclosure.case, fields=sorted(changes))
    return entry


def remove_entries(disclosure: Disclosure, ids: Iterable[int], *, by: str, role: str) -> int:
    entries = _draft_entries(disclosure, ids)
    DisclosureEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()
    _audit(by, role, "disclosure.removed", disclosure.case, entries=len(entries))
    return len(entries)


@transaction.atomic
def merge(disclosure: Disclosure, ids: Iterable[int], *, by: str, role: str) -> DisclosureEntry:
    """Several entries become one (the first's place, the union of their windows)."""
    entries = _draft_entries(disclosure, ids)
    if len(entries) < 2:
        raise DisclosureError(_("choose at least two entries to merge"))
    merged = rules.merge_entries([as_rule_entry(e) for e in entries])
    keeper = entries[0]
    keeper.start, keeper.end = merged.start, merged.end
    keeper.stays = list(merged.stays)
    keeper.expires_at = merged.expires_at
    keeper.save()
    DisclosureEntry.objects.filter(pk__in=[e.pk for e in entries[1:]]).delete()
    _audit(by, role, "disclosure.merged", disclosure.case, entries=len(entries))
    return keeper


def include_stay(
    disclosure: Disclosure, analysis: Any, seq: int, *, by: str, role: str
) -> DisclosureEntry:
    """The reviewer knows better than the guess: the stay was a place where people who
    cannot be identified may have been exposed. Its window rule still holds."""
    if disclosure.status != Disclosure.Status.DRAFT:
        raise DisclosureError(_("a published disclosure is not edited: prepare a new draft"))
    left_out = {x["seq"]: x["rule"] for x in disclosure.exclusions}
    rule = left_out.get(seq, "")
    if not rule.startswith(OVERRULABLE):
        raise DisclosureError(_("only a guess of the kind of place can be overruled"))
    place = next((p for p in places_of(analysis) if p.seq == seq), None)
    if place is None:
        raise DisclosureError(_("the analysis has no such stay any more: prepare a new draft"))
    kind: rules.Kind = "public" if place.name else "private"
    opened = dataclasses.replace(place, kind=kind, unidentified_exposure=True)
    window = (disclosure.window_start, disclosure.window_end)
    candidates = rules.candidate_entries([opened], window, now())
    if not candidates.entries:
        raise DisclosureError(_(candidates.exclusions[0].rule))
    row = _entry_row(disclosure, candidates.entries[0])
    row.save()
    disclosure.exclusions = [x for x in disclosure.exclusions if x["seq"] != seq]
    disclosure.save(update_fields=["exclusions"])
    _audit(by, role, "disclosure.included", disclosure.case, overruled=rule.split(":")[0])
    return row


def _described(problem: rules.Problem) -> str:
    return _("entry %(n)d: %(problem)s") % {"n": problem.entry, "problem": _(problem.message)}


def publish(disclosure: Disclosure, *, by: str, role: str) -> Disclosure:
    if disclosure.status != Disclosure.Status.DRAFT:
        raise DisclosureError(_("already published"))
    entries = list(disclosure.entries.all())
    if not entries:
        raise DisclosureError(_("nothing to publish: the draft has no entries"))
    problems = rules.problems_before_publishing(as_rule_entry(e) for e in entries)
    if problems:
        raise DisclosureError("; ".join(_described(p) for p in problems))
    disclosure.status = Disclosure.Status.PUBLISHED
    disclosure.published_by, disclosure.published_at = by, now()
    disclosure.save(update_fields=["status", "published_by", "published_at"])
    _audit(by, role, "disclosure.published", disclosure.case, entries=len(entries))
    return disclosure


def withdraw(
    disclosure: Disclosure, entry_id: int, reason: str, *, by: str, role: str
) -> DisclosureEntry:
    """Rule 5: taken down once all its contacts are identified (or for another reason)."""
    entry = disclosure.entries.filter(pk=entry_id, withdrawn_at__isnull=True).first()
    if entry is None:
        raise DisclosureError(_("no such entry, or already withdrawn"))
    if not reasons.is_meaningful(reason):
        raise DisclosureError(_("say why the entry is withdrawn"))
    entry.withdrawn_at, entry.withdrawn_by = now(), by
    entry.withdrawn_reason = reason.strip()[:300]
    entry.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawn_reason"])
    reason = notes.sealed_texts([disclosure.case], reason=entry.withdrawn_reason)
    _audit(by, role, "disclosure.withdrawn", disclosure.case, **reason)
    return entry


# --- what the public reads ---------------------------------------------------


def shown_entries(at: dt.datetime | None = None) -> QuerySet:
    """Published, not withdrawn, not expired at ``at`` (default: ``now()``): decided at
    read time, whatever the job did."""
    return DisclosureEntry.objects.filter(
        disclosure__status=Disclosure.Status.PUBLISHED,
        withdrawn_at__isnull=True,
        expires_at__gt=at or now(),
    ).order_by("region_name", "category", "neighbourhood", "label", "mode", "start", "id")


def expire_entries(at: dt.datetime | None = None) -> int:
    """For the scheduled job: mark entries 14 days past their last exposure at ``at``
    (default: ``now()``) as expired (the public never sees them after that moment
    anyway); the count is audited."""
    at = at or now()
    due = DisclosureEntry.objects.filter(expires_at__lte=at, expired_at__isnull=True)
    count = due.update(expired_at=at)
    if count:
        record("system", "disclosure.expired", detail={"entries": count})
    return count


def public_record(entry: DisclosureEntry, tz: str) -> dict[str, Any]:
    """One entry of the feed: the place or ride and the window; nothing about anyone."""
    import zoneinfo

    zone = zoneinfo.ZoneInfo(tz)
    item: dict[str, Any] = {
        "category": entry.category,
        "reported_by": entry.region_name,  # the health region that published it
        "neighbourhood": entry.neighbourhood,
        "start": entry.start.astimezone(zone).isoformat(),
        "end": entry.end.astimezone(zone).isoformat(),
        "expires": entry.expires_at.astimezone(zone).isoformat(),
    }
    if entry.category == DisclosureEntry.Category.TRANSPORT:
        item.update({"mode": entry.mode, "line": entry.line})
    else:
        item["place"] = entry.label  # "" for a private place: the neighbourhood only
        if entry.label and entry.lat is not None and entry.lon is not None:
            item["lat"], item["lon"] = entry.lat, entry.lon
    return item
