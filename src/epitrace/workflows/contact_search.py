"""The contact search: ask the agencies' stores who was at the subject's stays.

For every stay searched (``analysis.contacts.searched_stays``) the exchange
asks, each with one bounded query of ``providers/queries.py``:

- every carrier: ``PlaceTimePresence`` around the stay (the stay's
  uncertainty radius, clamped) during the stay; the carrier names its own
  subscribers (``subscribers`` registry) when its policy allows;
- every card issuer: ``MerchantTime`` at the stay's merchant (up to 10 named
  stays per query, over the span of their days) or, for an unnamed stay, at
  merchants within ``merchant_radius_m``, the stay ± the card margin; the
  issuer names its card holders (``card_holders``) when its policy allows;
- every entry-log operator: check-ins at venues within the stay's circle;
  the visitors' phone numbers are named through the carriers' registries.

A refused query is recorded and the search goes on. The answers become
``Sighting``s, merged, scored and ranked by ``analysis.contacts``.

A store's ``store.json`` may carry ``"policy": {"resolve_identities": false}``:
its answers are then kept as ``agency:identifier`` (never joined to a person).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from epitrace.analysis.contacts import (
    ContactParams,
    ContactSearch,
    Sighting,
    StayToSearch,
    card_sighting,
    checkin_sighting,
    clip_stay,
    merge_contacts,
    search_radius_m,
    searched_stays,
    telecom_sighting,
)
from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import Trajectory, stay_place_and_time
from epitrace.distances import distance_m
from epitrace.providers.network import AgencyStore, SubjectSource
from epitrace.providers.queries import (
    MAX_MARGIN_MIN,
    MAX_MERCHANTS,
    MAX_RADIUS_M,
    MAX_WINDOW_DAYS,
    Circle,
    MerchantTime,
    PlaceTimePresence,
    QueryRefused,
)

# --- the subject's stays as the search sees them ---


def _place_kinds(records: SubjectRecords) -> dict[str, str]:
    """ "merchant:ID" / "venue:ID" -> category, from the subject's own registries."""
    kinds = {}
    merchants = records.merchants
    for mid, category in zip(
        merchants.column("merchant_id").to_pylist(),
        merchants.column("category").to_pylist(),
        strict=True,
    ):
        kinds[f"merchant:{mid}"] = category
    logs = records.entry_logs
    for vid, category in zip(
        logs.column("venue_id").to_pylist(), logs.column("category").to_pylist(), strict=True
    ):
        kinds[f"venue:{vid}"] = category
    return kinds


def stays_to_search(trajectory: Trajectory, records: SubjectRecords) -> list[StayToSearch]:
    """The traced stays with their named place and its kind when known."""
    kinds = _place_kinds(records)
    places = [s.place for s in trajectory.stay_objects]
    rows = trajectory.stays.to_pylist()
    if len(places) != len(rows):  # defensive: the objects and the table always pair up
        places = [""] * len(rows)
    return [
        StayToSearch(
            **stay_place_and_time(row),
            radius_m=row["radius_m"],
            place_name=row["place_name"],
            place=place,
            kind=kinds.get(place),
        )
        for row, place in zip(rows, places, strict=True)
    ]


def subject_identifiers(records: SubjectRecords) -> set[str]:
    """Every way a store may name the subject: person_ref, lines, cards."""
    own = {records.person_ref}
    for name, column, agency in (
        ("telecom_records", "subscriber", "carrier"),
        ("card_transactions", "card_id", "issuer"),
        ("entry_logs", "visitor", "operator"),
    ):
        data = getattr(records, name)
        for ident, who in zip(
            data.column(column).to_pylist(), data.column(agency).to_pylist(), strict=True
        ):
            own.update({ident, f"{who}:{ident}"})
    for ident in records.entry_logs.column("visitor").to_pylist():
        own.add(ident)
    return own


# --- asking the stores ---


def _of_kind(stores: Sequence[AgencyStore], kind: str) -> list[AgencyStore]:
    return [store for store in stores if store.kind == kind]


def _may_resolve(store: AgencyStore) -> bool:
    policy = store.manifest.get("policy") or {}
    return bool(policy.get("resolve_identities", True))


class _Asker:
    """Runs queries, counting them and keeping refusals instead of failing."""

    def __init__(self) -> None:
        self.queries = 0
        self.refused: list[str] = []

    def ask(self, what: str, call: object, *args: object) -> pa.Table | None:
        self.queries += 1
        try:
            return call(*args)  # type: ignore[operator]
        except QueryRefused as exc:
            self.refused.append(f"{what}: {exc.reason}")
            return None


