"""Daily routines: where every resident really is (truth visits) and how they travel.

A day is planned as a short sequence of activity slots (work, lunch, errand,
evening out, club night, church, ...). Each slot is one vector over all
residents: who does it, where, and when. Travel between visits is derived from
the distance and the person's mode, so the gap between two visits is exactly
the travel time, and transit legs can be turned into taps afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epitrace.simulate.city import SERVICE_MINUTES, City
from epitrace.simulate.clock import HOUR, MINUTE
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.geography import NearestLookup
from epitrace.simulate.population import STUDENT, WORKER, Population
from epitrace.simulate.streams import rng_for

WALK, CAR, BUS, SUBWAY = 0, 1, 2, 3
CAR_OVERHEAD = 4 * MINUTE  # parking, getting to the car
WAIT = {BUS: 5 * MINUTE, SUBWAY: 3 * MINUTE}  # at the stop, on average
SUBWAY_WALK_M = 800.0  # farthest people walk to a station
NO_TIME = -np.inf


@dataclass
class Visits:
    """Truth visits, one entry per visit (epoch seconds), sorted by person then start."""

    person: np.ndarray
    place: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def concat(cls, parts: list[Visits]) -> Visits:
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("person", "place", "start", "end")
            )
        )

    def take(self, index: np.ndarray) -> Visits:
        return Visits(self.person[index], self.place[index], self.start[index], self.end[index])

    def sorted(self) -> Visits:
        return self.take(np.lexsort((self.start, self.person)))

    def __len__(self) -> int:
        return int(self.person.size)


@dataclass
class Legs:
    """Trips between consecutive places of one person."""

    person: np.ndarray
    origin: np.ndarray  # place index
    destination: np.ndarray
    depart: np.ndarray
    arrive: np.ndarray
    mode: np.ndarray  # WALK, CAR, BUS, SUBWAY
    stop_in: np.ndarray  # place index of the boarding stop (-1 unless transit)
    stop_out: np.ndarray
    tap_in: np.ndarray  # epoch seconds of boarding
    tap_out: np.ndarray

    def __len__(self) -> int:
        return int(self.person.size)


class Travel:
    """Mode and duration of a trip between two places for a given person."""

    def __init__(self, config: SimulationConfig, city: City, population: Population) -> None:
        self.city = city
        self.config = config
        self.transit_user = population.transit_user
        self.min_transit_m = config.transit_min_distance_m
        half = config.city_radius_m + 3_000.0
        self.bus_stops = city.stops(0)
        self.stations = city.stops(1)
        self.bus_lookup = city.stop_lookup(0, half)
        self.station_lookup: NearestLookup | None = (
            city.stop_lookup(1, half) if self.stations.size >= 2 else None
        )

    def route(self, person: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
        """(mode, duration, stop_in, stop_out, walk_in_s, walk_out_s) of trips a -> b."""
        c, cfg = self.city, self.config
        detour, walk_speed = cfg.detour_factor, cfg.walk_speed_mps
        ax, ay, bx, by = c.x[a], c.y[a], c.x[b], c.y[b]
        distance = np.hypot(bx - ax, by - ay)
        mode = np.where(distance < cfg.walk_max_m, WALK, CAR)
        duration = np.where(
            mode == WALK,
            distance * detour / walk_speed,
            CAR_OVERHEAD + distance * detour / cfg.car_speed_mps,
        )
        stop_in = np.full(a.size, -1, np.int64)
        stop_out = np.full(a.size, -1, np.int64)
        walk_in = np.zeros(a.size)
        walk_out = np.zeros(a.size)
        transit = self.transit_user[person] & (distance >= self.min_transit_m)
        if not transit.any():
            return mode, duration, stop_in, stop_out, walk_in, walk_out
        bus_in = self.bus_stops[self.bus_lookup.nearest(ax, ay)]
        bus_out = self.bus_stops[self.bus_lookup.nearest(bx, by)]
        s_in, s_out, t_mode = bus_in, bus_out, np.full(a.size, BUS)
        if self.station_lookup is not None:
            st_in = self.stations[self.station_lookup.nearest(ax, ay)]
            st_out = self.stations[self.station_lookup.nearest(bx, by)]
            by_subway = (
                (np.hypot(c.x[st_in] - ax, c.y[st_in] - ay) < SUBWAY_WALK_M)
                & (np.hypot(c.x[st_out] - bx, c.y[st_out] - by) < SUBWAY_WALK_M)
                & (st_in != st_out)
            )
            s_in = np.where(by_subway, st_in, bus_in)
            s_out = np.where(by_subway, st_out, bus_out)
            t_mode = np.where(by_subway, SUBWAY, BUS)
        transit &= s_in != s_out
        w_in = np.hypot(c.x[s_in] - ax, c.y[s_in] - ay) * detour / walk_speed
        w_out = np.hypot(c.x[s_out] - bx, c.y[s_out] - by) * detour / walk_speed
        ride = (
            np.hypot(c.x[s_out] - c.x[s_in], c.y[s_out] - c.y[s_in])
            * detour
            / self._ride_speed(t_mode)
        )
        wait = np.where(t_mode == SUBWAY, WAIT[SUBWAY], WAIT[BUS])
        mode = np.where(transit, t_mode, mode)
        duration = np.where(transit, w_in + wait + ride + w_out, duration)
        stop_in = np.where(transit, s_in, -1)
        stop_out = np.where(transit, s_out, -1)
        walk_in = np.where(transit, w_in, 0.0)
        walk_out = np.where(transit, w_out, 0.0)
        return mode, duration, stop_in, stop_out, walk_in, walk_out

    def _ride_speed(self, mode: np.ndarray) -> np.ndarray:
        return np.where(mode == SUBWAY, self.config.subway_speed_mps, self.config.bus_speed_mps)

    def duration(self, person: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(a == b, 0.0, self.route(person, a, b)[1])

    def legs(self, visits: Visits, home_since: np.ndarray, home: np.ndarray) -> Legs:
        """Trips between consecutive visits, and from each person's last visit home."""
        same = visits.person[1:] == visits.person[:-1]
        first = np.flatnonzero(same)
        last = np.flatnonzero(np.append(~same, True))  # last visit of each person
        person = np.concatenate([visits.person[first], visits.person[last]])
        origin = np.concatenate([visits.place[first], visits.place[last]])
        destination = np.concatenate([visits.place[first + 1], home[visits.person[last]]])
        depart = np.concatenate([visits.end[first], visits.end[last]])
        arrive = np.concatenate([visits.start[first + 1], home_since[visits.person[last]]])
        keep = origin != destination
        person, origin, destination, depart, arrive = (
            v[keep] for v in (person, origin, destination, depart, arrive)
        )
        mode, _, stop_in, stop_out, _, walk_out = self.route(person, origin, destination)
        transit = stop_in >= 0
        tap_out = np.where(transit, arrive - walk_out, np.nan)
        ride = np.hypot(
            self.city.x[stop_out] - self.city.x[stop_in],
            self.city.y[stop_out] - self.city.y[stop_in],
        )
        ride_s = ride * self.config.detour_factor / self._ride_speed(mode)
        tap_in = np.where(transit, tap_out - ride_s, np.nan)
        order = np.lexsort((depart, person))
        legs = Legs(
            person, origin, destination, depart, arrive, mode, stop_in, stop_out, tap_in, tap_out
        )
        return Legs(*(getattr(legs, f)[order] for f in legs.__dataclass_fields__))


