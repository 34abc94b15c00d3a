"""Who may have infected whom: proposed links between cases from their stays.

``propose_links`` takes many cases' stays (the contract's ``stays`` table, one
``person_ref`` per case), their contact lists where they exist (``contacts``)
and the cases' dates (``cases``), and proposes ordered pairs *source ->
target* with their evidence and a score. It is a pure function over Arrow
tables: ``epitrace links`` (``workflows.links``) and the hub call the same.

For each pair of cases, every *meeting* counts: two stays at one place at
overlapping times (or, at an enclosed place, the target arriving soon after
the source left), or a row of one case's contact list naming the other. A
meeting supports *source -> target* when it falls in the source's infectious
window (``analysis.contacts.infectious_window``) and the target's onset comes
an incubation period after it. Its weight::

    weight = closeness * place_risk * hours together * (home_hour_weight at home)
             * incubation likelihood (1 at the most likely incubation)

- ``closeness``: 1 at one named place (same merchant or venue name); else
  ``analysis.contacts.cell_strength`` of the two uncertainty radii combined,
  times a Gaussian fall-off with the distance between the two estimates,
  raised when two day stays arrived and left together (``links.meetings``);
  a contact-list row: by its tier (``TIER_CLOSENESS``), else 1 for card,
  check-in, transit or GPS evidence and 0.5 for telecom alone;
- ``place_risk``: ``analysis.contacts.PLACE_RISK`` by the kind of place;
- home: two stays that both cover 03:00 local (``analysis.home``) at one spot
  are a shared home (place ``home``).

The weights of a pair add up to ``W``; ``P = 1 - exp(-hazard_per_hour * W)``
is the chance the source infected the target through these meetings. The
score is the share of this chance among every candidate source of the
target and a background (infection by someone not among the cases)::

    score = P(s, t) / (P(background) + sum over candidates s' of P(s', t))

so evidence that is close, long, enclosed and at the most likely incubation
raises it, and every alternative source lowers it. A case cannot infect before
it was infected: each meeting is then weighed by how surely its source had been
infected before it, by the source's own links (``infected_before``), and the
scores are shared again. See ``docs/links.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.contacts import (
    CELL_STRENGTH_M,
    PLACE_RISK,
    SOURCES,
    infectious_window,
)
from epitrace.analysis.home import covers_night_many
from epitrace.analysis.hotspots.cells import project
from epitrace.analysis.links.meetings import (
    MICROS_PER_DAY,
    MICROS_PER_MINUTE,
    StayArrays,
    near_pairs,
)
from epitrace.analysis.links.params import ENCLOSED_KINDS, HOME, LinkParams
from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS
from epitrace.errors import UserInputError
from epitrace.formats.schemas import table

# What a stays table must hold (a contract ``stays`` table has more).
STAY_COLUMNS = ("person_ref", "start", "end", "lat", "lon", "radius_m")
CASE_COLUMNS = ("case_id", "person_ref", "confirmed_date", "onset_date")
# Contact-list evidence that puts both at one place, not only in one cell.
PLACE_EVIDENCE = frozenset({"card", "entry", "transit", "gps"})
CONTACT_TELECOM_CLOSENESS = 0.5

# The contract's ``links`` columns, then the district, the days from meeting to onset
# and the meetings counted (formats.schemas).
LINK_SCHEMA = table("links").arrow_schema


class LinkInputError(UserInputError, ValueError):
    """The tables given to the link proposal lack what it needs; the message says what."""


@dataclass(frozen=True)
class CaseDates:
    """Per case (in the order of ``ids``): the windows and anchors, µs since epoch."""

    ids: np.ndarray  # case_id (object)
    person_refs: np.ndarray  # person_ref (object)
    infectious_start: np.ndarray  # int64
    infectious_end: np.ndarray  # int64
    onset_anchor: np.ndarray  # int64: noon of onset, or of confirmation - lag
    has_onset: np.ndarray  # bool

    relevant_start: np.ndarray  # int64: the earlier of infectious start, longest incubation
    exposed_start: np.ndarray  # int64: when the case may have been infected, from ...
    exposed_end: np.ndarray  # ... to (the incubation range before its anchor)


def _require(data: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise LinkInputError(f"{what} lack column(s): {', '.join(missing)}")


def _micros(value: dt.datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def case_dates(cases: pa.Table, tz: str, params: LinkParams) -> CaseDates:
    """Each case's infectious window and incubation anchor (``LinkParams``)."""
    _require(cases, CASE_COLUMNS, "cases")
    rows = cases.select(list(CASE_COLUMNS)).to_pylist()
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["case_id"] not in seen:
            seen.add(row["case_id"])
            unique.append(row)
    starts, ends, anchors, onsets = [], [], [], []
    zone = _zone(tz)
    for row in unique:
        confirmed, onset = row["confirmed_date"], row["onset_date"]
        if onset is not None and onset > confirmed:
            onset = None  # an onset after confirmation is a typing mistake, not an anchor
        window = infectious_window(confirmed, onset, tz, params.infectious_days_before)
        starts.append(_micros(window[0]))
        ends.append(_micros(window[1]))
        day = onset if onset is not None else confirmed
        noon = dt.datetime.combine(day, dt.time(12), zone)
        lag = 0.0 if onset is not None else params.no_onset_lag_days
        anchors.append(_micros(noon - dt.timedelta(days=lag)))
        onsets.append(onset is not None)
    anchor = np.array(anchors, dtype=np.int64)
    infectious_start = np.array(starts, dtype=np.int64)
    longest = int((params.max_incubation_days + 0.5) * MICROS_PER_DAY)
    shortest = int((params.min_incubation_days - 0.5) * MICROS_PER_DAY)
    return CaseDates(
        np.array([r["case_id"] for r in unique], dtype=object),
        np.array([r["person_ref"] for r in unique], dtype=object),
        infectious_start,
        np.array(ends, dtype=np.int64),
        anchor,
        np.array(onsets, dtype=bool),
        np.minimum(infectious_start, anchor - longest),
        anchor - longest,
        anchor - shortest,
    )