def _telecom(
    asker: _Asker, carriers: list[AgencyStore], stay: StayToSearch, params: ContactParams
) -> list[Sighting]:
    radius = search_radius_m(stay, params, MAX_RADIUS_M)
    pad = dt.timedelta(minutes=params.telecom_pad_min)
    found = []
    for store in carriers:
        what = f"{store.agency} presence at stay {stay.seq}"
        query = _build(
            asker,
            what,
            lambda: PlaceTimePresence(
                (Circle(stay.lat, stay.lon, radius),), stay.start - pad, stay.end + pad
            ),
        )
        answer = asker.ask(what, store.presence, query) if query is not None else None
        if answer is None:
            continue
        resolve = _may_resolve(store)
        for row in answer.to_pylist():
            ref = row["person_ref"] if resolve and row["person_ref"] else None
            found.append(
                telecom_sighting(
                    stay.seq,
                    ref or f"{row['carrier']}:{row['subscriber']}",
                    row["first_seen"] - pad,
                    row["last_seen"] + pad,
                    stay.radius_m,
                )
            )
    return found


def _build(asker: _Asker, what: str, make: object) -> object | None:
    """Construct a query; a refusal (beyond the hard limits) is noted, not raised."""
    try:
        return make()  # type: ignore[operator]
    except QueryRefused as exc:
        asker.refused.append(f"{what}: {exc.reason}")
        return None


def _checkins(
    asker: _Asker,
    operators: list[AgencyStore],
    stay: StayToSearch,
    params: ContactParams,
) -> list[tuple[Sighting, str, bool]]:
    """Check-in sightings with the visitor's phone (named later) and the operator's policy."""
    radius = min(search_radius_m(stay, params, MAX_RADIUS_M), params.merchant_radius_m)
    if not stay.place:
        radius = search_radius_m(stay, params, MAX_RADIUS_M)
    found = []
    for store in operators:
        what = f"{store.agency} check-ins at stay {stay.seq}"
        query = _build(
            asker,
            what,
            lambda: PlaceTimePresence(
                (Circle(stay.lat, stay.lon, radius),),
                stay.start - dt.timedelta(minutes=params.checkin_stay_min),
                stay.end,
            ),
        )
        answer = asker.ask(what, store.presence, query) if query is not None else None
        if answer is None:
            continue
        for row in answer.to_pylist():
            same = row["venue_id"] == stay.venue_id or (
                stay.place_name is not None and row["venue_name"] == stay.place_name
            )
            sighting = checkin_sighting(
                stay.seq,
                f"{row['operator']}:{row['visitor']}",
                row["first_checkin"],
                row["last_checkin"],
                same,
                params,
            )
            found.append((sighting, row["visitor"], _may_resolve(store)))
    return found


def _name_visitors(
    carriers: list[AgencyStore], checkins: list[tuple[Sighting, str, bool]]
) -> list[Sighting]:
    """Check-ins name a phone number; the carriers' registries name its holder."""
    phones = sorted({phone for _, phone, resolve in checkins if resolve})
    holder: dict[str, str] = {}
    for store in carriers:
        if not phones or not _may_resolve(store):
            continue
        rows = store.lookup("subscribers", "subscriber", phones)
        holder.update(
            zip(
                rows.column("subscriber").to_pylist(),
                rows.column("person_ref").to_pylist(),
                strict=True,
            )
        )
    named = []
    for sighting, phone, resolve in checkins:
        ref = holder.get(phone) if resolve else None
        named.append(Sighting(**{**sighting.__dict__, "contact_ref": ref or sighting.contact_ref}))
    return named


def _merchants_near(
    stores: Sequence[AgencyStore], stays: Sequence[StayToSearch], radius_m: float
) -> dict[int, frozenset[str]]:
    """For each unnamed stay, the merchants within ``radius_m``, from the merchant
    registry the credit-finance association keeps (a registry, not anyone's records):
    the issuers are then asked about those merchants in batches, not once per stay."""
    unnamed = [s for s in stays if not s.merchant_id]
    registry = next(iter(_of_kind(stores, "card_association")), None)
    if not unnamed or registry is None or not registry.has("merchants"):
        return {s.seq: frozenset() for s in unnamed}
    merchants = registry.whole_registry("merchants", ["merchant_id", "lat", "lon"])
    ids = merchants.column("merchant_id").to_pylist()
    lat = np.asarray(merchants.column("lat"), float)
    lon = np.asarray(merchants.column("lon"), float)
    near: dict[int, frozenset[str]] = {}
    for stay in unnamed:
        metres = distance_m(stay.lat, stay.lon, lat, lon)
        near[stay.seq] = frozenset(ids[i] for i in np.flatnonzero(metres <= radius_m))
    return near


