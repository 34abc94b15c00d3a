"""The national guideline on disclosing a confirmed patient's movements, as pure functions.

The Central Disease Control Headquarters' guideline (2020, 3rd edition) asks that
the public be told *where and when* they may have been exposed, not who the patient
is or what their day looked like:

1. Places and means of transport with the time windows of possible exposure, listed
   by place; never a personal timeline (no order of visits, no link between entries).
2. Only from 2 days before symptom onset (before the specimen date when there are no
   symptoms) until isolation.
3. Never the home. No sex, age, nationality, residence or workplace, unless people
   who cannot be identified may have been exposed there (a workplace that serves
   customers is then a place like any other).
4. Nothing finer than the neighbourhood (dong) for the address of a private place.
5. An entry is withdrawn once all its contacts are identified, and expires 14 days
   after the last exposure there.

``classify_stays`` guesses what each stay was (home, workplace, public place,
private place) and ``transport_rides`` takes the rides from the path; the
investigator corrects both in the draft. ``candidate_entries`` applies the rules
and says, for every stay it leaves out, which rule did. Nothing here touches the
database or knows who the patient is.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

# Marks the reasons for translation where they are shown (the review page); the rules
# themselves stay in English, whatever the reviewer's language.
from django.utils.translation import gettext_noop

from epitrace.analysis.home import home_by_nights
from epitrace.distances import point_distance_m as distance_m

Kind = Literal["home", "workplace", "public", "private", "transport"]
Category = Literal["place", "transport"]

DAYS_BEFORE_ONSET = 2
EXPIRY = dt.timedelta(days=14)
GRANULARITY = dt.timedelta(minutes=10)  # windows widened outward to this
HOME_RADIUS_M = 300.0  # stays this close to the night-time place count as home
WORK_MIN_HOURS = 4.0  # an unnamed daytime stay this long on a weekday: a workplace
PUBLIC_MODES = {"bus", "subway", "train", "taxi", "ferry", "flight"}
# How the review and the public list name each mode (translated where shown).
MODE_LABELS = {
    "bus": gettext_noop("Bus"),
    "subway": gettext_noop("Subway"),
    "train": gettext_noop("Train"),
    "taxi": gettext_noop("Taxi"),
    "ferry": gettext_noop("Ferry"),
    "flight": gettext_noop("Flight"),
}
# "123 Dongseong-ro", "Gukchaebosang-ro 12-gil 5": a street address, finer than a dong.
STREET_ADDRESS = re.compile(r"(\d+\s*\S*(ro|gil|로|길)\b|(ro|gil|로|길)\s*\d)", re.IGNORECASE)


@dataclass(frozen=True)
class StayPlace:
    """One stay or ride of the case, with what kind of place it was."""

    seq: int
    start: dt.datetime  # aware
    end: dt.datetime
    kind: Kind
    name: str = ""  # the place's name (a business, a stop), or empty
    lat: float | None = None
    lon: float | None = None
    neighbourhood: str = ""  # the dong, e.g. "Samdeok-dong"
    # May people who cannot be identified have been exposed there? None: by kind
    # (yes for public places and transport, no for private places and workplaces).
    unidentified_exposure: bool | None = None
    mode: str = ""  # transport: bus, subway, ...
    line: str = ""  # transport: "Line 1", "bus 410"

    @property
    def open_to_unknown_people(self) -> bool:
        if self.unidentified_exposure is not None:
            return self.unidentified_exposure
        return self.kind in ("public", "transport")


@dataclass(frozen=True)
class Entry:
    """One line of the public list: a place or a ride, and when one may have been exposed."""

    category: Category
    label: str  # the business or stop's name; empty for a private place
    neighbourhood: str
    start: dt.datetime
    end: dt.datetime
    lat: float | None = None  # public places only
    lon: float | None = None
    mode: str = ""
    line: str = ""
    stays: tuple[int, ...] = ()  # which stays it came from (for the reviewer, never public)

    @property
    def expires_at(self) -> dt.datetime:
        """14 days after the last exposure, the entry is taken down."""
        return self.end + EXPIRY

    def place_key(self) -> tuple[str, str, str, str, str]:
        return (self.category, self.label, self.neighbourhood, self.mode, self.line)


@dataclass(frozen=True)
class Exclusion:
    seq: int
    rule: str  # which rule left it out, as the reviewer reads it


@dataclass
class Candidates:
    entries: list[Entry] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)


# --- rule 2: the disclosure window ------------------------------------------


def disclosure_window(
    onset: dt.date | None, specimen: dt.date, isolation: dt.date, tz: str
) -> tuple[dt.datetime, dt.datetime]:
    """From 00:00 two days before onset (or the specimen date without symptoms) to the
    end of the isolation day, local time; returned in UTC."""
    zone = zoneinfo.ZoneInfo(tz)
    first = (onset or specimen) - dt.timedelta(days=DAYS_BEFORE_ONSET)
    last = isolation + dt.timedelta(days=1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last, dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


# --- what each stay was -----------------------------------------------------


def _is_workday_stay(stay: dict[str, Any], zone: zoneinfo.ZoneInfo) -> bool:
    start, end = stay["start"].astimezone(zone), stay["end"].astimezone(zone)
    hours = (end - start).total_seconds() / 3600
    return start.weekday() < 5 and 6 <= start.hour <= 12 and hours >= WORK_MIN_HOURS


def classify_stays(stays: Iterable[dict[str, Any]], tz: str) -> list[StayPlace]:
    """A first guess of each stay's kind, for the investigator to correct:

    - unnamed and near where the nights were spent: ``home``;
    - named (a card payment, an entry log, a transit stop, GPS at a known place):
      ``public``: businesses and stops are open to people nobody can list;
    - unnamed, long, starting on a weekday morning: ``workplace``;
    - any other unnamed place: ``private``.
    """
    rows = list(stays)
    zone = zoneinfo.ZoneInfo(tz)
    home = home_by_nights(rows, tz)
    places = []
    for s in rows:
        name = s.get("place_name") or ""
        kind: Kind
        if name:
            kind = "public"
        elif home is not None and distance_m(home, (s["lat"], s["lon"])) <= max(
            HOME_RADIUS_M, s.get("radius_m") or 0.0
        ):
            kind = "home"
        elif _is_workday_stay(s, zone):
            kind = "workplace"
        else:
            kind = "private"
        places.append(
            StayPlace(
                seq=int(s["seq"]),
                start=s["start"],
                end=s["end"],
                kind=kind,
                name=name,
                lat=s["lat"],
                lon=s["lon"],
            )
        )
    return places


def transport_rides(path: dict[str, Any], first_seq: int) -> list[StayPlace]:
    """Rides on public transport from the path's moves (LineStrings with a mode); numbered
    after the stays. Walks and moves of unknown mode are not disclosed."""
    rides = []
    for feature in path.get("features", []):
        if feature.get("geometry", {}).get("type") != "LineString":
            continue
        props = feature.get("properties", {})
        mode = (props.get("mode") or "").lower()
        if mode not in PUBLIC_MODES:
            continue
        start = dt.datetime.fromisoformat(props["start"])
        end = dt.datetime.fromisoformat(props["end"])
        seq = first_seq + len(rides)
        rides.append(StayPlace(seq=seq, start=start, end=end, kind="transport", mode=mode))
    return rides


# --- rules 1, 3, 4, 5: the entries -----------------------------------------


def _floor(t: dt.datetime, step: dt.timedelta = GRANULARITY) -> dt.datetime:
    seconds = step.total_seconds()
    return dt.datetime.fromtimestamp(math.floor(t.timestamp() / seconds) * seconds, dt.UTC)


def _ceil(t: dt.datetime, step: dt.timedelta = GRANULARITY) -> dt.datetime:
    seconds = step.total_seconds()
    return dt.datetime.fromtimestamp(math.ceil(t.timestamp() / seconds) * seconds, dt.UTC)


def _left_out(place: StayPlace) -> str | None:
    """Rule 3: why this kind of place is not disclosed (None: it may be)."""
    if place.kind == "home":
        return gettext_noop("home: never disclosed")
    if place.kind == "workplace" and not place.open_to_unknown_people:
        return gettext_noop(
            "workplace: disclosed only where unidentified people may have been exposed"
        )
    if place.kind == "private" and not place.open_to_unknown_people:
        return gettext_noop("private place: everyone there can be identified")
    if place.kind == "transport" and not place.mode:
        return gettext_noop("a move of unknown means: not disclosed")
    return None


def entry_of(place: StayPlace, start: dt.datetime, end: dt.datetime) -> Entry:
    """Rule 4: a private place (or a workplace) is named by its neighbourhood only, with
    no coordinates; a public place keeps its name and position."""
    if place.kind == "transport":
        return Entry(
            "transport", "", "", start, end, mode=place.mode, line=place.line, stays=(place.seq,)
        )
    public = place.kind == "public"
    return Entry(
        "place",
        place.name if public or (place.kind == "workplace" and place.name) else "",
        place.neighbourhood,
        start,
        end,
        lat=round(place.lat, 4) if public and place.lat is not None else None,
        lon=round(place.lon, 4) if public and place.lon is not None else None,
        stays=(place.seq,),
    )


def merge_entries(entries: list[Entry]) -> Entry:
    """One entry covering them all: the earliest start to the latest end. The first
    entry's place is kept (the reviewer merges visits to one place)."""
    if not entries:
        raise ValueError("nothing to merge")
    first = entries[0]
    return replace(
        first,
        start=min(e.start for e in entries),
        end=max(e.end for e in entries),
        stays=tuple(sorted({s for e in entries for s in e.stays})),
    )


