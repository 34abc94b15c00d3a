"""Card sector: merchants, card holders, and card transactions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.simulate.city import City
from epitrace.simulate.clock import HOUR
from epitrace.simulate.columns import floats, labels, timestamps
from epitrace.simulate.config import CARD_ISSUERS, SimulationConfig
from epitrace.simulate.population import Population
from epitrace.simulate.routines import Visits
from epitrace.simulate.streams import rng_for

# Typical ticket in won by merchant category (log-normal around it).
TYPICAL_AMOUNT = {
    "restaurant": 11_000,
    "cafe": 5_500,
    "grocery": 18_000,
    "convenience": 6_000,
    "pharmacy": 9_000,
    "clothing": 45_000,
    "bar": 38_000,
    "club": 60_000,
    "gym": 15_000,
    "hospital": 9_000,
    "online": 25_000,
}
# When people shop online, by hour of the day (evenings above all).
ONLINE_HOUR_WEIGHTS = np.array(
    [2, 1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 4, 5, 6, 5, 4, 4, 4, 5, 6, 7, 8, 9, 8, 5], dtype=float
)


def merchants_table(city: City) -> pa.Table:
    places = np.flatnonzero(city.merchant >= 0)
    names = pa.array(city.names)
    addresses = pa.array(city.addresses)
    offline = pa.table(
        {
            "merchant_id": labels(city.merchant_ids, city.merchant[places]),
            "name": labels(names, places),
            "category": labels(city.merchant_category, city.merchant[places]),
            "address": labels(addresses, places),
            "lat": floats(city.lat[places]),
            "lon": floats(city.lon[places]),
        }
    )
    online = pa.table(
        {
            "merchant_id": labels(city.merchant_ids, city.online_merchants),
            "name": pa.array(city.online_merchant_names),
            "category": pa.array(["online"] * city.online_merchants.size),
            "address": pa.array(city.online_merchant_addresses),
            "lat": floats(city.online_lat),
            "lon": floats(city.online_lon),
        }
    )
    return pa.concat_tables([offline, online])


def card_holders_table(population: Population, cards: pa.Array, person_refs: pa.Array) -> pa.Table:
    return pa.table(
        {
            "issuer": labels(CARD_ISSUERS, population.card_issuer),
            "card_id": cards,
            "person_ref": labels(person_refs, population.card_owner),
        }
    )


def _amounts(rng: np.random.Generator, categories: list[str], merchant: np.ndarray) -> np.ndarray:
    typical = np.array([TYPICAL_AMOUNT.get(c, 10_000) for c in categories], dtype=float)
    amount = typical[merchant] * rng.lognormal(0.0, 0.5, merchant.size)
    return np.maximum(100.0, np.round(amount, -2))


def card_transactions_day(
    config: SimulationConfig,
    day: int,
    midnight: float,
    city: City,
    population: Population,
    visits: Visits,
    cards: pa.Array,
) -> pa.Table:
    """Offline payments during visits to card-taking places, and online purchases."""
    rng = rng_for(config.seed, "cards", day)
    pop = population
    # Offline: someone at a card-taking place pays by card, if they have one.
    paying = np.flatnonzero(
        (city.merchant[visits.place] >= 0)
        & (pop.card_count[visits.person] > 0)
        & (rng.random(len(visits)) < config.card_payment_probability)
    )
    person = visits.person[paying]
    card_offline = (
        pop.card_first[person] + rng.integers(0, 1 << 30, paying.size) % pop.card_count[person]
    )
    share = rng.uniform(0.05, 0.95, paying.size)
    ts_offline = np.floor(
        visits.start[paying] + share * (visits.end[paying] - visits.start[paying])
    )
    merchant_offline = city.merchant[visits.place[paying]]
    # Online: purchases by every holder at any hour; they say nothing about location.
    holders = np.flatnonzero(pop.card_count > 0)
    count = rng.poisson(config.online_transactions_per_holder_day, holders.size)
    buyer = np.repeat(holders, count)
    card_online = (
        pop.card_first[buyer] + rng.integers(0, 1 << 30, buyer.size) % pop.card_count[buyer]
    )
    hour = rng.choice(24, size=buyer.size, p=ONLINE_HOUR_WEIGHTS / ONLINE_HOUR_WEIGHTS.sum())
    ts_online = np.floor(midnight + hour * HOUR + rng.uniform(0, HOUR, buyer.size))
    merchant_online = rng.choice(city.online_merchants, size=buyer.size)

    card = np.concatenate([card_offline, card_online])
    ts = np.concatenate([ts_offline, ts_online])
    merchant = np.concatenate([merchant_offline, merchant_online])
    channel = np.concatenate([np.zeros(paying.size, np.int64), np.ones(buyer.size, np.int64)])
    order = np.argsort(ts, kind="stable")
    card, ts, merchant, channel = card[order], ts[order], merchant[order], channel[order]
    return pa.table(
        {
            "issuer": labels(CARD_ISSUERS, pop.card_issuer[card]),
            "card_id": labels(cards, card),
            "ts": timestamps(ts),
            "merchant_id": labels(city.merchant_ids, merchant),
            "amount": floats(_amounts(rng, city.merchant_category, merchant)),
            "channel": labels(["offline", "online"], channel),
        }
    )