def _zone(tz: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def _text_column(data: pa.Table, name: str) -> np.ndarray:
    if name not in data.column_names:
        return np.full(data.num_rows, "", dtype=object)
    return np.array(
        pc.fill_null(pc.cast(data.column(name), pa.string()), "").to_pylist(), dtype=object
    )


def _int_micros(column: pa.ChunkedArray) -> np.ndarray:
    ts = pc.cast(column, pa.timestamp("us", tz="UTC"))
    return np.asarray(pc.cast(ts, pa.int64()).to_numpy(), dtype=np.int64)


@dataclass
class CaseStays:
    """The cases' stays clipped to what matters for links, with what a meeting needs."""

    arrays: StayArrays
    lat: np.ndarray
    lon: np.ndarray
    place_name: np.ndarray  # object
    kind: np.ndarray  # object, "" unknown
    sources: np.ndarray  # object, "+"-joined
    night: np.ndarray  # bool: covers 03:00 local (a night at home)
    sido: np.ndarray
    sigungu: np.ndarray
    emd: np.ndarray

    def __post_init__(self) -> None:
        # Integer codes and per-stay factors: pairs are compared by number, not text.
        self.sources_code = _codes(self.sources)
        kinds, kind_code = np.unique(self.kind, return_inverse=True)
        self.risk = np.array([PLACE_RISK.get(k, 1.0) for k in kinds], dtype=float)[kind_code]
        self.enclosed = np.isin(kinds, sorted(ENCLOSED_KINDS))[kind_code]


def _codes(values: np.ndarray) -> np.ndarray:
    """One integer per distinct string (-1 for the empty string)."""
    if values.size == 0:
        return np.empty(0, np.int64)
    encoded = pa.array(values.tolist(), pa.string()).dictionary_encode()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    blank = np.asarray(pc.equal(encoded.dictionary, "").to_numpy(zero_copy_only=False))
    return np.where(blank[codes], -1, codes) if blank.any() else codes


def case_stays(stays: pa.Table, dates: CaseDates, tz: str, crs: str) -> tuple[CaseStays, list[str]]:
    """The stays of the cases in ``dates``, clipped to each case's relevant span
    (the longest incubation before onset to isolation); and the case ids with no
    stay there."""
    _require(stays, STAY_COLUMNS, "stays")
    index = {ref: i for i, ref in reversed(list(enumerate(dates.person_refs)))}
    refs = stays.column("person_ref").to_pylist()
    case = np.array([index.get(r, -1) for r in refs], dtype=np.int64)
    keep = case >= 0
    start = _int_micros(stays.column("start"))
    end = _int_micros(stays.column("end"))
    safe_case = np.where(keep, case, 0)
    start = np.maximum(start, dates.relevant_start[safe_case])
    end = np.minimum(end, dates.infectious_end[safe_case])
    keep &= end > start
    kept = stays.filter(pa.array(keep))
    night = covers_night_many(
        kept.column("start").combine_chunks(), kept.column("end").combine_chunks(), tz
    )
    lat = np.asarray(kept.column("lat").to_numpy(), dtype=float)
    lon = np.asarray(kept.column("lon").to_numpy(), dtype=float)
    x, y = project(lat, lon, crs) if lat.size else (lat.copy(), lon.copy())
    own = case[keep]
    arrays = StayArrays(
        own,
        start[keep],
        end[keep],
        x,
        y,
        np.asarray(kept.column("radius_m").to_numpy(), dtype=float),
        dates.infectious_start[own],
        dates.infectious_end[own],
        dates.exposed_start[own],
        dates.exposed_end[own],
        _codes(_text_column(kept, "place_name")),
        night,
    )
    with_stays = set(arrays.case.tolist())
    without = [str(dates.ids[i]) for i in range(dates.ids.size) if i not in with_stays]
    return (
        CaseStays(
            arrays,
            lat,
            lon,
            _text_column(kept, "place_name"),
            _text_column(kept, "kind"),
            _text_column(kept, "sources"),
            night,
            _text_column(kept, "sido"),
            _text_column(kept, "sigungu"),
            _text_column(kept, "emd"),
        ),
        without,
    )


@dataclass
class Meetings:
    """Meetings of two cases, column by column: ``a`` and ``b`` are case indices."""

    a: np.ndarray
    b: np.ndarray
    start: np.ndarray  # µs: together from
    end: np.ndarray  # µs: until (start + exposure for a meeting after a gap)
    minutes: np.ndarray  # float: minutes together (gap meetings: gap_exposure_min)
    closeness: np.ndarray  # 0..1
    factor: np.ndarray  # place risk, or the home hour weight
    lat: np.ndarray
    lon: np.ndarray
    place_name: np.ndarray  # object
    via: np.ndarray  # object
    sido: np.ndarray
    sigungu: np.ndarray
    emd: np.ndarray
    gap: np.ndarray  # bool: the later arrived after the earlier left

    @property
    def size(self) -> int:
        return int(self.a.size)


def _joined_sources(stays: CaseStays, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``via``: the sources of both stays, in the contacts' order."""
    if i.size == 0:
        return np.empty(0, dtype=object)
    width = int(stays.sources_code.max()) + 2
    pair = (stays.sources_code[i] + 1) * width + stays.sources_code[j] + 1
    pairs, inverse = np.unique(pair, return_inverse=True)
    names = {int(c): stays.sources[k] for k, c in zip(*np.unique(
        stays.sources_code, return_index=True)[::-1], strict=True)}  # fmt: skip
    joined = []
    for value in pairs:
        a, b = divmod(int(value), width)
        used = set(names.get(a - 1, "").split("+")) | set(names.get(b - 1, "").split("+"))
        joined.append("+".join(v for v in SOURCES if v in used))
    return np.array(joined, dtype=object)[inverse]


def stay_meetings(stays: CaseStays, params: LinkParams) -> Meetings:
    """Meetings from pairs of stays near in space and time (see the module docstring)."""
    arr = stays.arrays
    i, j, closeness = near_pairs(arr, params, CELL_STRENGTH_M)
    same_place = closeness == 1.0
    home = stays.night[i] & stays.night[j]
    enclosed = same_place & stays.enclosed[i]
    start = np.maximum(arr.start[i], arr.start[j])
    end = np.minimum(arr.end[i], arr.end[j])
    overlap = (end - start) / MICROS_PER_MINUTE
    together = overlap >= params.min_overlap_min
    after_gap = (overlap < params.min_overlap_min) & enclosed & ~home
    keep = together | after_gap
    i, j, closeness, start, end = i[keep], j[keep], closeness[keep], start[keep], end[keep]
    same_place, home, after_gap = same_place[keep], home[keep], after_gap[keep]
    gap_end = start + int(params.gap_exposure_min * MICROS_PER_MINUTE)
    minutes = np.where(after_gap, params.gap_exposure_min, (end - start) / MICROS_PER_MINUTE)
    end = np.where(after_gap, gap_end, end)
    risk = np.where(arr.place[i] >= 0, stays.risk[i], stays.risk[j])
    factor = np.where(home, params.home_hour_weight, risk)
    # The evidence shown is the better-located of the two stays.
    best = np.where(arr.radius[i] <= arr.radius[j], i, j)
    place = np.where(home, HOME, np.where(same_place, stays.place_name[i], stays.emd[best]))
    return Meetings(
        arr.case[i],
        arr.case[j],
        start,
        end,
        minutes,
        closeness,
        factor,
        stays.lat[best],
        stays.lon[best],
        place.astype(object),
        _joined_sources(stays, i, j),
        stays.sido[best],
        stays.sigungu[best],
        stays.emd[best],
        after_gap,
    )


# How surely a contact-list row puts the two at one place, by its tier
# (analysis.contacts.contact_tier): ``close`` is one venue for long enough;
# ``possible`` one venue briefly, or small cells for long (as sure as telecom
# alone); ``broad`` only the same cells at once: as sure as two day stays in
# cells of ~200 m by the room rule, (100 / (100 + 200))^2 ~ 0.1.
TIER_CLOSENESS = {"close": 1.0, "possible": CONTACT_TELECOM_CLOSENESS, "broad": 0.1}


def _contact_closeness(via: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """Closeness of contact-list rows: by their tier where given, else by their
    evidence (1 for card, check-in, transit or GPS; 0.5 for telecom alone)."""
    by_via = [1.0 if PLACE_EVIDENCE & set(v.split("+")) else CONTACT_TELECOM_CLOSENESS for v in via]
    return np.array(
        [TIER_CLOSENESS.get(t, v) for t, v in zip(tier, by_via, strict=True)], dtype=float
    )


def contact_meetings(contacts: pa.Table | None, dates: CaseDates) -> Meetings | None:
    """Meetings from contact lists: rows whose ``contact_ref`` is another case."""
    if contacts is None or contacts.num_rows == 0:
        return None
    _require(
        contacts,
        ("person_ref", "contact_ref", "via", "lat", "lon", "start", "end", "overlap_min"),
        "contacts",
    )
    index = {ref: i for i, ref in reversed(list(enumerate(dates.person_refs)))}
    a = np.array([index.get(r, -1) for r in contacts.column("person_ref").to_pylist()])
    b = np.array([index.get(r, -1) for r in contacts.column("contact_ref").to_pylist()])
    keep = (a >= 0) & (b >= 0) & (a != b)
    if not keep.any():
        return None
    rows = contacts.filter(pa.array(keep))
    via = _text_column(rows, "via")
    closeness = _contact_closeness(via, _text_column(rows, "tier"))
    n = rows.num_rows
    empty = np.full(n, "", dtype=object)
    return Meetings(
        a[keep].astype(np.int64),
        b[keep].astype(np.int64),
        _int_micros(rows.column("start")),
        _int_micros(rows.column("end")),
        np.asarray(rows.column("overlap_min").to_numpy(), dtype=float),
        closeness,
        np.ones(n),
        np.asarray(rows.column("lat").to_numpy(), dtype=float),
        np.asarray(rows.column("lon").to_numpy(), dtype=float),
        _text_column(rows, "place_name"),
        via,
        empty,
        empty,
        empty,
        np.zeros(n, dtype=bool),
    )


def _concat(parts: list[Meetings]) -> Meetings:
    fields = Meetings.__dataclass_fields__
    return Meetings(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


@dataclass
class Directed:
    """Meetings read as source -> target, with their weight (see the module docstring)."""

    meeting: np.ndarray  # index into the Meetings
    source: np.ndarray
    target: np.ndarray
    start: np.ndarray
    end: np.ndarray
    minutes: np.ndarray
    incubation_days: np.ndarray
    weight: np.ndarray


def directed(meetings: Meetings, dates: CaseDates, params: LinkParams) -> Directed:
    """Both readings of every meeting, kept where the source was infectious and the
    target's onset an incubation period later."""
    index = np.arange(meetings.size)
    parts = []
    for source, target in ((meetings.a, meetings.b), (meetings.b, meetings.a)):
        start = np.maximum(meetings.start, dates.infectious_start[source])
        end = np.minimum(meetings.end, dates.infectious_end[source])
        minutes = np.where(
            meetings.gap,
            np.where(end > start, meetings.minutes, 0.0),
            (end - start) / MICROS_PER_MINUTE,
        )
        middle = (start + end) // 2
        days = (dates.onset_anchor[target] - middle) / MICROS_PER_DAY
        likelihood = params.incubation_weight(days, dates.has_onset[target])
        infectious = params.infectiousness_weight(
            (middle - dates.onset_anchor[source]) / MICROS_PER_DAY
        )
        hours = np.maximum(minutes, 0.0) / 60.0
        weight = meetings.closeness * meetings.factor * hours * likelihood * infectious
        ok = (minutes >= min(params.min_overlap_min, params.gap_exposure_min)) & (weight > 0)
        parts.append((index[ok], source[ok], target[ok], start[ok], end[ok], minutes[ok],
                      days[ok], weight[ok]))  # fmt: skip
    return Directed(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def _shares(
    total: np.ndarray, target: np.ndarray, cases: int, params: LinkParams
) -> tuple[np.ndarray, np.ndarray]:
    """(score of each pair, background share of each case) from the pairs' summed
    weights: P = 1 - exp(-hazard x weight) over the background's and every
    candidate's P for the same target."""
    chance = -np.expm1(-params.hazard_per_hour * total)
    background = -np.expm1(-params.hazard_per_hour * params.background_hours)
    per_target = background + np.bincount(target, weights=chance, minlength=cases)
    return chance / per_target[target], background / per_target


def infected_before(
    found: Directed,
    inverse: np.ndarray,
    total: np.ndarray,
    score: np.ndarray,
    background: np.ndarray,
    dates: CaseDates,
    params: LinkParams,
) -> np.ndarray:
    """Per reading s -> t at time m: how much likelier s had been infected by
    m - ``min_latent_days`` by its own links than by its onset alone, at most 1.

    By its own links: s's background share times the chance its incubation puts
    the infection before then, plus the share of each reading into s before then
    (its pair's score split by the readings' weights). By its onset alone: that
    chance of the incubation. So a case whose likely source met it at the same
    event as its target was not yet infectious there: siblings infected together
    are not each other's source."""
    middle = (found.start + found.end) // 2
    when = middle - int(params.min_latent_days * MICROS_PER_DAY)
    part = np.divide(
        found.weight, total[inverse], out=np.zeros(found.weight.size), where=total[inverse] > 0
    )
    share = score[inverse] * part
    # Readings into each case, by time, and their shares summed up to each.
    order = np.lexsort((middle, found.target))
    into, times = found.target[order], middle[order]
    cumulative = np.concatenate([[0.0], np.cumsum(share[order])])
    begin = np.searchsorted(into, found.source, side="left")
    earlier = cumulative[_first_at(into, times, found.source, when)] - cumulative[begin]
    days = (dates.onset_anchor[found.source] - when) / MICROS_PER_DAY
    alone = params.incubation_survival(days, dates.has_onset[found.source])
    with_links = background[found.source] * alone + earlier
    return np.minimum(1.0, with_links / np.maximum(alone, 1e-12))


def _first_at(
    into: np.ndarray, times: np.ndarray, case: np.ndarray, when: np.ndarray
) -> np.ndarray:
    """Per query, the position of the first reading into ``case`` at or after
    ``when`` among readings sorted by (target, time): one search on a combined
    key of the case and the second."""
    if times.size == 0:
        return np.zeros(case.size, dtype=np.int64)
    first = min(int(times.min()), int(when.min())) // 1_000_000
    last = max(int(times.max()), int(when.max())) // 1_000_000
    width = last - first + 2
    key = into * width + (times // 1_000_000 - first)
    return np.searchsorted(key, case * width + (-(-when // 1_000_000) - first), side="left")


def score_links(
    found: Directed, meetings: Meetings, dates: CaseDates, params: LinkParams
) -> pa.Table:
    """One row per (source, target): the best meeting as evidence and the score."""
    if found.source.size == 0:
        return LINK_SCHEMA.empty_table()
    n = dates.ids.size
    pair = found.source * n + found.target
    pairs, inverse = np.unique(pair, return_inverse=True)
    target = pairs % n
    total = np.bincount(inverse, weights=found.weight, minlength=pairs.size)
    score, background = _shares(total, target, n, params)
    # A case cannot infect before it was infected: weigh each meeting by how surely
    # its source had been infected a latent period before (by its own links), and
    # share again.
    weight = found.weight * infected_before(found, inverse, total, score, background, dates, params)
    total = np.bincount(inverse, weights=weight, minlength=pairs.size)
    score, _ = _shares(total, target, n, params)
    count = np.bincount(inverse)
    # The strongest meeting of each pair is its evidence.
    order = np.lexsort((-weight, inverse))
    best = order[np.searchsorted(inverse[order], np.arange(pairs.size))]
    keep = score >= params.min_score
    m = found.meeting[best]
    chosen = np.flatnonzero(keep)
    columns = {
        "source_case": _texts(dates.ids[pairs // n][chosen], blank_null=False),
        "target_case": _texts(dates.ids[target][chosen], blank_null=False),
        "place_name": _texts(meetings.place_name[m][chosen]),
        "lat": meetings.lat[m][chosen],
        "lon": meetings.lon[m][chosen],
        "start": found.start[best][chosen],
        "end": found.end[best][chosen],
        "overlap_min": np.round(found.minutes[best][chosen], 1),
        "via": _texts(meetings.via[m][chosen], blank_null=False),
        "score": np.round(score[chosen], 4),
        "sido": _texts(meetings.sido[m][chosen]),
        "sigungu": _texts(meetings.sigungu[m][chosen]),
        "emd": _texts(meetings.emd[m][chosen]),
        "incubation_days": np.round(found.incubation_days[best][chosen], 1),
        "meetings": count[chosen],
    }
    table = pa.table(
        [pa.array(columns[f.name], type=f.type) for f in LINK_SCHEMA], schema=LINK_SCHEMA
    )
    return table.sort_by(
        [("score", "descending"), ("target_case", "ascending"), ("source_case", "ascending")]
    )


def _texts(values: np.ndarray, blank_null: bool = True) -> list[str | None]:
    """Strings for Arrow; an empty one is null (unknown) where ``blank_null``."""
    return [None if blank_null and v == "" else str(v) for v in values]


@dataclass
class LinkProposal:
    """The proposed links and what could not be used."""

    links: pa.Table  # LINK_SCHEMA, sorted by score
    cases: int  # cases given
    without_stays: list[str]  # case ids with no stay in their relevant span
    meetings: int  # meetings found (both readings before scoring)


def propose_links(
    stays: pa.Table,
    cases: pa.Table,
    contacts: pa.Table | None = None,
    *,
    tz: str = DEFAULT_TZ,
    crs: str = PROJECTED_CRS,
    params: LinkParams | None = None,
) -> LinkProposal:
    """Propose transmission links among ``cases`` from their ``stays``.

    Parameters: ``stays``, the contract's ``stays`` rows of the cases' persons
    (at least person_ref, start, end, lat, lon, radius_m; place_name, sources,
    sido, sigungu, emd and a place ``kind`` are used when present);
    ``cases``, the contract's ``cases`` (case_id, person_ref, confirmed_date,
    onset_date); ``contacts``, the contract's ``contacts`` of the cases, or
    None; ``tz``, the zone of local dates and nights; ``crs``, a projection
    in metres.

    Returns a ``LinkProposal``: one row per ordered pair (``LINK_SCHEMA``: the
    contract's ``links`` columns, then the district, the days from meeting to
    onset and how many meetings support it), sorted by score.

    Raises ``LinkInputError`` when a table lacks a needed column.
    """
    params = params or LinkParams()
    dates = case_dates(cases, tz, params)
    found, without = case_stays(stays, dates, tz, crs)
    parts = [stay_meetings(found, params)]
    from_contacts = contact_meetings(contacts, dates)
    if from_contacts is not None:
        parts.append(from_contacts)
    meetings = _concat(parts)
    readings = directed(meetings, dates, params)
    links = score_links(readings, meetings, dates, params)
    return LinkProposal(links, int(dates.ids.size), without, int(readings.source.size))
