"""Who was with the subject: the pure part of the contact search.

The stores are asked elsewhere (``epitrace.workflows.contact_search``); this module only
works on what they answered, so it is testable on hand-made tables:

- ``infectious_window``: from ``days_before`` days before onset (or before the
  confirmation date when there is no onset) to the confirmation date, which
  stands in for isolation;
- ``searched_stays``: which of the subject's stays are searched, and why the
  others are not (home, workplace-like, outside the window);
- ``Sighting``: one provider's answer that puts someone at a stay's place for
  an interval, with the strength of that evidence;
- ``merge_contacts``: sightings merged per person and stay, overlap minutes
  with the stay, an exposure score and a tier, rows of the contract's
  ``contacts`` table sorted by score.

Score (higher = more likely exposed), for one contact at one stay::

    score = 100 * evidence * time * place_risk

- ``evidence`` = 1 - prod(1 - s) over the contact's sources at this stay
  (strongest sighting per source), so independent sources add up;
  s = 1.0 for a card payment or check-in at the subject's own merchant/venue,
  0.5 at another merchant/venue within the search radius, and for a shared
  cell ``CELL_STRENGTH_M / (CELL_STRENGTH_M + stay radius)`` (a 150 m cell
  ~0.4, a 1 km cell ~0.09): small cells beat large ones;
- ``time`` = min(overlap, ``full_overlap_min``) / ``full_overlap_min``;
- ``place_risk`` from the kind of place when known (``PLACE_RISK``), else 1.

Tier (``contact_tier``), what an investigator acts on first:

- ``close``: at the subject's own venue or vehicle — a card payment or check-in
  at the same merchant or venue, a tap on the same vehicle, a GPS fix beside
  them — for at least ``close_overlap_min`` (15) minutes together;
- ``possible``: a phone in the same small cell (radius up to ``small_cell_m``,
  500 m) for at least 15 minutes, the same venue for less, or another venue
  inside the search circle for at least 15 minutes;
- ``broad``: the rest — large cells, brief overlaps.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.home import home_by_night_minutes, night_minutes
from epitrace.distances import distance_m
from epitrace.formats.schemas import table

MICROS_PER_MINUTE = 60_000_000
SOURCES = ("card", "telecom", "transit", "gps", "entry")
TIERS = ("close", "possible", "broad")  # most to least certain; see contact_tier

# Crowded, closed, loud places spread the virus more (KCDA's high-risk list:
# clubs, bars, karaoke, churches, gyms); shops are brief and distanced.
PLACE_RISK: dict[str, float] = {
    "club": 1.5,
    "bar": 1.3,
    "church": 1.3,
    "gym": 1.2,
    "restaurant": 1.0,
    "cafe": 1.0,
    "hospital": 1.0,
    "school": 1.0,
    "shop": 0.7,
}
CELL_STRENGTH_M = 100.0
SAME_PLACE = 1.0  # card payment / check-in at the subject's own merchant or venue
NEARBY_PLACE = 0.5  # at another merchant or venue inside the search circle


@dataclass(frozen=True)
class ContactParams:
    """Knobs of the contact search; minutes and metres."""

    days_before: float = 2.0  # infectious from this long before onset (or specimen)
    # The truth asks 15 min together, but both sides are estimates (a card payment is one
    # instant, cells record every ~12 min): a lower bar on the estimate keeps recall.
    min_overlap_min: float = 5.0
    full_overlap_min: float = 60.0  # overlap beyond this adds no score
    # A card payment says the holder was there around ts; a check-in is made on arrival.
    card_before_min: float = 30.0
    card_after_min: float = 30.0
    checkin_stay_min: float = 60.0
    # Phones record every ~12 min in the day: a presence extends half a gap each side.
    telecom_pad_min: float = 6.0
    # Stays not searched: home (the subject's nights) and workplace-like (long days).
    night_start: dt.time = dt.time(1, 0)
    night_end: dt.time = dt.time(5, 0)
    home_radius_m: float = 200.0
    overnight_min: float = 120.0  # an unnamed stay with this much night is a home
    max_public_stay_h: float | None = None  # skip longer unnamed stays (None: search them)
    # Telecom search circle: the stay's uncertainty, clamped.
    min_radius_m: float = 50.0
    max_radius_m: float = 300.0
    merchant_radius_m: float = 50.0  # merchants "at" an unnamed stay
    max_contacts: int | None = None  # keep the best N rows (None: all)
    # Tiers: the 15 minutes of a close contact (KDCA's and WHO's definition), and the
    # largest cell whose co-presence still makes a possible contact.
    close_overlap_min: float = 15.0
    small_cell_m: float = 500.0


# --- the window ---


def infectious_window(
    confirmed: dt.date,
    onset: dt.date | None,
    tz: str,
    days_before: float = 2.0,
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC: ``days_before`` days before onset (or the confirmation
    date without one) to the end of the confirmation day (isolation)."""
    zone = ZoneInfo(tz)
    first = onset if onset is not None else confirmed
    start = dt.datetime.combine(first, dt.time(), zone) - dt.timedelta(days=days_before)
    end = dt.datetime.combine(confirmed + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


# --- which stays are searched ---


@dataclass(frozen=True)
class StayToSearch:
    """One stay of the subject, as the search sees it."""

    seq: int
    start: dt.datetime
    end: dt.datetime
    lat: float
    lon: float
    radius_m: float
    place_name: str | None = None
    place: str = ""  # "merchant:ID" / "venue:ID" when the stay is at a named place
    kind: str | None = None  # restaurant, club, ... when known

    @property
    def merchant_id(self) -> str | None:
        return self.place.removeprefix("merchant:") if self.place.startswith("merchant:") else None

    @property
    def venue_id(self) -> str | None:
        return self.place.removeprefix("venue:") if self.place.startswith("venue:") else None


@dataclass
class StayVerdict:
    stay: StayToSearch
    searched: bool
    reason: str = ""  # why not searched


def searched_stays(
    stays: Sequence[StayToSearch],
    window: tuple[dt.datetime, dt.datetime],
    tz: str,
    params: ContactParams | None = None,
) -> list[StayVerdict]:
    """Every stay with whether it is searched: public places inside the window only.

    A stay at a named merchant or venue is public whatever its length. An
    unnamed one is skipped when it is at home (within ``home_radius_m`` of the
    place of most night minutes) or longer than ``max_public_stay_h`` (a
    workplace or a second home): the household and colleagues are traced by
    interview, and a whole cell's worth of neighbours is not a contact list.
    """
    params = params or ContactParams()
    home = home_by_night_minutes(
        stays, tz, params.night_start, params.night_end, params.home_radius_m
    )
    zone = ZoneInfo(tz)
    verdicts = []
    for stay in stays:
        if stay.end <= window[0] or stay.start >= window[1]:
            verdicts.append(StayVerdict(stay, False, "outside the infectious window"))
        elif stay.place:
            verdicts.append(StayVerdict(stay, True))
        elif home and distance_m(stay.lat, stay.lon, *home) <= max(
            params.home_radius_m, stay.radius_m
        ):
            verdicts.append(StayVerdict(stay, False, "home (where the nights are spent)"))
        elif (
            night_minutes(stay.start, stay.end, zone, params.night_start, params.night_end)
            >= params.overnight_min
        ):
            verdicts.append(StayVerdict(stay, False, "overnight (a home)"))
        elif params.max_public_stay_h is not None and (stay.end - stay.start) > dt.timedelta(
            hours=params.max_public_stay_h
        ):
            verdicts.append(
                StayVerdict(stay, False, f"longer than {params.max_public_stay_h:g} h (workplace?)")
            )
        else:
            verdicts.append(StayVerdict(stay, True))
    return verdicts


def clip_stay(stay: StayToSearch, window: tuple[dt.datetime, dt.datetime]) -> StayToSearch:
    """The part of a stay inside the window (contacts count only while infectious)."""
    start, end = max(stay.start, window[0]), min(stay.end, window[1])
    return StayToSearch(**{**stay.__dict__, "start": start, "end": end})


def search_radius_m(stay: StayToSearch, params: ContactParams, hard_max_m: float) -> float:
    """The telecom circle: the stay's uncertainty, clamped to the params and the hard limit."""
    radius = min(max(stay.radius_m, params.min_radius_m), params.max_radius_m)
    return min(radius, hard_max_m)


# --- evidence ---


@dataclass(frozen=True)
class Sighting:
    """One provider's answer putting someone at a stay's place for [start, end)."""

    stay_seq: int
    via: str  # card, telecom, entry, ...
    contact_ref: str  # person_ref when resolved, else "provider:identifier"
    start: dt.datetime
    end: dt.datetime
    strength: float  # 0..1: how surely this puts them at the subject's place


def cell_strength(radius_m: float) -> float:
    """A shared cell's evidence: a small cell pins people down, a large one does not."""
    return CELL_STRENGTH_M / (CELL_STRENGTH_M + max(radius_m, 0.0))


def card_sighting(
    stay_seq: int,
    contact_ref: str,
    ts: dt.datetime,
    same_place: bool,
    params: ContactParams,
) -> Sighting:
    return Sighting(
        stay_seq,
        "card",
        contact_ref,
        ts - dt.timedelta(minutes=params.card_before_min),
        ts + dt.timedelta(minutes=params.card_after_min),
        SAME_PLACE if same_place else NEARBY_PLACE,
    )


def checkin_sighting(
    stay_seq: int,
    contact_ref: str,
    first: dt.datetime,
    last: dt.datetime,
    same_place: bool,
    params: ContactParams,
) -> Sighting:
    return Sighting(
        stay_seq,
        "entry",
        contact_ref,
        first,
        last + dt.timedelta(minutes=params.checkin_stay_min),
        SAME_PLACE if same_place else NEARBY_PLACE,
    )


def telecom_sighting(
    stay_seq: int, contact_ref: str, first: dt.datetime, last: dt.datetime, radius_m: float
) -> Sighting:
    return Sighting(stay_seq, "telecom", contact_ref, first, last, cell_strength(radius_m))


# --- merging ---


def union_minutes(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> float:
    """Total minutes covered by possibly overlapping intervals."""
    total = 0.0
    current: tuple[dt.datetime, dt.datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total / 60


def combined_evidence(sightings: Sequence[Sighting]) -> float:
    """1 - prod(1 - s) over the strongest sighting of each source."""
    best: dict[str, float] = {}
    for s in sightings:
        best[s.via] = max(best.get(s.via, 0.0), s.strength)
    miss = 1.0
    for strength in best.values():
        miss *= 1.0 - min(max(strength, 0.0), 1.0)
    return 1.0 - miss


def exposure_score(
    evidence: float, overlap_min: float, kind: str | None, params: ContactParams
) -> float:
    time_factor = min(overlap_min, params.full_overlap_min) / params.full_overlap_min
    return round(100.0 * evidence * time_factor * PLACE_RISK.get(kind or "", 1.0), 3)


@dataclass
class Contact:
    """One person at one stay of the subject."""

    contact_ref: str
    stay: StayToSearch
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def via(self) -> str:
        used = {s.via for s in self.sightings}
        return "+".join(v for v in SOURCES if v in used)

    def overlap(
        self, sightings: Sequence[Sighting] | None = None
    ) -> tuple[dt.datetime, dt.datetime, float]:
        """First and last instant together and the minutes together, within the stay,
        by all the contact's sightings or by ``sightings`` alone."""
        chosen = self.sightings if sightings is None else sightings
        clipped = [(max(s.start, self.stay.start), min(s.end, self.stay.end)) for s in chosen]
        clipped = [(a, b) for a, b in clipped if b > a]
        if not clipped:
            return self.stay.start, self.stay.start, 0.0
        return min(a for a, _ in clipped), max(b for _, b in clipped), union_minutes(clipped)


def contact_tier(contact: Contact, params: ContactParams) -> str:
    """``close``, ``possible`` or ``broad`` by the rules in the module's docstring."""
    venue = [s for s in contact.sightings if s.via != "telecom"]
    same_venue = [s for s in venue if s.strength >= SAME_PLACE]
    small_cells = [
        s
        for s in contact.sightings
        if s.via == "telecom" and s.strength >= cell_strength(params.small_cell_m)
    ]

    def long_enough(sightings: list[Sighting]) -> bool:
        return bool(sightings) and contact.overlap(sightings)[2] >= params.close_overlap_min

    if long_enough(same_venue):
        return "close"
    if same_venue or long_enough(venue) or long_enough(small_cells):
        return "possible"
    return "broad"


@dataclass
class RankedContacts:
    """The ``contacts`` table and, row by row, the stay each contact was met at."""

    table: pa.Table
    stay_seq: list[int]

    def per_stay(self) -> dict[int, pa.Table]:
        rows: dict[int, list[int]] = defaultdict(list)
        for i, seq in enumerate(self.stay_seq):
            rows[seq].append(i)
        return {seq: self.table.take(taken) for seq, taken in rows.items()}


def merge_contacts(
    person_ref: str,
    stays: Sequence[StayToSearch],
    sightings: Iterable[Sighting],
    exclude: set[str],
    params: ContactParams | None = None,
) -> RankedContacts:
    """Sightings merged per (person, stay), scored and ranked: the ``contacts`` table.

    ``exclude`` holds the subject's own references (person_ref, lines, cards):
    the subject is never their own contact. Rows with less than
    ``min_overlap_min`` minutes together are dropped.
    """
    params = params or ContactParams()
    by_seq = {s.seq: s for s in stays}
    merged: dict[tuple[str, int], Contact] = {}
    for sighting in sightings:
        stay = by_seq.get(sighting.stay_seq)
        if stay is None or sighting.contact_ref in exclude:
            continue
        key = (sighting.contact_ref, sighting.stay_seq)
        merged.setdefault(key, Contact(sighting.contact_ref, stay)).sightings.append(sighting)
    rows = []
    for contact in merged.values():
        start, end, minutes = contact.overlap()
        if minutes < params.min_overlap_min:
            continue
        score = exposure_score(
            combined_evidence(contact.sightings), minutes, contact.stay.kind, params
        )
        rows.append(
            {
                "person_ref": person_ref,
                "contact_ref": contact.contact_ref,
                "via": contact.via,
                "place_name": contact.stay.place_name,
                "lat": contact.stay.lat,
                "lon": contact.stay.lon,
                "start": start,
                "end": end,
                "overlap_min": round(minutes, 1),
                "score": score,
                "tier": contact_tier(contact, params),
                "stay_seq": contact.stay.seq,
            }
        )
    rows.sort(key=lambda r: (-r["score"], r["start"], r["contact_ref"]))
    if params.max_contacts is not None:
        rows = rows[: params.max_contacts]
    seqs = [int(r.pop("stay_seq")) for r in rows]
    return RankedContacts(contacts_table(rows), seqs)


def contacts_table(rows: list[dict[str, object]]) -> pa.Table:
    schema = table("contacts").arrow_schema
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist(rows, schema=schema)


# --- ground truth (simulated cities) ---

PRIVATE_KINDS = frozenset({"home", "work"})


def true_contacts(
    person_ref: str,
    visits: pa.Table,
    places: pa.Table,
    window: tuple[dt.datetime, dt.datetime],
    min_overlap_min: float = 15.0,
) -> set[str]:
    """People at the same public place as ``person_ref`` for at least ``min_overlap_min``
    minutes inside ``window``, from the simulator's ``truth/visits`` and ``truth/places``."""
    public = places.filter(
        pc.invert(pc.is_in(places.column("kind"), pa.array(sorted(PRIVATE_KINDS))))
    )
    ts_type = visits.column("start").type
    lo, hi = pa.scalar(window[0], ts_type), pa.scalar(window[1], ts_type)
    inside = visits.filter(
        pc.and_(
            pc.and_(pc.greater(visits.column("end"), lo), pc.less(visits.column("start"), hi)),
            pc.is_in(visits.column("place_id"), public.column("place_id")),
        )
    )
    own = inside.filter(pc.equal(inside.column("person_ref"), person_ref)).to_pylist()
    if not own:
        return set()
    others = inside.filter(
        pc.and_(
            pc.is_in(inside.column("place_id"), pa.array(sorted({v["place_id"] for v in own}))),
            pc.not_equal(inside.column("person_ref"), person_ref),
        )
    ).to_pylist()
    found: set[str] = set()
    need = dt.timedelta(minutes=min_overlap_min)
    for mine in own:
        a0, a1 = max(mine["start"], window[0]), min(mine["end"], window[1])
        for other in others:
            if other["place_id"] != mine["place_id"]:
                continue
            if min(a1, other["end"]) - max(a0, other["start"]) >= need:
                found.add(other["person_ref"])
    return found


@dataclass
class ContactSearch:
    """What the search found, what it searched and what it was refused."""

    person_ref: str
    window: tuple[dt.datetime, dt.datetime]
    contacts: RankedContacts
    verdicts: list[StayVerdict]
    sightings: list[Sighting] = field(default_factory=list)  # before merging, for ablations
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    params: ContactParams = field(default_factory=ContactParams)

    def searched_clipped(self) -> list[StayToSearch]:
        """The searched stays as the search used them: clipped to the window."""
        return [clip_stay(s, self.window) for s in self.searched()]

    def searched(self) -> list[StayToSearch]:
        return [v.stay for v in self.verdicts if v.searched]

    def describe(self) -> str:
        stays = len(self.searched())
        return (
            f"{self.contacts.table.num_rows} contacts at {stays} stays "
            f"({self.queries} queries, {len(self.refused)} refused, {self.seconds:.2f} s)"
        )