class _DayState:
    """Where each resident is, since when, and when they are free to leave."""

    def __init__(self, home: np.ndarray, home_since: np.ndarray) -> None:
        self.place = home.copy()
        self.since = home_since.copy()
        self.free_at = home_since + 30 * MINUTE
        self.out: list[Visits] = []

    def emit(
        self, person: np.ndarray, place: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> None:
        if person.size:
            self.out.append(Visits(person, place, start, end))


class DayPlanner:
    """Plans each day's visits for all residents, one activity slot at a time."""

    def __init__(
        self, config: SimulationConfig, city: City, population: Population, travel: Travel
    ) -> None:
        self.config = config
        self.city = city
        self.pop = population
        self.travel = travel
        self._kind_places = {k: city.of_kind(k) for k in ("restaurant", "cafe", "shop", "bar")}
        self._kind_weights = {
            k: city.popularity[p] / city.popularity[p].sum() for k, p in self._kind_places.items()
        }

    # --- choosing places ---
    def _favourite(self, rng: np.random.Generator, table: np.ndarray, kind: str) -> np.ndarray:
        """A favourite place of ``kind`` for everyone, sometimes a place elsewhere."""
        n = table.shape[0]
        pick = table[np.arange(n), rng.integers(0, table.shape[1], n)]
        explore = rng.random(n) < self.config.explore_probability
        anywhere = rng.choice(self._kind_places[kind], size=n, p=self._kind_weights[kind])
        return np.where(explore, anywhere, pick)

    def _one_of(
        self, rng: np.random.Generator, options: list[tuple[float, np.ndarray]]
    ) -> np.ndarray:
        weights = np.array([w for w, _ in options])
        choice = rng.choice(len(options), size=self.pop.size, p=weights / weights.sum())
        return np.choose(choice, [places for _, places in options])

    # --- moving ---
    def _go(
        self,
        state: _DayState,
        who: np.ndarray,
        place: np.ndarray,
        earliest: np.ndarray | float = NO_TIME,
        duration: np.ndarray | float = 0.0,
        until: np.ndarray | float = NO_TIME,
    ) -> None:
        """Send residents ``who`` (bool mask) to ``place`` for an activity.

        They arrive no earlier than ``earliest``, stay ``duration`` or until
        ``until``; a long wait before it is spent at home.
        """
        idx = np.flatnonzero(who)
        if idx.size == 0:
            return
        size = self.pop.size
        target = place[idx]
        earliest = np.broadcast_to(earliest, size)[idx]
        duration = np.broadcast_to(duration, size)[idx]
        until = np.broadcast_to(until, size)[idx]
        origin, free_at, home = state.place[idx], state.free_at[idx], self.pop.home[idx]
        trip = self.travel.duration(idx, origin, target)
        start = np.maximum(free_at + trip, earliest)
        end = np.maximum(start + duration, np.maximum(until, start + 15 * MINUTE))
        stay = origin == target  # already there: just stay longer
        to_home = self.travel.duration(idx, origin, home)
        from_home = self.travel.duration(idx, home, target)
        home_arrive = free_at + to_home
        home_leave = start - from_home
        long_wait = home_leave - home_arrive > self.config.home_break_min * MINUTE
        via_home = ~stay & (origin != home) & long_wait
        leave = np.where(via_home, free_at, start - trip)
        moving = ~stay
        state.emit(idx[moving], origin[moving], state.since[idx][moving], leave[moving])
        state.emit(idx[via_home], home[via_home], home_arrive[via_home], home_leave[via_home])
        state.since[idx] = np.where(stay, state.since[idx], start)
        state.free_at[idx] = np.where(stay, np.maximum(free_at, end), end)
        state.place[idx] = target

    def _return_home(self, state: _DayState) -> np.ndarray:
        """Everyone still out goes home; returns when each is home since."""
        home = self.pop.home
        idx = np.flatnonzero(state.place != home)
        trip = self.travel.duration(idx, state.place[idx], home[idx])
        state.emit(idx, state.place[idx], state.since[idx], state.free_at[idx])
        home_since = state.since.copy()
        home_since[idx] = state.free_at[idx] + trip
        return home_since

    # --- the day ---
    def plan(
        self,
        day: int,
        weekday: int,
        midnight: float,
        home_since: np.ndarray,
        isolated: np.ndarray,
        forced: dict[str, np.ndarray] | None = None,
    ) -> tuple[Visits, np.ndarray]:
        """The day's visits (those that end today) and when everyone is home afterwards.

        ``forced`` names residents who attend a slot ("church" or "club") today
        whatever their habits (the planted superspreading event).
        """
        cfg, pop = self.config, self.pop
        rng = rng_for(cfg.seed, "routines", day)
        n = pop.size
        forced = forced or {}
        free = ~isolated
        state = _DayState(pop.home, home_since)

        def clock(hours: float, sd_min: float = 0.0) -> np.ndarray:
            """Everyone's time for something at ``hours`` o'clock, give or take."""
            return midnight + hours * HOUR + rng.normal(0, sd_min * MINUTE, n)

        def minutes(lo: float, hi: float) -> np.ndarray:
            return rng.uniform(lo, hi, n) * MINUTE

        def go_to_favourite(
            who: np.ndarray,
            near: dict[str, np.ndarray],
            kind: str,
            hours: float,
            sd_min: float,
            stay_min: tuple[float, float],
        ) -> None:
            """Send ``who`` to their favourite ``kind`` of place ``near`` home or work
            at about ``hours`` o'clock (give or take ``sd_min``), for ``stay_min``
            minutes (lowest, highest)."""
            place = self._favourite(rng, near[kind], kind)
            self._go(state, who, place, earliest=clock(hours, sd_min), duration=minutes(*stay_min))

        def attending(slot: str, venue: np.ndarray, probability: float) -> np.ndarray:
            """Who attends ``slot`` ("church" or "club") today: those with a ``venue``
            (-1 for none) by habit, with ``probability``, and those ``forced`` to."""
            goes = free & (venue >= 0) & (rng.random(n) < probability)
            if slot in forced:
                goes |= forced[slot] & free
            return goes

        near_home, near_work = pop.near_home, pop.near_work
        present = free & (rng.random(n) >= cfg.absent_from_work_probability)
        workers = present & (pop.role == WORKER)
        others = free & ~workers & (pop.role != STUDENT)

        if weekday < 5:
            students = present & (pop.role == STUDENT)
            lunch_out = workers & (rng.random(n) < cfg.lunch_out_probability)
            day_start = midnight + pop.day_start + rng.normal(0, 10 * MINUTE, n)
            day_end = midnight + pop.day_end + rng.normal(0, 20 * MINUTE, n)
            lunch_time = clock(12.0, 10)
            self._go(
                state,
                workers | students,
                pop.work,
                earliest=day_start,
                until=np.where(lunch_out, lunch_time, day_end),
            )
            morning = others & (rng.random(n) < cfg.morning_errand_probability)
            errand_place = self._one_of(
                rng,
                [
                    (0.6, self._favourite(rng, near_home["shop"], "shop")),
                    (0.25, self._favourite(rng, near_home["cafe"], "cafe")),
                    (0.15, near_home["hospital"][:, 0]),
                ],
            )
            self._go(
                state, morning, errand_place, earliest=clock(10.5, 60), duration=minutes(20, 60)
            )
            self._go(
                state,
                lunch_out,
                self._favourite(rng, near_work["restaurant"], "restaurant"),
                duration=rng.normal(50, 10, n) * MINUTE,
            )
            self._go(state, lunch_out, pop.work, until=day_end)
            lunch_home = others & (rng.random(n) < cfg.home_lunch_probability)
            go_to_favourite(lunch_home, near_home, "restaurant", 12.0, 20, (40, 80))
            errand = free & (rng.random(n) < cfg.weekday_errand_probability)
            errand_place = self._one_of(
                rng,
                [
                    (0.6, self._favourite(rng, near_home["shop"], "shop")),
                    (0.4, self._favourite(rng, near_work["cafe"], "cafe")),
                ],
            )
            self._go(state, errand, errand_place, duration=minutes(15, 45))
            gym = free & (pop.gym >= 0) & (rng.random(n) < cfg.gym_visit_probability)
            self._go(state, gym, pop.gym, earliest=clock(19.0, 45), duration=minutes(50, 100))
            bar_p = cfg.friday_bar_probability if weekday == 4 else cfg.weekday_bar_probability
            bar = free & pop.bar_goer & (rng.random(n) < bar_p)
            dinner = free & ~bar & (rng.random(n) < cfg.weekday_dinner_probability)
            go_to_favourite(dinner, near_home, "restaurant", 19.0, 40, (60, 120))
            go_to_favourite(bar, near_home, "bar", 20.0, 60, (90, 210))
        else:
            sat_work = workers & (weekday == 5) & (rng.random(n) < cfg.saturday_work_probability)
            self._go(state, sat_work, pop.work, earliest=clock(9.0, 20), until=clock(15.0, 60))
            if weekday == 6:
                church = attending("church", pop.church, cfg.church_attendance_probability)
                self._go(
                    state,
                    church,
                    pop.church,
                    earliest=midnight + pop.service_start,
                    duration=SERVICE_MINUTES * MINUTE,
                )
            for hour, p in (
                (12.5, cfg.weekend_outing_probability),
                (17.5, cfg.weekend_evening_outing_probability),
            ):
                outing = free & (rng.random(n) < p)
                place = self._one_of(
                    rng,
                    [
                        (0.35, self._favourite(rng, near_home["shop"], "shop")),
                        (0.30, self._favourite(rng, near_home["cafe"], "cafe")),
                        (0.35, self._favourite(rng, near_home["restaurant"], "restaurant")),
                    ],
                )
                self._go(state, outing, place, earliest=clock(hour, 75), duration=minutes(30, 120))
            gym = free & (pop.gym >= 0) & (rng.random(n) < cfg.weekend_gym_probability)
            self._go(state, gym, pop.gym, duration=minutes(50, 100))
            bar = (
                free & pop.bar_goer & (rng.random(n) < cfg.friday_bar_probability) & (weekday == 5)
            )
            go_to_favourite(bar, near_home, "bar", 20.5, 60, (90, 210))

        if weekday in (4, 5):  # club nights
            club = attending("club", pop.club, cfg.club_night_probability)
            self._go(
                state,
                club,
                pop.club,
                earliest=clock(23.0, 40),
                duration=np.clip(rng.normal(3.5, 1.0, n), 1.5, 6.0) * HOUR,
            )

        home_after = self._return_home(state)
        visits = Visits.concat(state.out) if state.out else Visits(*(np.empty(0),) * 4)
        visits.person = visits.person.astype(np.int64)
        visits.place = visits.place.astype(np.int64)
        # Whole seconds: records derived from a visit then never fall outside it.
        visits.start, visits.end = np.round(visits.start), np.round(visits.end)
        home_after = np.round(home_after)
        return visits.sorted(), home_after
