"""Residents: households, roles, habits, phones and cards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epitrace.simulate.city import SERVICE_HOURS, City, build_city
from epitrace.simulate.clock import HOUR, MINUTE
from epitrace.simulate.config import CARD_ISSUERS, SimulationConfig
from epitrace.simulate.streams import rng_for

WORKER, STUDENT, OTHER = 0, 1, 2
FAVOURITES = 3  # favourite places per kind, near home (and near work)


@dataclass
class Population:
    """One entry per resident in each array (index = person number)."""

    household: np.ndarray
    home: np.ndarray  # place index
    role: np.ndarray  # WORKER, STUDENT or OTHER
    work: np.ndarray  # place index of workplace or school, -1 = none
    day_start: np.ndarray  # seconds after midnight the working/school day starts
    day_end: np.ndarray
    near_home: dict[str, np.ndarray]  # kind -> (persons, FAVOURITES) place indices
    near_work: dict[str, np.ndarray]
    church: np.ndarray  # -1 = not a member
    service_start: np.ndarray  # seconds after midnight of the person's Sunday service
    gym: np.ndarray
    club: np.ndarray
    bar_goer: np.ndarray  # bool
    transit_user: np.ndarray  # bool
    carrier: np.ndarray  # index into config.carrier_shares, -1 = no phone
    phone_number: np.ndarray  # 8 digits after 010, -1 = no phone
    phone_activity: np.ndarray  # multiplier of records per hour
    has_gps: np.ndarray  # bool
    card_owner: np.ndarray  # per card: person index (cards sorted by owner)
    card_issuer: np.ndarray  # per card: index into CARD_ISSUERS
    card_number: np.ndarray  # per card: 16-digit number as int64
    card_first: np.ndarray  # per person: index of first card, card_count cards follow
    card_count: np.ndarray

    @property
    def size(self) -> int:
        return int(self.home.size)

    @property
    def person_refs(self) -> list[str]:
        width = max(6, len(str(self.size)))
        return [f"P{i:0{width}d}" for i in range(1, self.size + 1)]

    @property
    def phone_strings(self) -> list[str]:
        """Phone number of every person ('' without a phone)."""
        return [
            f"010-{n // 10_000:04d}-{n % 10_000:04d}" if n >= 0 else ""
            for n in self.phone_number.tolist()
        ]

    @property
    def card_strings(self) -> list[str]:
        return [
            f"{n // 10**12:04d}-{n // 10**8 % 10**4:04d}-{n // 10**4 % 10**4:04d}-{n % 10**4:04d}"
            for n in self.card_number.tolist()
        ]


def _household_sizes(config: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    weights = np.asarray(config.household_size_weights, dtype=float)
    sizes = rng.choice(
        np.arange(1, weights.size + 1), size=config.residents, p=weights / weights.sum()
    )
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, config.residents)) + 1
    sizes = sizes[:count]
    sizes[-1] -= int(ends[count - 1] - config.residents)
    return sizes


def _nearest_of_candidates(
    rng: np.random.Generator,
    city: City,
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    keep: int,
    draws: int = 12,
) -> np.ndarray:
    """For each origin, ``keep`` places of ``kind``: the nearest of ``draws`` picked by popularity.

    Gives favourites that are mostly local while popular places draw from afar.
    """
    places = city.of_kind(kind)
    weights = city.popularity[places] / city.popularity[places].sum()
    candidates = rng.choice(places, size=(x.size, draws), p=weights)
    distance = np.hypot(city.x[candidates] - x[:, None], city.y[candidates] - y[:, None])
    order = np.argsort(distance, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(candidates, order, axis=1)


def _by_popularity(rng: np.random.Generator, city: City, kind: str, n: int) -> np.ndarray:
    places = city.of_kind(kind)
    weights = city.popularity[places] / city.popularity[places].sum()
    return rng.choice(places, size=n, p=weights)


def build_population(config: SimulationConfig) -> tuple[City, Population]:
    """The city and its residents (both deterministic by the seed)."""
    rng = rng_for(config.seed, "population")
    sizes = _household_sizes(config, rng)
    city = build_city(config, households=sizes.size)
    n = config.residents
    household = np.repeat(np.arange(sizes.size), sizes)
    home = city.of_kind("home")[household]
    hx, hy = city.x[home], city.y[home]

    other_share = 1 - config.worker_share - config.student_share
    role = rng.choice(
        [WORKER, STUDENT, OTHER], size=n, p=[config.worker_share, config.student_share, other_share]
    )
    work = np.full(n, -1, np.int64)
    workers, students = role == WORKER, role == STUDENT
    work[workers] = _nearest_of_candidates(rng, city, "work", hx[workers], hy[workers], 1, draws=6)[
        :, 0
    ]
    work[students] = _nearest_of_candidates(
        rng, city, "school", hx[students], hy[students], 1, draws=3
    )[:, 0]
    day_start = np.where(students, 8 * HOUR + 20 * MINUTE, rng.normal(8.75 * HOUR, 30 * MINUTE, n))
    day_end = np.where(
        students, rng.normal(16 * HOUR, 45 * MINUTE, n), rng.normal(18 * HOUR, 40 * MINUTE, n)
    )
    wx = np.where(work >= 0, city.x[np.maximum(work, 0)], hx)
    wy = np.where(work >= 0, city.y[np.maximum(work, 0)], hy)

    near_home = {
        kind: _nearest_of_candidates(rng, city, kind, hx, hy, FAVOURITES)
        for kind in ("restaurant", "cafe", "shop", "bar", "hospital")
    }
    near_work = {
        kind: _nearest_of_candidates(rng, city, kind, wx, wy, FAVOURITES)
        for kind in ("restaurant", "cafe")
    }

    church = np.where(
        rng.random(n) < config.church_member_share, _by_popularity(rng, city, "church", n), -1
    )
    services = city.services[np.maximum(church, 0)]
    service_start = (
        np.asarray(SERVICE_HOURS)[rng.integers(0, 3, n) % np.maximum(services, 1)] * HOUR
    )
    adults = role != STUDENT
    gym = np.where(
        rng.random(n) < config.gym_member_share,
        _nearest_of_candidates(rng, city, "gym", hx, hy, 1)[:, 0],
        -1,
    )
    club = np.where(
        adults & (rng.random(n) < config.club_goer_share / max(1e-9, 1 - config.student_share)),
        _by_popularity(rng, city, "club", n),
        -1,
    )
    bar_goer = adults & (rng.random(n) < config.bar_goer_share)
    transit_user = rng.random(n) < config.transit_user_share

    carrier_names, carrier_weights = zip(*config.carrier_shares, strict=True)
    has_phone = rng.random(n) < config.phone_share
    carrier = np.where(
        has_phone,
        rng.choice(len(carrier_names), size=n, p=np.array(carrier_weights) / sum(carrier_weights)),
        -1,
    )
    phone_number = np.full(n, -1, np.int64)
    phone_number[has_phone] = rng.choice(10**8, size=int(has_phone.sum()), replace=False)
    phone_activity = rng.lognormal(
        -(config.user_activity_sigma**2) / 2, config.user_activity_sigma, n
    )
    has_gps = has_phone & (rng.random(n) < config.gps_share)

    weights = np.asarray(config.cards_per_adult_weights, dtype=float)
    card_count = rng.choice(weights.size, size=n, p=weights / weights.sum())
    card_count = np.where(
        students, (rng.random(n) < config.student_card_share).astype(int), card_count
    )
    card_count = np.where(transit_user & (card_count == 0), 1, card_count)  # a transit card
    card_owner = np.repeat(np.arange(n), card_count)
    card_first = np.concatenate([[0], np.cumsum(card_count)[:-1]])
    issuer_weights = 1.0 / np.arange(1, len(CARD_ISSUERS) + 1) ** 0.8
    card_issuer = rng.choice(
        len(CARD_ISSUERS), size=card_owner.size, p=issuer_weights / issuer_weights.sum()
    )
    bins = rng.integers(1000, 9999, len(CARD_ISSUERS)) * 10**12
    card_number = bins[card_issuer] + rng.choice(10**12, size=card_owner.size, replace=False)

    return city, Population(
        household=household,
        home=home,
        role=role,
        work=work,
        day_start=day_start,
        day_end=day_end,
        near_home=near_home,
        near_work=near_work,
        church=church,
        service_start=service_start,
        gym=gym,
        club=club,
        bar_goer=bar_goer,
        transit_user=transit_user,
        carrier=carrier,
        phone_number=phone_number,
        phone_activity=phone_activity,
        has_gps=has_gps,
        card_owner=card_owner,
        card_issuer=card_issuer,
        card_number=card_number,
        card_first=card_first,
        card_count=card_count,
    )
