"""Electronic entry registers (QR check-ins) at high-risk venues."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.simulate.city import KIND, PLACE_KINDS, City
from epitrace.simulate.clock import MINUTE
from epitrace.simulate.columns import floats, labels, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.population import Population
from epitrace.simulate.routines import Visits
from epitrace.simulate.streams import rng_for

OPERATORS = ("Naver", "Kakao", "PASS")  # the apps that issued the QR codes


def venue_ids(city: City) -> list[str]:
    return [f"QR-{p:07d}" for p in range(city.size)]


def entry_logs_day(
    config: SimulationConfig,
    day: int,
    city: City,
    population: Population,
    visits: Visits,
    phones: pa.Array,
    venues: pa.Array,
) -> pa.Table:
    """A check-in at the start of a share of visits to listed venues, by phone number."""
    rng = rng_for(config.seed, "entry_logs", day)
    compliance = np.zeros(len(PLACE_KINDS))
    for kind, share in config.entry_log_compliance:
        compliance[KIND[kind]] = share
    kind = city.kind[visits.place]
    check = np.flatnonzero(
        (population.carrier[visits.person] >= 0) & (rng.random(len(visits)) < compliance[kind])
    )
    place = visits.place[check]
    ts = np.floor(visits.start[check] + rng.uniform(0, 3 * MINUTE, check.size))
    operator = rng.integers(0, len(OPERATORS), check.size)
    order = np.argsort(ts, kind="stable")
    check, place, ts, operator = check[order], place[order], ts[order], operator[order]
    return pa.table(
        {
            "operator": labels(OPERATORS, operator),
            "venue_id": labels(venues, place),
            "venue_name": labels(pa.array(city.names), place),
            "category": labels(PLACE_KINDS, city.kind[place]),
            "lat": floats(city.lat[place]),
            "lon": floats(city.lon[place]),
            "visitor": labels(phones, visits.person[check]),
            "ts": timestamps(ts),
        }
    )
