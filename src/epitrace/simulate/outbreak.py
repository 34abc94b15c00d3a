"""The outbreak: imported seeds, transmission at shared places and at home, cases.

Transmission happens where an infectious and a susceptible person are at the
same place at the same time: the infection probability grows with the
co-presence and the place kind's risk, scaled by the infector's
infectiousness (gamma-distributed: most people infect nobody, a few infect
many). One superspreading event is planted so clusters are certain and can
be read back from truth. ``outbreak="null"`` instead spreads infections
uniformly over residents and time, with no place at all: the null hypothesis
of hotspot detection. ``outbreak="planted"`` is that null background plus the
planted event and nothing else: the superspreader at the event is the only
transmission (no onward spread, no households), so the event is the one
cluster in the city by construction, as in the planted-cluster data sets
scan statistics are compared on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from epitrace.simulate.city import KIND, PLACE_KINDS, SERVICE_MINUTES, City
from epitrace.simulate.clock import DAY, HOUR, MINUTE, Clock
from epitrace.simulate.columns import labels, labels_or_null, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.population import Population
from epitrace.simulate.routines import Visits
from epitrace.simulate.streams import rng_for

NEVER = np.inf
NOT_CONFIRMED = 10**9  # day index of people never confirmed


@dataclass
class PlantedEvent:
    """The superspreading event placed in the outbreak on purpose."""

    kind: str  # "church" or "club"
    place: int
    day: int
    index_case: int  # person
    start: float = np.nan  # epoch seconds of the index case's visit, known once planned
    end: float = np.nan


@dataclass
class Infections:
    infectee: np.ndarray
    infector: np.ndarray  # -1 for imported seeds and the null outbreak
    place: np.ndarray  # -1 when unknown (seeds, null outbreak)
    ts: np.ndarray

    def table(self, person_refs: pa.Array, place_ids: pa.Array) -> pa.Table:
        order = np.lexsort((self.infectee, self.ts))
        return pa.table(
            {
                "infectee": labels_or_null(person_refs, self.infectee[order]),
                "infector": labels_or_null(person_refs, self.infector[order]),
                "place_id": labels_or_null(place_ids, self.place[order]),
                "ts": timestamps(np.floor(self.ts[order])),
            }
        )


def _pairs_with_equal_key(
    src: np.ndarray, dst: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (src, dst) index pairs with key[src] == key[dst], without a Python loop."""
    dst = dst[np.argsort(key[dst], kind="stable")]
    dst_key = key[dst]
    lo = np.searchsorted(dst_key, key[src], side="left")
    count = np.searchsorted(dst_key, key[src], side="right") - lo
    first = np.repeat(lo - (np.cumsum(count) - count), count)
    return np.repeat(src, count), dst[first + np.arange(int(count.sum()))]


def _empty_infections() -> Infections:
    return Infections(*(np.empty(0, np.int64),) * 3, np.empty(0))