def _merge_repeats(entries: list[Entry]) -> list[Entry]:
    """Visits to the same place whose windows touch or overlap become one entry."""
    merged: list[Entry] = []
    for entry in sorted(entries, key=lambda e: (e.place_key(), e.start)):
        last = merged[-1] if merged else None
        if last and last.place_key() == entry.place_key() and entry.start <= last.end:
            merged[-1] = merge_entries([last, entry])
        else:
            merged.append(entry)
    return merged


def public_order(entries: Iterable[Entry]) -> list[Entry]:
    """Rule 1: listed by place (neighbourhood, name, then time), never in visiting order."""
    return sorted(entries, key=lambda e: (e.category, e.neighbourhood, e.label, e.mode, e.start))


def candidate_entries(
    places: Iterable[StayPlace],
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime | None = None,
) -> Candidates:
    """The entries the guideline allows, and every stay left out with its rule."""
    begin, finish = window
    result = Candidates()
    kept = []
    for place in places:
        reason = _left_out(place)
        if reason is None and (place.end <= begin or place.start >= finish):
            reason = (
                gettext_noop("before the window (2 days before onset or specimen)")
                if place.end <= begin
                else gettext_noop("after isolation")
            )
        if reason is not None:
            result.exclusions.append(Exclusion(place.seq, reason))
            continue
        start = _floor(max(place.start, begin))
        end = _ceil(min(place.end, finish))
        if end <= start:
            end = start + GRANULARITY
        kept.append(entry_of(place, start, end))
    for entry in _merge_repeats(kept):
        if now is not None and entry.expires_at <= now:
            for seq in entry.stays:
                result.exclusions.append(
                    Exclusion(seq, gettext_noop("expired: 14 days after the exposure"))
                )
            continue
        result.entries.append(entry)
    result.entries = public_order(result.entries)
    result.exclusions.sort(key=lambda x: x.seq)
    return result


