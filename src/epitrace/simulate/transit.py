"""Public transport: taps in and out of cards that double as transit cards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.simulate.city import City
from epitrace.simulate.columns import floats, labels, timestamps
from epitrace.simulate.config import CARD_ISSUERS
from epitrace.simulate.population import Population
from epitrace.simulate.routines import BUS, SUBWAY, Legs


def stop_ids(city: City) -> list[str]:
    """Operator ids of every place ('' for places that are not stops)."""
    prefix = {0: "BUS", 1: "SUB"}
    return [f"{prefix[m]}-{p:07d}" if m >= 0 else "" for p, m in enumerate(city.stop_mode.tolist())]


def transit_taps_day(
    city: City, population: Population, legs: Legs, cards: pa.Array, stops: pa.Array
) -> pa.Table:
    """Two taps per bus or subway leg, with the person's first card (their transit card)."""
    ride = np.flatnonzero(np.isin(legs.mode, [BUS, SUBWAY]))
    card = population.card_first[legs.person[ride]]
    stop = np.concatenate([legs.stop_in[ride], legs.stop_out[ride]])
    ts = np.floor(np.concatenate([legs.tap_in[ride], legs.tap_out[ride]]))
    card = np.concatenate([card, card])
    mode = np.concatenate([legs.mode[ride], legs.mode[ride]]) == SUBWAY
    tap = np.repeat([0, 1], ride.size)
    order = np.argsort(ts, kind="stable")
    stop, ts, card, mode, tap = stop[order], ts[order], card[order], mode[order], tap[order]
    return pa.table(
        {
            "issuer": labels(CARD_ISSUERS, population.card_issuer[card]),
            "card_id": labels(cards, card),
            "ts": timestamps(ts),
            "stop_id": labels(stops, stop),
            "stop_name": labels(pa.array(city.names), stop),
            "lat": floats(city.lat[stop]),
            "lon": floats(city.lon[stop]),
            "mode": labels(["bus", "subway"], mode.astype(np.int64)),
            "tap": labels(["in", "out"], tap),
        }
    )