class Outbreak:
    """Disease state of every resident, advanced one day at a time."""

    def __init__(
        self, config: SimulationConfig, city: City, population: Population, clock: Clock
    ) -> None:
        self.config = config
        self.city = city
        self.pop = population
        self.clock = clock
        n = population.size
        rng = rng_for(config.seed, "outbreak")
        k = config.infectiousness_dispersion
        self.infectiousness = rng.gamma(k, 1.0 / k, n)
        self.infected_at = np.full(n, NEVER)
        self.infectious_from = np.full(n, NEVER)
        self.infectious_until = np.full(n, NEVER)
        self.onset = np.full(n, np.nan)  # epoch seconds, NaN = no symptoms (yet)
        self.confirmed_day = np.full(n, NOT_CONFIRMED)  # day index from start
        self.risk = np.zeros(len(PLACE_KINDS))
        for kind, per_hour in config.risk_per_hour:
            self.risk[KIND[kind]] = per_hour
        self.room_size = np.ones(len(PLACE_KINDS), np.int64)
        for kind, size in config.room_size:
            self.room_size[KIND[kind]] = size
        self.room_draw = rng.integers(
            0, 1 << 30, n
        )  # a person's stable seat: same class, same team
        self.planted = self._plan_event(rng) if config.outbreak != "null" else None
        self.initial = self._seeds(rng) if config.outbreak == "clustered" else self._background(rng)

    # --- course of disease ---
    def _infect(self, rng: np.random.Generator, person: np.ndarray, ts: np.ndarray) -> None:
        cfg, n = self.config, person.size
        incubation = cfg.incubation_median_days * DAY * rng.lognormal(0, cfg.incubation_sigma, n)
        asymptomatic = rng.random(n) < cfg.asymptomatic_share
        self.infected_at[person] = ts
        self.infectious_from[person] = ts + np.maximum(
            DAY, incubation - cfg.presymptomatic_days * DAY
        )
        self.onset[person] = np.where(asymptomatic, np.nan, ts + incubation)
        delay = 1 + rng.poisson(max(0.0, cfg.onset_to_confirmation_mean_days - 1), n)
        found = ~asymptomatic | (rng.random(n) < cfg.asymptomatic_detection_probability)
        confirm_at = np.where(
            asymptomatic,
            ts + incubation + rng.uniform(1, 7, n) * DAY,
            ts + incubation + delay * DAY,
        )
        confirmed_day = np.floor((confirm_at - self.clock.start) / DAY)
        confirmed_day = np.where(found, confirmed_day, NOT_CONFIRMED).astype(np.int64)
        self.confirmed_day[person] = confirmed_day
        isolated_at = np.where(found, self.clock.start + confirmed_day * DAY, NEVER)
        recovered_at = self.infectious_from[person] + 10 * DAY
        self.infectious_until[person] = np.minimum(isolated_at, recovered_at)
        self.infectiousness[person] *= np.where(asymptomatic, cfg.asymptomatic_infectiousness, 1.0)

    def _seeds(self, rng: np.random.Generator) -> Infections:
        """Imported infections in the days before the simulation starts."""
        cfg = self.config
        candidates = np.setdiff1d(
            np.arange(self.pop.size), [self.planted.index_case] if self.planted else []
        )
        person = rng.choice(
            candidates, size=min(cfg.imported_seeds, candidates.size), replace=False
        )
        ts = self.clock.start - rng.uniform(0, 6, person.size) * DAY
        self._infect(rng, person, ts)
        seeds = Infections(person, np.full(person.size, -1), np.full(person.size, -1), ts)
        if self.planted is not None:
            seeds = self._infect_index_case(seeds)
        return seeds

    def _infect_index_case(self, seeds: Infections) -> Infections:
        """An imported case at the peak of infectiousness on the event's day."""
        ev, cfg = self.planted, self.config
        assert ev is not None
        p = ev.index_case
        event_day = self.clock.midnight(ev.day)
        self.infected_at[p] = event_day - 3 * DAY
        self.infectious_from[p] = event_day - DAY
        self.onset[p] = event_day + 1.5 * DAY
        self.confirmed_day[p] = ev.day + 3
        self.infectious_until[p] = self.clock.start + (ev.day + 3) * DAY
        self.infectiousness[p] = cfg.superspreader_infectiousness
        return Infections(
            np.append(seeds.infectee, p),
            np.append(seeds.infector, -1),
            np.append(seeds.place, -1),
            np.append(seeds.ts, event_day - 3 * DAY),
        )

    def _background(self, rng: np.random.Generator) -> Infections:
        """Infections spread uniformly over residents and the simulated period
        (``null_attack_rate`` of them), and the planted event's index case if any."""
        n = min(self.pop.size, round(self.config.null_attack_rate * self.pop.size))
        if self.planted is None:
            person = rng.choice(self.pop.size, size=n, replace=False)
        else:
            others = np.setdiff1d(np.arange(self.pop.size), [self.planted.index_case])
            person = rng.choice(others, size=min(n, others.size), replace=False)
        ts = rng.uniform(self.clock.start, self.clock.end, person.size)
        self._infect(rng, person, ts)
        background = Infections(person, np.full(person.size, -1), np.full(person.size, -1), ts)
        return background if self.planted is None else self._infect_index_case(background)

    # --- the planted superspreading event ---
    def _plan_event(self, rng: np.random.Generator) -> PlantedEvent | None:
        kind = self.config.superspreading
        if kind is None:
            return None
        nights = (6,) if kind == "church" else (4, 5)  # Sunday; Friday and Saturday nights
        days = [d for d in range(self.config.days) if self.clock.weekday(d) in nights]
        if not days:
            return None
        day = next((d for d in days if d >= self.config.superspreading_from_day), days[-1])
        places = self.city.of_kind(kind)
        place = int(places[np.argmax(self.city.popularity[places])])
        members = np.flatnonzero((self.pop.church if kind == "church" else self.pop.club) == place)
        adults = members[self.pop.role[members] != 1]
        pool = adults if adults.size else members
        if pool.size == 0:
            return None
        return PlantedEvent(kind, place, day, int(rng.choice(pool)))

    def forced_attendance(self, day: int) -> dict[str, np.ndarray]:
        ev = self.planted
        if ev is None or day != ev.day:
            return {}
        mask = np.zeros(self.pop.size, bool)
        mask[ev.index_case] = True
        return {ev.kind: mask}

    def isolated(self, day: int) -> np.ndarray:
        """Residents confirmed by the start of ``day``: isolated, they go nowhere."""
        return self.confirmed_day <= day

    # --- transmission ---
    def spread(
        self, day: int, midnight: float, visits: Visits, home_since: np.ndarray
    ) -> Infections:
        """New infections of the day, at shared places and in households.

        ``home_since``: when each resident is home for the night after the day.
        """
        if self.config.outbreak == "null":
            return _empty_infections()
        rng = rng_for(self.config.seed, "transmission", day)
        self._note_event(day, visits)
        if self.config.outbreak == "planted":
            return self._infected(rng, self._at_places(rng, visits, event_only=True))
        at_places = self._at_places(rng, visits)
        at_home = self._at_home(rng, midnight, home_since)
        new = Infections(
            *(
                np.concatenate([getattr(a, f) for a in (at_places, at_home)])
                for f in ("infectee", "infector", "place", "ts")
            )
        )
        return self._infected(rng, new)

    def _infected(self, rng: np.random.Generator, new: Infections) -> Infections:
        """Each person's first infection of the day among ``new``, given its course."""
        if new.infectee.size == 0:
            return new
        first = np.lexsort((new.ts, new.infectee))
        keep = first[np.append(True, new.infectee[first][1:] != new.infectee[first][:-1])]
        new = Infections(new.infectee[keep], new.infector[keep], new.place[keep], new.ts[keep])
        self._infect(rng, new.infectee, new.ts)
        return new

    def _note_event(self, day: int, visits: Visits) -> None:
        ev = self.planted
        if ev is None or day != ev.day:
            return
        mine = np.flatnonzero((visits.person == ev.index_case) & (visits.place == ev.place))
        if mine.size:
            ev.start, ev.end = float(visits.start[mine[0]]), float(visits.end[mine[0]])
        else:  # isolated or otherwise absent: record the planned service time
            ev.start = self.clock.midnight(day) + float(self.pop.service_start[ev.index_case])
            ev.end = ev.start + SERVICE_MINUTES * MINUTE

    def _rooms(self, visits: Visits) -> np.ndarray:
        """A key per visit: the place and the room within it that the visitor is in today."""
        # Distinct people, not visits: a morning and an afternoon at work are one colleague.
        unique = np.unique(visits.place * self.pop.size + visits.person)
        visitors = np.bincount(unique // self.pop.size, minlength=self.city.size)[visits.place]
        rooms = np.clip(np.ceil(visitors / self.room_size[self.city.kind[visits.place]]), 1, 4096)
        return visits.place * 4096 + self.room_draw[visits.person] % rooms.astype(np.int64)

    def _is_planted_visit(self, visits: Visits, index: np.ndarray) -> np.ndarray:
        ev = self.planted
        if ev is None:
            return np.zeros(index.size, bool)
        at_event = (visits.start[index] >= ev.start) & (visits.start[index] <= ev.end)
        at_event &= visits.place[index] == ev.place
        return at_event & (visits.person[index] == ev.index_case)

    def _at_places(
        self, rng: np.random.Generator, visits: Visits, event_only: bool = False
    ) -> Infections:
        """Infections at shared places; ``event_only``: from the planted visit alone."""
        risk = self.risk[self.city.kind[visits.place]]
        person = visits.person
        infectious = (
            (risk > 0)
            & (self.infectious_from[person] <= visits.start)
            & (visits.start < self.infectious_until[person])
        )
        susceptible = (risk > 0) & (self.infected_at[person] == NEVER)
        src = np.flatnonzero(infectious)
        if event_only:
            src = src[self._is_planted_visit(visits, src)]
        dst = np.flatnonzero(susceptible)
        if src.size == 0 or dst.size == 0:
            return _empty_infections()
        # People meet those in their room; the planted superspreader reaches the whole hall.
        room = self._rooms(visits)
        whole_hall = self._is_planted_visit(visits, src)
        by_room = _pairs_with_equal_key(src[~whole_hall], dst, room)
        by_place = _pairs_with_equal_key(src[whole_hall], dst, visits.place)
        pair_src = np.concatenate([by_room[0], by_place[0]])
        pair_dst = np.concatenate([by_room[1], by_place[1]])
        begin = np.maximum(visits.start[pair_src], visits.start[pair_dst])
        overlap = np.minimum(visits.end[pair_src], visits.end[pair_dst]) - begin
        together = overlap > 0
        pair_src, pair_dst, begin, overlap = (
            pair_src[together],
            pair_dst[together],
            begin[together],
            overlap[together],
        )
        hazard = risk[pair_src] * overlap / HOUR * self.infectiousness[person[pair_src]]
        hit = rng.random(hazard.size) < -np.expm1(-hazard)
        ts = begin[hit] + rng.uniform(0, 1, int(hit.sum())) * overlap[hit]
        return Infections(
            person[pair_dst[hit]], person[pair_src[hit]], visits.place[pair_dst[hit]], ts
        )

    def _at_home(
        self, rng: np.random.Generator, midnight: float, home_since: np.ndarray
    ) -> Infections:
        pop = self.pop
        sick = np.flatnonzero(
            (self.infectious_from < midnight + DAY) & (self.infectious_until > midnight)
        )
        if sick.size == 0:
            return _empty_infections()
        households = int(pop.household.max()) + 1
        pressure = np.bincount(
            pop.household[sick], weights=self.infectiousness[sick], minlength=households
        )
        infector = np.full(households, -1)
        by_strength = sick[np.argsort(self.infectiousness[sick], kind="stable")]
        infector[pop.household[by_strength]] = by_strength  # the strongest is assigned last
        exposed = np.flatnonzero((pressure[pop.household] > 0) & (self.infected_at == NEVER))
        p = -np.expm1(-self.config.household_daily_risk * pressure[pop.household[exposed]])
        hit = exposed[rng.random(exposed.size) < p]
        source = infector[pop.household[hit]]
        # In the evening, once both are home for the night.
        together = np.maximum(np.maximum(home_since[hit], home_since[source]), midnight + 18 * HOUR)
        ts = together + rng.uniform(0, HOUR, hit.size)
        return Infections(hit, source, pop.home[hit], ts)

    # --- cases ---
    def cases_table(self, person_refs: pa.Array) -> pa.Table:
        """The confirmed cases; each one's region is the 시군구 of its home (code and name)."""
        days = self.config.days
        person = np.flatnonzero((self.confirmed_day >= 0) & (self.confirmed_day < days))
        person = person[np.lexsort((person, self.confirmed_day[person]))]
        start = self.config.start
        confirmed = pa.array(
            (np.datetime64(start, "D") + self.confirmed_day[person]).astype("datetime64[D]"),
            pa.date32(),
        )
        onset = self.onset[person]
        onset_day = np.floor((np.nan_to_num(onset) - self.clock.start) / DAY).astype(np.int64)
        onset_dates = pa.array(
            (np.datetime64(start, "D") + onset_day).astype("datetime64[D]"),
            pa.date32(),
            mask=np.isnan(onset),
        )
        home_district = self.city.district[self.pop.home[person]]
        return pa.table(
            {
                "case_id": pa.array([f"C{i + 1:05d}" for i in range(person.size)]),
                "person_ref": person_refs.take(pa.array(person)),
                "confirmed_date": confirmed,
                "onset_date": onset_dates,
                "region": labels(self.city.district_codes, home_district),
                "region_name": labels(self.city.district_names, home_district),
            }
        )

    def case_persons(self) -> np.ndarray:
        return np.flatnonzero((self.confirmed_day >= 0) & (self.confirmed_day < self.config.days))

    @property
    def infected_count(self) -> int:
        return int(np.isfinite(self.infected_at).sum())