# --- rule 5's evidence: who was found there ---------------------------------


def contacts_at(
    entry_stays: Iterable[int], stays: Iterable[dict[str, Any]], contacts: Iterable[dict[str, Any]]
) -> tuple[int, int]:
    """(people the contact search found at the entry's stays, of whom not yet identified).

    A contact counts for a stay when its co-presence overlaps the stay's time. Not yet
    identified: known only by a line or a card (``carrier:subscriber``,
    ``issuer:card_id``: no registry named the person). For the reviewer deciding a
    withdrawal; the search never finds everyone who was there, so it decides nothing.
    """
    wanted = set(entry_stays)
    windows = [(s["start"], s["end"]) for s in stays if s["seq"] in wanted]
    found: set[str] = set()
    for contact in contacts:
        if any(contact["start"] < end and contact["end"] > start for start, end in windows):
            found.add(contact["contact_ref"])
    unresolved = sum(1 for ref in found if ":" in ref)
    return len(found), unresolved


# --- what the public may read -----------------------------------------------


@dataclass(frozen=True)
class Problem:
    entry: int  # 1-based position in the list given
    message: str

    def __str__(self) -> str:
        return f"entry {self.entry}: {self.message}"


NO_NEIGHBOURHOOD = gettext_noop("a private place needs its neighbourhood (dong)")
LOOKS_LIKE_STREET = gettext_noop("the neighbourhood looks like a street address")
ENDS_BEFORE_START = gettext_noop("the exposure window ends before it starts")


def problems_before_publishing(entries: Iterable[Entry]) -> list[Problem]:
    """What the reviewer must fix first: a private place with no neighbourhood (it
    would say nothing), or a street address where only the neighbourhood may be."""
    found = []
    for i, entry in enumerate(entries, start=1):
        if entry.category == "place" and not entry.label and not entry.neighbourhood:
            found.append(Problem(i, NO_NEIGHBOURHOOD))
        if STREET_ADDRESS.search(entry.neighbourhood):
            found.append(Problem(i, LOOKS_LIKE_STREET))
        if entry.end <= entry.start:
            found.append(Problem(i, ENDS_BEFORE_START))
    return found


def is_shown(
    published: bool, withdrawn_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime
) -> bool:
    """Rule 5 at read time: published, not withdrawn, not yet expired."""
    return published and withdrawn_at is None and expires_at > now
