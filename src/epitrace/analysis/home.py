"""Home: where a person spends the nights, and which stays are a night at home.

Three users ask about home, for three purposes, and each keeps its own rule
(unifying them would change what each one outputs). They live here, side by
side, named for what they decide:

- **Contact search** (``analysis.contacts``) does not search the subject's home:
  ``home_by_night_minutes`` pools the minutes between ``night_start`` and
  ``night_end`` local (01:00-05:00 by default) of every stay within
  ``radius_m`` (200 m) of each candidate; the stay with the most is home. A
  stay with enough ``night_minutes`` of its own is a home too (overnight).
  Precise: it decides whose neighbours become a contact list.
- **Disclosure** (``hub.disclosure.rules``) never publishes the home:
  ``home_by_nights`` counts, per unnamed stay, the nights it spans
  (``nights_spanned``: the 03:00 local times in [start, end], both ends
  included); the stay with the most nights is home. A first guess the
  reviewer corrects; a hotel (a named place) is never home.
- **Hotspot scans** (``analysis.hotspots.case_events``) leave out the night:
  a stay that ``covers_night`` (a 03:00 local time in [start, end)) is the
  night, almost always at home, and not an event at a place. Links between
  cases (``analysis.links``) take the same rule, many stays at once
  (``covers_night_many``): two cases' night stays at one spot are a shared
  home.

All three read local time in the zone ``tz`` (an IANA name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.distances import distance_m

NIGHT_HOUR = 3  # 03:00 local: a stay that covers it is a night at that place


class TimedPlace(Protocol):
    start: dt.datetime
    end: dt.datetime
    lat: float
    lon: float


# --- contact search: night minutes, pooled within a radius ---


def night_minutes(
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    night_start: dt.time,
    night_end: dt.time,
) -> float:
    """Minutes of [start, end) between night_start and night_end local time."""
    total = 0.0
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    while day <= end.astimezone(zone).date():
        lo = dt.datetime.combine(day, night_start, zone)
        hi = dt.datetime.combine(day, night_end, zone)
        overlap = min(hi, end) - max(lo, start)
        total += max(0.0, overlap.total_seconds() / 60)
        day += dt.timedelta(days=1)
    return total


def home_by_night_minutes(
    stays: Sequence[TimedPlace],
    tz: str,
    night_start: dt.time,
    night_end: dt.time,
    radius_m: float,
) -> tuple[float, float] | None:
    """Where the subject spends most night minutes (stays within ``radius_m`` pooled)."""
    zone = ZoneInfo(tz)
    best: tuple[float, float] | None = None
    best_minutes = 0.0
    for candidate in stays:
        minutes = sum(
            night_minutes(s.start, s.end, zone, night_start, night_end)
            for s in stays
            if distance_m(s.lat, s.lon, candidate.lat, candidate.lon) <= radius_m
        )
        if minutes > best_minutes:
            best, best_minutes = (candidate.lat, candidate.lon), minutes
    return best


# --- disclosure: nights spanned, per unnamed stay ---


def nights_spanned(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> int:
    """How many nights (03:00 local) the stay spans, [start, end] both included."""
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    count = 0
    while True:
        night = dt.datetime.combine(day, dt.time(NIGHT_HOUR), tzinfo=zone)
        if night > end:
            return count
        if night >= start:
            count += 1
        day += dt.timedelta(days=1)


def home_by_nights(stays: list[dict[str, Any]], tz: str) -> tuple[float, float] | None:
    """Where the case spent most nights (unnamed stays only: a hotel has a name)."""
    zone = ZoneInfo(tz)
    nights = [
        (nights_spanned(s["start"], s["end"], zone), (s["lat"], s["lon"]))
        for s in stays
        if not s.get("place_name")
    ]
    nights = [n for n in nights if n[0] > 0]
    if not nights:
        return None
    return max(nights, key=lambda n: n[0])[1]


# --- hotspot scans: the night is not an event ---


def covers_night(start: dt.datetime, end: dt.datetime, tz: str) -> bool:
    """Whether [start, end) contains a 03:00 local time."""
    zone = ZoneInfo(tz)
    local_start = start.astimezone(zone)
    night = local_start.replace(hour=NIGHT_HOUR, minute=0, second=0, microsecond=0)
    if night < local_start:
        night = (local_start + dt.timedelta(days=1)).replace(
            hour=NIGHT_HOUR, minute=0, second=0, microsecond=0
        )
    return night < end.astimezone(zone)


MICROS_PER_DAY = 86_400_000_000


def covers_night_many(start: pa.Array, end: pa.Array, tz: str) -> np.ndarray:
    """``covers_night`` for many stays at once: whether each [start, end) (UTC
    timestamps) contains a 03:00 local time in the zone ``tz``."""
    utc = pa.timestamp("us", tz="UTC")
    local_start = _local_micros(pc.cast(start, utc), tz)
    local_end = _local_micros(pc.cast(end, utc), tz)
    night = NIGHT_HOUR * 3_600_000_000
    # The first 03:00 at or after the start, on the local clock.
    first_night = -((night - local_start) // MICROS_PER_DAY) * MICROS_PER_DAY + night
    return first_night < local_end


def _local_micros(ts: pa.Array, tz: str) -> np.ndarray:
    """Microseconds of the local wall clock in ``tz`` (as if it were UTC)."""
    local = pc.local_timestamp(pc.cast(ts, pa.timestamp("us", tz=tz)))
    return np.asarray(pc.cast(local, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