def _merchant_batches(
    stays: Sequence[StayToSearch], near: dict[int, frozenset[str]]
) -> list[list[tuple[StayToSearch, frozenset[str]]]]:
    """Stays with their merchants, in groups of at most MAX_MERCHANTS merchants
    spanning few days (one query per issuer and group)."""
    wanted = [
        (s, frozenset({s.merchant_id}) if s.merchant_id else near.get(s.seq, frozenset()))
        for s in sorted(stays, key=lambda s: s.start)
    ]
    batches: list[list[tuple[StayToSearch, frozenset[str]]]] = []
    for stay, merchants in (w for w in wanted if w[1]):
        if len(merchants) > MAX_MERCHANTS:  # a dense block: its own batches
            chunks = sorted(merchants)
            batches += [
                [(stay, frozenset(chunks[i : i + MAX_MERCHANTS]))]
                for i in range(0, len(chunks), MAX_MERCHANTS)
            ]
            continue
        batch = batches[-1] if batches else None
        if (
            batch is None
            or len(set().union(*(m for _, m in batch)) | merchants) > MAX_MERCHANTS
            or stay.end - batch[0][0].start > dt.timedelta(days=min(MAX_WINDOW_DAYS, 7))
        ):
            batches.append([(stay, merchants)])
        else:
            batch.append((stay, merchants))
    return batches


def _cards(
    asker: _Asker,
    stores: Sequence[AgencyStore],
    stays: Sequence[StayToSearch],
    params: ContactParams,
) -> list[Sighting]:
    issuers = _of_kind(stores, "card_issuer")
    margin = min(max(params.card_before_min, params.card_after_min), MAX_MARGIN_MIN)
    near = _merchants_near(stores, stays, min(params.merchant_radius_m, MAX_RADIUS_M))
    found: list[Sighting] = []
    for batch in _merchant_batches(stays, near):
        merchants = tuple(sorted(set().union(*(m for _, m in batch))))
        start, end = min(s.start for s, _ in batch), max(s.end for s, _ in batch)
        label = f"merchant-time at stays {', '.join(str(s.seq) for s, _ in batch)}"
        for store in issuers:
            what = f"{store.agency} {label}"
            query = _build(
                asker,
                what,
                lambda merchants=merchants, start=start, end=end: MerchantTime(
                    start, end, merchant_ids=merchants, margin_min=margin
                ),
            )
            answer = asker.ask(what, store.merchant_time, query) if query is not None else None
            if answer is not None:
                found += _payments_at(answer, batch, _may_resolve(store), params, margin)
    return found


def _payments_at(
    answer: pa.Table,
    stays: Sequence[tuple[StayToSearch, frozenset[str]]],
    resolve: bool,
    params: ContactParams,
    margin_min: float,
) -> list[Sighting]:
    """Each payment to the stays it can belong to (one of the stay's merchants, at the
    stay's time ± margin); only a payment at the stay's own named merchant is "same place"."""
    margin = dt.timedelta(minutes=margin_min)
    found = []
    for row in answer.to_pylist():
        ref = row["person_ref"] if resolve and row["person_ref"] else None
        ref = ref or f"{row['issuer']}:{row['card_id']}"
        for stay, merchants in stays:
            if row["merchant_id"] not in merchants:
                continue
            if not stay.start - margin <= row["ts"] <= stay.end + margin:
                continue
            same = stay.merchant_id == row["merchant_id"]
            found.append(card_sighting(stay.seq, ref, row["ts"], same, params))
    return found


def _ask_stores(
    asker: _Asker, stores: Sequence[AgencyStore], stays: list[StayToSearch], params: ContactParams
) -> list[Sighting]:
    carriers = _of_kind(stores, "carrier")
    sightings: list[Sighting] = []
    checkins = []
    for stay in stays:
        sightings += _telecom(asker, carriers, stay, params)
        checkins += _checkins(asker, _of_kind(stores, "entry_operator"), stay, params)
    sightings += _name_visitors(carriers, checkins)
    sightings += _cards(asker, stores, stays, params)
    return sightings


def search_contacts(
    source: SubjectSource | None,
    trajectory: Trajectory,
    records: SubjectRecords,
    window: tuple[dt.datetime, dt.datetime],
    tz: str,
    params: ContactParams | None = None,
) -> ContactSearch:
    """Who was with the subject at each public stay in ``window``, ranked.

    ``source`` is asked for its stores (``contact_stores``) only when a stay is
    to be searched; it may be None when none is (nothing is asked). ``tz``: the
    zone of local-time rules (which stays are at home at night).
    """
    began = time.perf_counter()
    params = params or ContactParams()
    stays = stays_to_search(trajectory, records)
    verdicts = searched_stays(stays, window, tz, params)
    searched = [clip_stay(v.stay, window) for v in verdicts if v.searched]
    asker = _Asker()
    sightings: list[Sighting] = []
    if searched:
        if source is None:
            raise ValueError("stays to search but no stores to ask")
        sightings = _ask_stores(asker, source.contact_stores(), searched, params)
    contacts = merge_contacts(
        trajectory.person_ref, searched, sightings, subject_identifiers(records), params
    )
    result = ContactSearch(
        trajectory.person_ref,
        window,
        contacts,
        verdicts,
        sightings=sightings,
        refused=asker.refused,
        queries=asker.queries,
        params=params,
    )
    result.seconds = time.perf_counter() - began
    return result
