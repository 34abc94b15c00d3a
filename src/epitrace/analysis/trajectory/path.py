"""The subject's path: stays in the contract's ``stays`` schema, and the moves between them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from epitrace.analysis.trajectory.stays import Stay
from epitrace.analysis.trajectory.timeline import Ride, Timeline
from epitrace.formats.schemas import table
from epitrace.geography import locate

# Sources are listed in this order in the `sources` column.
SOURCE_ORDER = ("telecom", "card", "transit", "entry", "gps")


@dataclass
class Move:
    start: int  # µs, when the previous stay ends
    end: int  # when the next stay starts
    points: list[tuple[float, float]]  # (x, y) metres: from stay, stops ridden, to stay
    mode: str  # "bus", "subway", "bus+subway" or "" when unknown


def _sources(stay: Stay) -> str:
    return "+".join(s for s in SOURCE_ORDER if s in stay.sources)


def _to_second(micros: list[int]) -> pa.Array:
    """Estimated times to the second: midpoints carry no meaningful microseconds."""
    seconds = [(m + 500_000) // 1_000_000 * 1_000_000 for m in micros]
    return pa.array(seconds, pa.int64()).cast(pa.timestamp("us", "UTC"))


def stay_place_and_time(row: dict[str, Any]) -> dict[str, Any]:
    """A ``stays`` row's seq, start, end, lat and lon (keyed by those names): the
    place and time every view of a stay starts from."""
    return {name: row[name] for name in ("seq", "start", "end", "lat", "lon")}


def stays_table(stays: list[Stay], timeline: Timeline) -> pa.Table:
    """Stays as the contract's ``stays`` table, in time order, numbered from 1, each
    with the district that holds it (all of them looked up at once)."""
    x = np.array([s.x for s in stays], dtype=float)
    y = np.array([s.y for s in stays], dtype=float)
    lat, lon = timeline.projection.to_latlon(x, y)
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    districts = locate(lat, lon)  # no stays: reads no polygons
    columns = {
        "person_ref": [timeline.person_ref] * len(stays),
        "seq": list(range(1, len(stays) + 1)),
        "start": _to_second([s.start for s in stays]),
        "end": _to_second([s.end for s in stays]),
        "lat": lat,
        "lon": lon,
        "radius_m": [round(s.radius, 1) for s in stays],
        "place_name": [s.name or None for s in stays],
        "sources": [_sources(s) for s in stays],
        "confidence": [float(s.confidence) for s in stays],
    }
    for name in ("sido", "sigungu", "emd", "sigungu_code"):
        columns[name] = districts.column(name)
    return pa.table(columns).cast(table("stays").arrow_schema)


def _modes(rides: list[Ride]) -> str:
    seen: list[str] = []
    for ride in rides:
        if ride.mode and ride.mode not in seen:
            seen.append(ride.mode)
    return "+".join(seen)


def moves_between(stays: list[Stay], rides: list[Ride]) -> list[Move]:
    """One move between each pair of consecutive stays, through the stops ridden."""
    moves = []
    for before, after in itertools.pairwise(stays):
        during = [r for r in rides if before.end <= r.t_in and r.t_out <= after.start]
        points = [(before.x, before.y)]
        for ride in during:
            points += [ride.from_xy, ride.to_xy]
        points.append((after.x, after.y))
        moves.append(Move(before.end, after.start, points, _modes(during)))
    for stay in stays:  # rides are travel: a stay that still holds one was sharpened around it
        stay.sources -= {"transit"}
    return moves
