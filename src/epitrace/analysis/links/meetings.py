"""Meetings: pairs of stays of two different cases at one place at overlapping times.

Many cases' stays are bucketed by a square of ``max_match_m`` metres and a
UTC day; each stay is compared only with the stays of its own and the eight
neighbouring squares on the days it covers, so the work grows with the stays
that are near in space and time, not with the square of all stays. The
comparison is one compiled pass (Numba); what a pair of stays means
(enclosed place, home) is decided afterwards, in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from epitrace.analysis.links.params import LinkParams

MICROS_PER_DAY = 86_400_000_000
MICROS_PER_MINUTE = 60_000_000
# The closeness parameters the compiled loop reads, in this order (``near_pairs``).
P_SAME_NAME_M, P_ROOM_M, P_CELL_M, P_MIN_CLOSENESS, P_TOGETHER_LR, P_TOGETHER_MIN = range(6)


@dataclass(frozen=True)
class StayArrays:
    """Stays of many cases, column by column (NumPy), in one local projection."""

    case: np.ndarray  # int64: index of the stay's case
    start: np.ndarray  # int64 µs since epoch, UTC
    end: np.ndarray  # int64 µs
    x: np.ndarray  # float64 metres
    y: np.ndarray  # float64 metres
    radius: np.ndarray  # float64 metres: uncertainty of the location
    # The stay's case as a source (infectious) and as a target (exposed), µs:
    # a pair is kept only if one of them could have infected the other then.
    infectious_start: np.ndarray
    infectious_end: np.ndarray
    exposed_start: np.ndarray
    exposed_end: np.ndarray
    place: np.ndarray  # int64: code of the named place, -1 unnamed
    night: np.ndarray  # bool: covers 03:00 local (a night at home)

    @property
    def size(self) -> int:
        return int(self.case.size)


@njit(cache=True)
def _bucket_entries(cx, cy, d0, d1, neighbours):  # pragma: no cover - compiled
    """(cell x, cell y, day, stay) of every stay on every day it covers, in its own
    square (``neighbours`` False) or in each of the 3 x 3 squares around it."""
    n = cx.size
    spread = 1 if neighbours else 0
    total = 0
    for k in range(n):
        total += (d1[k] - d0[k] + 1) * (2 * spread + 1) ** 2
    out_x = np.empty(total, np.int64)
    out_y = np.empty(total, np.int64)
    out_d = np.empty(total, np.int64)
    out_s = np.empty(total, np.int64)
    at = 0
    for k in range(n):
        for day in range(d0[k], d1[k] + 1):
            for dx in range(-spread, spread + 1):
                for dy in range(-spread, spread + 1):
                    out_x[at] = cx[k] + dx
                    out_y[at] = cy[k] + dy
                    out_d[at] = day
                    out_s[at] = k
                    at += 1
    return out_x, out_y, out_d, out_s


@njit(cache=True, inline="always")
def _either_way(lo, hi, inf_s, inf_e, exp_s, exp_e, i, j):  # pragma: no cover - compiled
    """Could i have infected j, or j i, in [lo, hi)?"""
    a = max(lo, inf_s[i], exp_s[j]) < min(hi, inf_e[i], exp_e[j])
    return a or max(lo, inf_s[j], exp_s[i]) < min(hi, inf_e[j], exp_e[i])


@njit(cache=True, inline="always")
def _closeness(i, j, distance, radius, place, night, start, end, p):  # pragma: no cover
    """How surely stays i and j were at one place (0..1; -1: never one place).

    1 at one named place; -1 at two different named places, or a night at home
    and a named venue. Else the two estimates' agreement (a Gaussian of their
    distance over the combined radius) times the chance they are one spot: a
    shared home (both nights) is one dwelling as often as a small cell pins
    people down (analysis.contacts.cell_strength); two day stays are one room as
    often as a room fills the area they may be in (the square of it), and more
    often when they arrived and left together: the odds times a likelihood ratio
    of up to ``together_likelihood_ratio``, falling as a Gaussian of the
    differences in arrival and departure (``together_min``)."""
    named_i, named_j = place[i] >= 0, place[j] >= 0
    if named_i and named_j:
        if place[i] == place[j] and distance <= p[P_SAME_NAME_M]:
            return 1.0
        return -1.0
    if (named_i or named_j) and (night[i] or night[j]):
        return -1.0
    spread = np.sqrt(radius[i] ** 2 + radius[j] ** 2)
    agree = np.exp(-0.5 * (distance / max(spread, 1.0)) ** 2)
    if night[i] and night[j]:
        return agree * p[P_CELL_M] / (p[P_CELL_M] + spread)
    prior = agree * (p[P_ROOM_M] / (p[P_ROOM_M] + spread)) ** 2
    arrive = (start[i] - start[j]) / MICROS_PER_MINUTE
    leave = (end[i] - end[j]) / MICROS_PER_MINUTE
    ratio = 1.0 + (p[P_TOGETHER_LR] - 1.0) * np.exp(
        -0.5 * (arrive**2 + leave**2) / p[P_TOGETHER_MIN] ** 2
    )
    return prior * ratio / (prior * ratio + 1.0 - prior)


@njit(cache=True)
def _pairs_in_buckets(
    own_key,
    own_stay,
    near_key,
    near_stay,
    case,
    start,
    end,
    x,
    y,
    radius,
    gap,
    min_m,
    max_m,
    inf_s,
    inf_e,
    exp_s,
    exp_e,
    place,
    night,
    knobs,
):  # pragma: no cover - compiled
    """Pairs (i, j), i < j, of stays of different cases near in space and time.

    ``own_*`` lists every stay in its own bucket, ``near_*`` every stay in the
    nine buckets around its own; both sorted by key. A pair is reported once: in
    the bucket of i's square on the UTC day of the later start.
    """
    cap = 1024
    first = np.empty(cap, np.int64)
    second = np.empty(cap, np.int64)
    sure = np.empty(cap, np.float64)
    found = 0
    a = 0
    b = 0
    n_own = own_key.size
    n_near = near_key.size
    while a < n_own:
        key = own_key[a]
        a_end = a
        while a_end < n_own and own_key[a_end] == key:
            a_end += 1
        while b < n_near and near_key[b] < key:
            b += 1
        b_end = b
        while b_end < n_near and near_key[b_end] == key:
            b_end += 1
        day = key % 1_000_000
        for p in range(a, a_end):
            i = own_stay[p]
            for q in range(b, b_end):
                j = near_stay[q]
                if j <= i or case[j] == case[i]:
                    continue
                if start[i] >= end[j] + gap or start[j] >= end[i] + gap:
                    continue
                later = start[i] if start[i] > start[j] else start[j]
                if later // 86_400_000_000 != day:
                    continue
                sooner = end[i] if end[i] < end[j] else end[j]
                if not _either_way(
                    min(later, sooner), max(later, sooner) + gap, inf_s, inf_e, exp_s, exp_e, i, j
                ):
                    continue
                reach = radius[i] + radius[j]
                reach = min(max(reach, min_m), max_m)
                distance = np.sqrt((x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2)
                if distance > reach:
                    continue
                closeness = _closeness(i, j, distance, radius, place, night, start, end, knobs)
                if closeness < knobs[P_MIN_CLOSENESS]:
                    continue
                if found == cap:
                    cap *= 2
                    first = np.resize(first, cap)
                    second = np.resize(second, cap)
                    sure = np.resize(sure, cap)
                first[found] = i
                second[found] = j
                sure[found] = closeness
                found += 1
        a = a_end
        b = b_end
    return first[:found], second[:found], sure[:found]


def _keys(cell_x: np.ndarray, cell_y: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (square, day): squares offset to be non-negative."""
    return (cell_x * 100_003 + cell_y) * 1_000_000 + day


