"""Stay points from dense GPS fixes: the sliding-window method of Li et al. (2008).

This reproduces trackintel 1.4.2 ``generate_staypoints(method="sliding")``
exactly (same staypoints, same times, same locations on the same fixes), at
tens of millions of fixes per second: a vectorised Arrow/NumPy preparation and
one compiled pass over contiguous arrays.

The rule, per person, over fixes sorted by time:

- a window starts at a fix ``s``; each next fix ``c`` is compared with ``s``;
- a gap longer than ``gap_threshold_min`` between two consecutive fixes drops
  the window in progress (no staypoint, whatever its duration) and restarts it
  at ``c``;
- once ``c`` is at least ``dist_threshold_m`` (haversine, sphere of radius
  6,371,000 m) away from ``s``, the fixes ``s .. c-1`` are a staypoint if
  ``c`` came at least ``time_threshold_min`` after ``s``; either way the next
  window starts at ``c``;
- a staypoint runs from the time of ``s`` to the time of ``c`` (the first fix
  outside it: the person is assumed to stay until then); its location is the
  mean of the distinct positions of ``s .. c-1`` (latitude averaged, longitude
  as a circular mean), as trackintel's geometry;
- the window still open at a person's last fix becomes a staypoint only with
  ``include_last`` (ending at, and including, that last fix).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from epitrace.distances import EARTH_RADIUS_M  # 6,371,000 m: trackintel's sphere

DEG_TO_RAD = math.pi / 180.0  # the constant of math.radians / np.deg2rad
RAD_TO_DEG = 180.0 / math.pi
NANOS_PER_MINUTE = 60_000_000_000
NANOS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# Beyond half the circumference no pair of points is that far apart; the fast
# bounds below assume a threshold below it.
_HALF_CIRCUMFERENCE_M = math.pi * EARTH_RADIUS_M

STAYPOINT_SCHEMA = pa.schema(
    [
        pa.field("person_ref", pa.string(), nullable=False),
        pa.field("start", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("n_fixes", pa.int64(), nullable=False),
    ]
)


def detect_gps_staypoints(
    points: pa.Table,
    dist_threshold_m: float = 100.0,
    time_threshold_min: float = 5.0,
    gap_threshold_min: float = 15.0,
    include_last: bool = False,
) -> pa.Table:
    """Stay points of each person from GPS fixes (Li et al. 2008, as trackintel).

    Parameters
    ----------
    points:
        A ``gps_points``-like table: ``person_ref`` (string), ``ts`` (timestamp
        with time zone), ``lat``, ``lon`` (WGS 84 degrees); other columns are
        ignored. Any row order: fixes are sorted by (person_ref, ts), ties kept
        in input order. Exact duplicates (same person, time and position) are
        dropped, as trackintel does.
    dist_threshold_m:
        Distance in metres (haversine) a person must move away from the first
        fix of a window to end it. Default 100 m.
    time_threshold_min:
        Minimum duration in minutes, from the window's first fix to the first
        fix outside it, for the window to be a staypoint. Default 5 min.
    gap_threshold_min:
        Longest allowed silence in minutes between consecutive fixes. Default
        15 min. A longer gap *drops the stay in progress* and starts a new
        window after the gap, as trackintel does: right for dense GPS, where a
        gap means lost signal, but wrong for sparse cell records, where hours
        between records are normal while a person stays put. Cell data needs
        its own rule.
    include_last:
        Also emit the window still open at a person's last fix (if it lasts at
        least ``time_threshold_min``). Default False, as in Li et al.

    Returns
    -------
    One row per staypoint, sorted by person_ref then time: ``person_ref``,
    ``start``, ``end`` (UTC), ``lat``, ``lon`` (location), ``n_fixes`` (fixes
    in the staypoint after de-duplication).
    """
    _check_thresholds(dist_threshold_m, time_threshold_min, gap_threshold_min)
    persons, bounds, kept, ts, lat, lon, nanos_per_tick = _prepare(points)
    first, finish, stop, run = _sliding_stays(
        bounds,
        kept,
        ts,
        lat,
        lon,
        _gap_ticks(gap_threshold_min, nanos_per_tick),
        _time_ticks(time_threshold_min, nanos_per_tick),
        float(dist_threshold_m),
        bool(include_last),
    )
    stay_lat, mean_sin, mean_cos, n_fixes = _location_sums(first, stop, kept, lat, lon)
    # NumPy's arctan2 (as trackintel uses) differs from libm's in the last bit now and then.
    stay_lon = np.arctan2(mean_sin, mean_cos) * RAD_TO_DEG
    return pa.Table.from_arrays(
        [
            persons.take(pa.array(run)),
            _micros(ts[first], nanos_per_tick),
            _micros(ts[finish], nanos_per_tick),
            pa.array(stay_lat),
            pa.array(stay_lon),
            pa.array(n_fixes),
        ],
        schema=STAYPOINT_SCHEMA,
    )


def _micros(ticks: np.ndarray, nanos_per_tick: int) -> pa.Array:
    """Timestamps in the output's microseconds (nanosecond inputs are floored)."""
    if nanos_per_tick >= 1_000:
        micros = ticks * (nanos_per_tick // 1_000)
    else:
        micros = ticks // (1_000 // nanos_per_tick)
    return pa.array(micros, pa.timestamp("us", tz="UTC"))


def _check_thresholds(dist_m: float, time_min: float, gap_min: float) -> None:
    for name, value in (
        ("dist_threshold_m", dist_m),
        ("time_threshold_min", time_min),
        ("gap_threshold_min", gap_min),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _minutes_to_nanos(minutes: float) -> int:
    """Minutes as integer nanoseconds, rounded the way ``pandas.Timedelta(x, unit="min")`` does.

    trackintel compares time differences with such Timedeltas; matching its
    rounding keeps odd thresholds (e.g. 1/3 min) decided identically.
    """
    whole = int(minutes)
    frac = round(minutes - whole, 10)
    return whole * NANOS_PER_MINUTE + int(frac * NANOS_PER_MINUTE)


def _gap_ticks(gap_min: float, nanos_per_tick: int) -> int:
    # diff * nanos_per_tick > gap_ns  <=>  diff > floor(gap_ns / nanos_per_tick)
    return _minutes_to_nanos(gap_min) // nanos_per_tick


def _time_ticks(time_min: float, nanos_per_tick: int) -> int:
    # diff * nanos_per_tick >= time_ns  <=>  diff >= ceil(time_ns / nanos_per_tick)
    return -(-_minutes_to_nanos(time_min) // nanos_per_tick)


# --- preparation: columns to contiguous arrays, sorted, de-duplicated ---


def _prepare(
    points: pa.Table,
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Persons (one per run), run bounds, kept-fix mask, ts ticks, lat, lon, nanos per tick."""
    person, ts_col, lat, lon = _columns(points)
    nanos_per_tick = NANOS_PER_UNIT[ts_col.type.unit]
    ts = ts_col.cast(pa.int64()).to_numpy()
    if len(ts) == 0:
        return person, np.zeros(1, np.int64), np.ones(0, np.bool_), ts, lat, lon, nanos_per_tick
    keys = _order_keys(person)
    starts = _run_starts(keys)
    if not _is_sorted(keys, starts, ts):
        order = pc.sort_indices(  # stable: ties keep input order, as trackintel
            pa.table({"p": keys, "t": ts}), sort_keys=[("p", "ascending"), ("t", "ascending")]
        )
        person, keys = person.take(order), keys.take(order)
        idx = order.to_numpy()
        ts, lat, lon = ts[idx], lat[idx], lon[idx]
        starts = _run_starts(keys)
    bounds = np.append(starts, len(ts))
    # Duplicates are masked, not removed: compacting ~1M rows into fresh arrays costs
    # more (page faults) than skipping the few masked ones in the compiled passes.
    kept = _unique_fixes(bounds, ts, lat, lon)
    persons = person.take(pa.array(starts)).cast(pa.string())
    return persons, bounds, kept, ts, lat, lon, nanos_per_tick


def _columns(points: pa.Table) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    missing = [c for c in ("person_ref", "ts", "lat", "lon") if c not in points.column_names]
    if missing:
        raise ValueError(f"gps points: missing columns {', '.join(missing)}")
    for name in ("person_ref", "ts", "lat", "lon"):
        if points[name].null_count:
            raise ValueError(
                f"gps points: column {name} has {points[name].null_count} empty values"
            )
    ts_type = points.schema.field("ts").type
    if not pa.types.is_timestamp(ts_type) or ts_type.tz is None:
        raise ValueError(f"gps points: ts must be a timestamp with a time zone, got {ts_type}")
    person = points["person_ref"].combine_chunks()
    if not pa.types.is_dictionary(person.type):
        person = person.cast(pa.string())
    lat = _float_column(points, "lat", 90.0)
    lon = _float_column(points, "lon", 180.0)
    return person, points["ts"].combine_chunks(), lat, lon


def _float_column(points: pa.Table, name: str, limit: float) -> np.ndarray:
    values = np.ascontiguousarray(points[name].combine_chunks().cast(pa.float64()).to_numpy())
    bad = _first_outside(values, limit)
    if bad >= 0:
        raise ValueError(
            f"gps points: row {bad}: {name} {values[bad]} is outside [-{limit}, {limit}]"
        )
    return values


@njit(cache=True)
def _first_outside(values, limit):  # pragma: no cover - compiled
    """Index of the first value outside [-limit, limit] or NaN (-1 if none), without temporaries."""
    for i in range(values.shape[0]):
        if not abs(values[i]) <= limit:
            return i
    return -1


def _order_keys(person: pa.Array) -> pa.Array:
    """Values that compare, row to row, as person_ref does.

    A dictionary column (Parquet readers give one for repetitive strings) is
    compared by integer codes ranked like its strings: much cheaper than strings.
    """
    if not pa.types.is_dictionary(person.type):
        return person
    ranks = pc.rank(person.dictionary, sort_keys="ascending", tiebreaker="dense").to_numpy()
    return pa.array(ranks[person.indices.to_numpy(zero_copy_only=False)])


def _run_starts(keys: pa.Array) -> np.ndarray:
    """Row numbers where a new run of equal person_ref begins."""
    if len(keys) < 2:
        return np.zeros(min(len(keys), 1), np.int64)
    change = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    return np.concatenate(([0], np.flatnonzero(change.to_numpy(zero_copy_only=False)) + 1))


def _is_sorted(keys: pa.Array, starts: np.ndarray, ts: np.ndarray) -> bool:
    """Whether rows are already grouped by person (in order) and in time order within each."""
    firsts = keys.take(pa.array(starts))
    if (
        len(firsts) > 1
        and not pc.all(pc.greater(firsts.slice(1), firsts.slice(0, len(firsts) - 1))).as_py()
    ):
        return False
    backwards = np.diff(ts) < 0
    backwards[starts[1:] - 1] = False  # a new person may start earlier in time
    return not backwards.any()


@njit(cache=True)
def _unique_fixes(bounds, ts, lat, lon):  # pragma: no cover - compiled
    """Mask keeping the first of fixes equal in person, time and position."""
    n = ts.shape[0]
    keep = np.ones(n, np.bool_)
    for p in range(bounds.shape[0] - 1):
        i = bounds[p]
        hi = bounds[p + 1]
        while i < hi:
            j = i + 1
            while j < hi and ts[j] == ts[i]:
                j += 1
            # fixes i..j-1 share a timestamp; usually j == i + 1
            for a in range(i + 1, j):
                for b in range(i, a):
                    if keep[b] and lat[a] == lat[b] and lon[a] == lon[b]:
                        keep[a] = False
                        break
            i = j
    return keep


# --- the sliding window ---


@njit(cache=True, inline="always")
def _note_stay(first, finish, stop, run, k, s, end, stop_at, p):
    """Note staypoint ``k``: fixes ``s`` .. ``end``, ``stop_at`` (exclusive), run ``p``;
    the next ``k``."""
    first[k] = s
    finish[k] = end
    stop[k] = stop_at
    run[k] = p
    return k + 1


@njit(cache=True)
def _sliding_stays(bounds, kept, ts, lat, lon, gap_ticks, time_ticks, dist_m, include_last):
    """Index ranges of staypoints: first fix, fix whose time ends it, stop (exclusive), run.

    Masked duplicates are skipped. The gap test may still look at a masked fix
    before ``c``: it shares its timestamp with the last kept one (a duplicate
    follows its original within a run of equal times), so the test is the same.
    """
    n = ts.shape[0]
    first = np.empty(n, np.int64)
    finish = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)
    run = np.empty(n, np.int64)
    near, far = _h_bounds(dist_m)
    k = 0
    for p in range(bounds.shape[0] - 1):
        lo = bounds[p]
        hi = bounds[p + 1]
        s = lo
        lat_s = lat[s] * DEG_TO_RAD
        lon_s = lon[s] * DEG_TO_RAD
        cos_s = math.cos(lat_s)
        last = lo
        for c in range(lo + 1, hi):
            if not kept[c]:
                continue
            last = c
            if ts[c] - ts[c - 1] > gap_ticks:
                moved = True
            else:
                moved = _beyond(
                    lat_s, lon_s, cos_s, lat[c] * DEG_TO_RAD, lon[c] * DEG_TO_RAD, near, far, dist_m
                )
                if moved and ts[c] - ts[s] >= time_ticks:
                    k = _note_stay(first, finish, stop, run, k, s, c, c, p)
            if moved:
                s = c
                lat_s = lat[s] * DEG_TO_RAD
                lon_s = lon[s] * DEG_TO_RAD
                cos_s = math.cos(lat_s)
        if include_last and ts[last] - ts[s] >= time_ticks:
            k = _note_stay(first, finish, stop, run, k, s, last, hi, p)
    return first[:k].copy(), finish[:k].copy(), stop[:k].copy(), run[:k].copy()


@njit(cache=True)
def _h_bounds(dist_m):
    """Bounds on h = 1 - cos(central angle) below/above which the decision needs no trig.

    The distance is r * acos(1 - h); at the threshold h* = 2 sin^2(d / 2r). The
    margins (relative 1e-9, absolute 1e-14) dwarf every rounding error of the
    exact formula, so a decision taken from the bounds equals trackintel's.
    """
    if dist_m >= _HALF_CIRCUMFERENCE_M:
        return -1.0, np.inf  # always the exact formula
    half = math.sin(dist_m / (2.0 * EARTH_RADIUS_M))
    h_star = 2.0 * half * half
    return h_star * (1.0 - 1e-9) - 1e-14, h_star * (1.0 + 1e-9) + 1e-14


@njit(cache=True, inline="always")
def _beyond(lat_s, lon_s, cos_s, lat_c, lon_c, near, far, dist_m):
    """Whether fix c is at least dist_m from s (haversine, as trackintel), mostly without trig.

    h = (1 - cos dlat) + cos(lat_s) cos(lat_c) (1 - cos dlon), with
    x^2/2 - x^4/24 <= 1 - cos x <= x^2/2 and |cos lat_c - cos lat_s| <= |dlat|.
    """
    dlat = lat_s - lat_c
    dlon = lon_s - lon_c
    a = dlat * dlat
    b = dlon * dlon
    adlat = abs(dlat)
    q_hi = cos_s * min(cos_s + adlat, 1.0) + 1e-15
    if 0.5 * (a + q_hi * b) < near:
        return False
    q_lo = max(cos_s * (cos_s - adlat) - 1e-15, 0.0)
    if 0.5 * (a + q_lo * b) - (a * a + b * b) / 24.0 > far:
        return True
    # Too close to the threshold to decide from bounds: trackintel's exact expression.
    cos_lat_d = math.cos(dlat)
    cos_lon_d = math.cos(dlon)
    dist = EARTH_RADIUS_M * math.acos(cos_lat_d - cos_s * math.cos(lat_c) * (1 - cos_lon_d))
    return dist >= dist_m


# --- staypoint locations ---


@njit(cache=True)
def _location_sums(first, stop, kept, lat, lon):  # pragma: no cover - compiled
    """Mean latitude, mean sin and mean cos of longitude over each staypoint's *distinct* positions,
    and its number of (kept) fixes.

    trackintel takes the union of the fixes' points (GEOS: distinct, ordered by
    lon then lat), averages latitude and takes the circular mean of longitude,
    summing in that order; we sum in the same order so results agree to the bit.
    """
    m = first.shape[0]
    out_lat = np.empty(m)
    out_sin = np.empty(m)
    out_cos = np.empty(m)
    out_n = np.empty(m, np.int64)
    for j in range(m):
        s, e = first[j], stop[j]
        n_kept = 0
        for i in range(s, e):
            n_kept += kept[i]
        out_n[j] = n_kept
        if n_kept == e - s:  # the usual case: no copy
            x, y = lon[s:e], lat[s:e]
        else:
            x, y = lon[s:e][kept[s:e]], lat[s:e][kept[s:e]]
        out_lat[j], out_sin[j], out_cos[j] = _distinct_means(x, y)
    return out_lat, out_sin, out_cos, out_n


@njit(cache=True)
def _distinct_means(x, y):  # pragma: no cover - compiled
    """Mean y, mean sin x and mean cos x over the distinct (x, y) pairs, summed in (x, y) order."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ys = y[order]
    k = xs.shape[0]
    i = 0
    while i < k:  # order y within runs of equal x
        j = i + 1
        while j < k and xs[j] == xs[i]:
            j += 1
        if j - i > 32:
            ys[i:j] = np.sort(ys[i:j])
        else:  # short runs (GPS repeats a position): insertion sort, no allocation
            for a in range(i + 1, j):
                v = ys[a]
                b = a - 1
                while b >= i and ys[b] > v:
                    ys[b + 1] = ys[b]
                    b -= 1
                ys[b + 1] = v
        i = j
    sum_y = 0.0
    sum_sin = 0.0
    sum_cos = 0.0
    count = 0
    for i in range(k):
        if i > 0 and xs[i] == xs[i - 1] and ys[i] == ys[i - 1]:
            continue
        count += 1
        sum_y += ys[i]
        x_rad = xs[i] * DEG_TO_RAD
        sum_sin += math.sin(x_rad)
        sum_cos += math.cos(x_rad)
    return sum_y / count, sum_sin / count, sum_cos / count
