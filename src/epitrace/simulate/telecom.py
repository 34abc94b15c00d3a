"""Mobile carriers: base stations, subscribers and attachment records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from epitrace.simulate.clock import HOUR
from epitrace.simulate.columns import floats, labels, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.geography import CityFrame, NearestLookup
from epitrace.simulate.population import Population
from epitrace.simulate.streams import rng_for
from epitrace.simulate.timeline import Timeline

# Mobile network codes of Korea's carriers (MCC 450), for realistic cell ids.
NETWORK_CODES = {"SKT": 5, "KT": 8, "LGU": 6}


def cell_radius_m(config: SimulationConfig, distance_m: np.ndarray) -> np.ndarray:
    """Typical coverage radius at a distance from the centre: small downtown, large outside."""
    return np.minimum(
        config.cell_radius_max_m,
        config.cell_radius_centre_m * np.exp(np.asarray(distance_m) / config.cell_radius_growth_m),
    )


@dataclass
class Cells:
    carrier: np.ndarray  # index into config.carrier_shares
    x: np.ndarray
    y: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    radius_m: np.ndarray
    ids: pa.Array  # cell_id strings
    lookups: list[NearestLookup]  # per carrier, over that carrier's cells
    offsets: np.ndarray  # per carrier: index of its first cell

    def table(self, carriers: list[str]) -> pa.Table:
        return pa.table(
            {
                "carrier": labels(carriers, self.carrier),
                "cell_id": self.ids,
                "lat": floats(self.lat),
                "lon": floats(self.lon),
                "radius_m": floats(self.radius_m),
            }
        )


def _ring_sites(
    config: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Antennas on concentric rings spaced by their coverage: dense downtown, sparse outside."""
    xs, ys, rings = [np.zeros(1)], [np.zeros(1)], [np.zeros(1, np.int64)]
    edge = config.city_radius_m + 2_000.0
    distance = config.cell_spacing_factor * config.cell_radius_centre_m * rng.uniform(0.6, 1.0)
    ring = 1
    while distance < edge:
        spacing = config.cell_spacing_factor * float(cell_radius_m(config, distance))
        count = max(6, round(2 * np.pi * distance / spacing))
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(count) / count
        r = distance + rng.normal(0, 0.15 * spacing, count)
        xs.append(r * np.cos(angle) + rng.normal(0, 0.1 * spacing, count))
        ys.append(r * np.sin(angle) + rng.normal(0, 0.1 * spacing, count))
        rings.append(np.full(count, ring))
        distance += spacing * 0.9
        ring += 1
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(rings)


def build_cells(config: SimulationConfig, frame: CityFrame) -> Cells:
    rng = rng_for(config.seed, "cells")
    parts, ids = [], []
    for c, (name, _) in enumerate(config.carrier_shares):
        x, y, ring = _ring_sites(config, rng)
        radius = cell_radius_m(config, np.hypot(x, y)) * rng.lognormal(0, 0.15, x.size)
        radius = np.round(np.clip(radius, 50.0, config.cell_radius_max_m), 1)
        mnc = NETWORK_CODES.get(name, 10 + c)
        ids += [f"450-{mnc:02d}-{1000 + r}-{i:05d}" for i, r in enumerate(ring.tolist())]
        parts.append((np.full(x.size, c), x, y, radius))
    carrier = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    y = np.concatenate([p[2] for p in parts])
    radius = np.concatenate([p[3] for p in parts])
    lat, lon = frame.lat_lon(x, y)
    half = config.city_radius_m + 3_000.0
    lookups = [NearestLookup(p[1], p[2], half, pixel_m=100.0) for p in parts]
    offsets = np.concatenate([[0], np.cumsum([p[1].size for p in parts])[:-1]])
    return Cells(carrier, x, y, lat, lon, radius, pa.array(ids), lookups, offsets)


def subscribers_table(
    config: SimulationConfig, population: Population, person_refs: pa.Array
) -> pa.Table:
    carriers = [name for name, _ in config.carrier_shares]
    idx = np.flatnonzero(population.carrier >= 0)
    idx = idx[np.lexsort((population.phone_number[idx], population.carrier[idx]))]
    phones = pa.array(population.phone_strings)
    return pa.table(
        {
            "carrier": labels(carriers, population.carrier[idx]),
            "subscriber": labels(phones, idx),
            "person_ref": labels(person_refs, idx),
        }
    )


def record_times(
    config: SimulationConfig, rng: np.random.Generator, population: Population, midnight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(person, ts) of every attachment record of the day, in time order.

    A Poisson process per person and hour: busy by day, sparse at night, with
    some person-days going silent for hours (phone off, no signal).
    """
    phones = np.flatnonzero(population.carrier >= 0)
    rate = np.asarray(config.records_per_hour) * population.phone_activity[phones, None]
    silent = rng.random(phones.size) < config.silence_probability
    lo, hi = config.silence_hours
    length = rng.uniform(lo, hi, phones.size)
    begin = rng.uniform(0, 24 - length)
    hours = np.arange(24) + 0.5
    in_silence = silent[:, None] & (hours >= begin[:, None]) & (hours < (begin + length)[:, None])
    counts = rng.poisson(np.where(in_silence, 0.0, rate)).ravel()
    slot = np.repeat(np.arange(counts.size), counts)
    person = phones[slot // 24]
    ts = midnight + (slot % 24) * HOUR + rng.uniform(0, HOUR, slot.size)
    ts = np.floor(ts)  # carriers log whole seconds
    order = np.argsort(ts, kind="stable")
    return person[order], ts[order]


def telecom_day(
    config: SimulationConfig,
    day: int,
    midnight: float,
    population: Population,
    cells: Cells,
    timeline: Timeline,
    phones: pa.Array,
) -> pa.Table:
    rng = rng_for(config.seed, "telecom", day)
    person, ts = record_times(config, rng, population, midnight)
    where = timeline.positions(person, ts)
    sigma = config.cell_location_noise * cell_radius_m(config, np.hypot(where.x, where.y))
    x = where.x + rng.normal(0, 1, ts.size) * sigma
    y = where.y + rng.normal(0, 1, ts.size) * sigma
    ping_pong = rng.random(ts.size) < config.ping_pong_probability
    carrier = population.carrier[person]
    cell = np.empty(ts.size, np.int64)
    for c, lookup in enumerate(cells.lookups):
        mine = carrier == c
        local = np.where(
            ping_pong[mine],
            lookup.second_nearest(x[mine], y[mine]),
            lookup.nearest(x[mine], y[mine]),
        )
        cell[mine] = cells.offsets[c] + local
    events, shares = zip(*config.event_shares, strict=True)
    event = rng.choice(len(events), size=ts.size, p=np.array(shares) / sum(shares))
    carriers = [name for name, _ in config.carrier_shares]
    return pa.table(
        {
            "carrier": labels(carriers, carrier),
            "subscriber": labels(phones, person),
            "ts": timestamps(ts),
            "cell_id": labels(cells.ids, cell),
            "event": labels(list(events), event),
        }
    )