def near_pairs(
    stays: StayArrays, params: LinkParams, cell_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i, j), i < j, of stays of different cases, and how surely they were
    at one place (``_closeness``, at least ``params.min_closeness``): estimates within
    the sum of their radii (clamped to [``min_match_m``, ``max_match_m``]), times
    overlapping or within ``enclosed_gap_min``, when one of the two cases may have
    infected the other."""
    gap_min, min_match_m, max_match_m = (
        params.enclosed_gap_min,
        params.min_match_m,
        params.max_match_m,
    )
    if stays.size < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, np.float64)
    gap = int(gap_min * MICROS_PER_MINUTE)
    cell_x = np.floor((stays.x - stays.x.min()) / max_match_m).astype(np.int64) + 1
    cell_y = np.floor((stays.y - stays.y.min()) / max_match_m).astype(np.int64) + 1
    first_day = (stays.start - gap) // MICROS_PER_DAY
    last_day = (stays.end + gap) // MICROS_PER_DAY
    buckets = []
    for neighbours in (False, True):
        bx, by, bd, bs = _bucket_entries(cell_x, cell_y, first_day, last_day, neighbours)
        key = _keys(bx, by, bd)
        order = np.argsort(key, kind="stable")
        buckets.append((key[order], bs[order]))
    (own_key, own_stay), (near_key, near_stay) = buckets
    return _pairs_in_buckets(
        own_key,
        own_stay,
        near_key,
        near_stay,
        stays.case,
        stays.start,
        stays.end,
        stays.x,
        stays.y,
        stays.radius,
        gap,
        float(min_match_m),
        float(max_match_m),
        stays.infectious_start,
        stays.infectious_end,
        stays.exposed_start,
        stays.exposed_end,
        stays.place,
        stays.night,
        _knobs(params, cell_m),
    )


def _knobs(params: LinkParams, cell_m: float) -> np.ndarray:
    """The closeness parameters, in the order of the ``P_*`` indices."""
    return np.array(
        [
            params.same_name_m,
            params.room_m,
            cell_m,
            params.min_closeness,
            params.together_likelihood_ratio,
            params.together_min,
        ],
        dtype=np.float64,
    )
