"""Meetings: pairs of stays of two different cases at one place at overlapping times.

Many cases' stays are bucketed by a square of ``max_match_m`` metres and a
UTC day; each stay is compared only with the stays of its own and the eight
neighbouring squares on the days it covers, so the work grows with the stays
that are near in space and time, not with the square of all stays. The
comparison is one compiled pass (Numba); what a pair of stays means
(closeness, enclosed place, home) is decided afterwards, in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

MICROS_PER_DAY = 86_400_000_000
MICROS_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class StayArrays:
    """Stays of many cases, column by column (NumPy), in one local projection."""

    case: np.ndarray  # int64: index of the stay's case
    start: np.ndarray  # int64 µs since epoch, UTC
    end: np.ndarray  # int64 µs
    x: np.ndarray  # float64 metres
    y: np.ndarray  # float64 metres
    radius: np.ndarray  # float64 metres: uncertainty of the location

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


@njit(cache=True)
def _pairs_in_buckets(
    own_key, own_stay, near_key, near_stay, case, start, end, x, y, radius, gap, min_m, max_m
):  # pragma: no cover - compiled
    """Pairs (i, j), i < j, of stays of different cases near in space and time.

    ``own_*`` lists every stay in its own bucket, ``near_*`` every stay in the
    nine buckets around its own; both sorted by key. A pair is reported once: in
    the bucket of i's square on the UTC day of the later start.
    """
    cap = 1024
    first = np.empty(cap, np.int64)
    second = np.empty(cap, np.int64)
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
                reach = radius[i] + radius[j]
                reach = min(max(reach, min_m), max_m)
                if (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 > reach * reach:
                    continue
                if found == cap:
                    cap *= 2
                    first = np.resize(first, cap)
                    second = np.resize(second, cap)
                first[found] = i
                second[found] = j
                found += 1
        a = a_end
        b = b_end
    return first[:found], second[:found]


def _keys(cell_x: np.ndarray, cell_y: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (square, day): squares offset to be non-negative."""
    return (cell_x * 100_003 + cell_y) * 1_000_000 + day


def near_pairs(
    stays: StayArrays, gap_min: float, min_match_m: float, max_match_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i < j, of stays of different cases whose estimates lie
    within the sum of their radii (clamped to [``min_match_m``, ``max_match_m``])
    and whose times overlap or come within ``gap_min`` minutes."""
    if stays.size < 2:
        empty = np.empty(0, np.int64)
        return empty, empty
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
    )
