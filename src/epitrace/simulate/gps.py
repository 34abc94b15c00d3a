"""Location history from a phone app, for the few residents who keep one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.simulate.clock import DAY
from epitrace.simulate.columns import floats, labels, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.geography import CityFrame
from epitrace.simulate.population import Population
from epitrace.simulate.routines import Legs
from epitrace.simulate.streams import rng_for
from epitrace.simulate.timeline import Timeline


def _still_times(
    rng: np.random.Generator, people: np.ndarray, lo: float, hi: float, midnight: float
):
    """Fix times every lo..hi seconds through the whole day, per person."""
    per_person = int(np.ceil(DAY / lo)) + 1
    steps = rng.uniform(lo, hi, (people.size, per_person))
    t = np.cumsum(steps, axis=1) - rng.uniform(0, hi, (people.size, 1))
    keep = (t >= 0) & (t < DAY)
    return np.broadcast_to(people[:, None], t.shape)[keep], midnight + t[keep]


def _moving_times(rng: np.random.Generator, legs: Legs, wanted: np.ndarray, lo: float, hi: float):
    """Fix times every lo..hi seconds along each trip of the wanted people."""
    leg = np.flatnonzero(wanted[legs.person])
    step = (lo + hi) / 2
    count = np.floor((legs.arrive[leg] - legs.depart[leg]) / step).astype(np.int64)
    which = np.repeat(leg, count)
    k = np.arange(which.size) - np.repeat(np.cumsum(count) - count, count)
    t = legs.depart[which] + (k + rng.uniform(0.0, 1.0, which.size)) * step
    return legs.person[which], t


def gps_day(
    config: SimulationConfig,
    day: int,
    midnight: float,
    population: Population,
    legs: Legs,
    timeline: Timeline,
    frame: CityFrame,
    person_refs: pa.Array,
) -> pa.Table:
    rng = rng_for(config.seed, "gps", day)
    people = np.flatnonzero(population.has_gps)
    still_person, still_t = _still_times(rng, people, *config.gps_still_interval_s, midnight)
    move_person, move_t = _moving_times(
        rng, legs, population.has_gps, *config.gps_moving_interval_s
    )
    in_day = (move_t >= midnight) & (move_t < midnight + DAY)
    person = np.concatenate([still_person, move_person[in_day]])
    t = np.concatenate([still_t, move_t[in_day]])
    where = timeline.positions(person, t)
    # Still fixes only while at a place, moving fixes only while travelling.
    keep = np.concatenate([~where.moving[: still_t.size], where.moving[still_t.size :]])
    # The app stops recording for a while each day (battery saver, app closed).
    off_length = rng.uniform(0, 2 * config.gps_app_off_share * DAY, population.size)
    off_start = midnight + rng.uniform(0, DAY, population.size) - off_length / 2
    keep &= ~((t >= off_start[person]) & (t < off_start[person] + off_length[person]))
    person, t = person[keep], t[keep]
    x, y = where.x[keep], where.y[keep]
    indoors = ~where.moving[keep]
    accuracy = (
        config.gps_accuracy_median_m * rng.lognormal(0, 0.5, t.size) * np.where(indoors, 1.8, 1.0)
    )
    x = x + rng.normal(0, 1, t.size) * accuracy / 1.5
    y = y + rng.normal(0, 1, t.size) * accuracy / 1.5
    lat, lon = frame.lat_lon(x, y)
    missing = rng.random(t.size) < config.gps_accuracy_missing_share
    order = np.lexsort((t, person))
    return pa.table(
        {
            "person_ref": labels(person_refs, person[order]),
            "ts": timestamps(np.round(t[order], 3)),
            "lat": floats(lat[order]),
            "lon": floats(lon[order]),
            "accuracy_m": floats(np.round(accuracy[order], 1), null_mask=missing[order]),
        }
    )
