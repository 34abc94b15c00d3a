"""Kulldorff's space-time permutation scan statistic: the compiled loops.

For a cylinder Z (a circle of locations × a window of days) with ``c`` cases
observed, the permutation model expects ``μ = n_space(Z) · n_time(Z) / N``:
the cases of its locations over the whole period times the cases of its days
over all locations, over all ``N`` cases (Kulldorff et al. 2005). The
statistic is the Poisson generalised log-likelihood ratio

    LLR = c·ln(c/μ) + (N−c)·ln((N−c)/(N−μ))    when c > μ, else 0,

maximised over all cylinders. Under the null hypothesis the dates are
exchangeable among the cases, so replications permute them (keeping every
location's and every day's total) and the p-value is the rank of the observed
maximum among the replicated maxima.

Two facts keep the search small and exact. (1) Shrinking a circle by a step
whose locations have no case in the window keeps ``c`` and lowers ``μ``, which
raises the LLR of a high-rate cylinder; so for each circle only windows that
contain a case of its newest step need evaluating. (2) Likewise a window whose
first or last day has no case in the circle is beaten by the window without
that day; only windows starting and ending on a case day are evaluated
(prospective windows must end on the last day, so only their start is
trimmed). Both give the same maximum (and the same per-centre best cylinder)
as evaluating every cylinder. On top, upper bounds on the LLR (from the most
cases and the fewest expected a window around a day can have, and from the
largest excess of observed over expected) skip days and window lengths that
cannot beat the best value so far: within a centre for the observed data,
over all centres in a replication, which only needs its maximum.

**Blocks of steps.** Most steps cannot beat the best value so far (how
many blocks are ruled out: docs/benchmarks.md, "Space-time scan
statistic"), so a centre's steps are first taken in blocks, each ending at the first
step where the circle holds ``BLOCK_GROWTH`` times the cases it held after
the block's first step, and bounded as a whole: the circle
only grows, so over the block a window of length L holds at most the most
cases any window of length L holds after its last step (and at most the
circle's cases then), and expects at least the fewest any evaluable window
of length L expects after its first step (unadjusted: that step's share of
all cases times the fewest cases of such a window; adjusted: from that
step's weekday shares, with a window's first and last days, which hold a case
of the circle, at a share of at least 1 / n_w). The bound used for the tiers
on these then covers every step and every window of the block in
O(days × lengths) instead of O(lengths) per step. Only a block it cannot
rule out (by a margin, ``BLOCK_BOUND_MARGIN``, so that rounding in the bound
cannot skip a window that would have won) is taken out again and evaluated
step by step as above, so the best value moves exactly as without blocks and
the result is the same.

**Space by day-of-week adjustment** (SaTScan's option for this model).
Places keep weekly schedules (a church gathers on Sundays), which the plain
model reads as space-time interaction. Adjusted, the expected count of
location z on day d is ``μ_zd = n_z,w(d) · n_d / n_w(d)`` (n_z,w: cases at z on
days of weekday w; n_d: cases on day d; n_w: cases on days of weekday w), and
a cylinder expects the sum over its locations and days. For a circle with
n_w(Z) cases on weekday w that is ``Σ_d∈window share[w(d)] · n_d`` with
``share[w] = n_w(Z) / n_w``: the unadjusted model is the special case
``share[w] = n_space / N`` for every w. Replications then permute dates only
among cases of the same weekday, which keeps every n_z,w, n_d and n_w. The
facts above still hold (every μ_zd ≥ 0, so dropping a location or a day
lowers μ), and so do the bounds, which need only c ≥ observed, a lower bound
on μ, and μ ≤ n_space (true: μ ≤ Σ_w n_w(Z)); the lower bounds on μ are then
taken from the circle's own expected counts around the day.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from epitrace.analysis.hotspots.circles import Circles


@njit(cache=True)
def log_likelihood_ratio(cases: float, expected: float, total: float) -> float:
    """Poisson generalised LLR of a high-rate cylinder; 0 unless cases > expected."""
    if cases <= expected:
        return 0.0
    llr = cases * math.log(cases / expected)
    if cases < total:
        llr += (total - cases) * math.log((total - cases) / (total - expected))
    return llr


def expected_cases(n_space: np.ndarray, n_time: np.ndarray, n_total: int) -> np.ndarray:
    """Expected cases of cylinders under the permutation model: n_space·n_time/N."""
    return np.asarray(n_space, dtype=float) * np.asarray(n_time, dtype=float) / n_total


def weekday_adjusted_expected(
    days_inside: np.ndarray, case_day: np.ndarray, first: int, last: int, first_day: dt.date
) -> float:
    """Expected cases of a cylinder adjusted for space by day-of-week interaction:
    Σ_w n_w(circle) · n_w(window) / n_w, from the study-day indices of the
    circle's cases (``days_inside``) and of all cases."""
    weekday_inside = (first_day.weekday() + np.asarray(days_inside, dtype=np.int64)) % 7
    weekday_all = (first_day.weekday() + np.asarray(case_day, dtype=np.int64)) % 7
    in_window = (case_day >= first) & (case_day <= last)
    n_circle = np.bincount(weekday_inside, minlength=7)
    n_window = np.bincount(weekday_all[in_window], minlength=7)
    n_weekday = np.bincount(weekday_all, minlength=7)
    used = n_weekday > 0
    return float((n_circle[used] * n_window[used] / n_weekday[used]).sum())


@njit(cache=True)
def count_tables(n_total: int) -> tuple[np.ndarray, np.ndarray]:
    """What the LLR needs of the case count, for n = 0 .. N: ln n, and
    g[n] = n·ln n + (N−n)·ln(N−n), so an LLR costs one log instead of four.
    Compiled, so that replications whose number of cases changes (week
    shifts drop rows) can rebuild it."""
    log_count = np.empty(n_total + 1)
    xlogx = np.zeros(n_total + 1)
    log_count[0] = -np.inf
    for n in range(1, n_total + 1):
        log_count[n] = np.log(n)
        xlogx[n] = n * log_count[n]
    both = np.empty(n_total + 1)
    for n in range(n_total + 1):
        both[n] = xlogx[n] + xlogx[n_total - n]
    return log_count, both


@njit(cache=True)
def log_window_totals(day_prefix: np.ndarray, max_days: int) -> np.ndarray:
    """ln(cases on days s..s+k) indexed [s, k]; -inf where a window has no case or
    runs past the period (such windows are never evaluated)."""
    n_days = day_prefix.size - 1
    out = np.empty((n_days, max_days))
    for s in range(n_days):
        for k in range(max_days):
            total = day_prefix[min(s + k + 1, n_days)] - day_prefix[s]
            out[s, k] = math.log(total) if total > 0 else -np.inf
    return out


@njit(cache=True)
def shortest_window_totals(day_prefix: np.ndarray, max_days: int) -> np.ndarray:
    """Fewest cases (all locations) in any window of length k + 1 that contains
    day t, indexed [t, k]; inf where no such window fits in the period.

    Times a circle's share of all cases it bounds the expected count of those
    windows from below, which lets whole window lengths be skipped."""
    n_days = day_prefix.size - 1
    totals = np.full((n_days, max_days), np.inf)
    for k in range(min(max_days, n_days)):
        length = k + 1
        for t in range(n_days):
            for first in range(max(0, t - k), min(t, n_days - length) + 1):
                totals[t, k] = min(
                    totals[t, k], float(day_prefix[first + length] - day_prefix[first])
                )
    return totals


@njit(cache=True)
def day_tables(
    day_totals: np.ndarray,
    max_days: int,
    first_weekday: int,
    log_count: np.ndarray,
    xlogx: np.ndarray,
) -> tuple:
    """``ScanTables.as_tuple()`` of ``day_totals`` (cases per day, day 0 a
    ``first_weekday``); ``log_count`` and ``xlogx`` depend only on the
    number of cases. Compiled, so that a compiled loop could rebuild the
    tables for replications whose days' totals change."""
    n_days = day_totals.size
    day_prefix = np.zeros(n_days + 1, dtype=np.int64)
    for d in range(n_days):
        day_prefix[d + 1] = day_prefix[d] + day_totals[d]
    shortest = shortest_window_totals(day_prefix, max_days)
    log_shortest = np.empty_like(shortest)
    for t in range(n_days):
        for k in range(max_days):
            value = shortest[t, k]
            # -inf for empty windows, never evaluated; inf where none fits.
            log_shortest[t, k] = math.log(value) if value > 0.0 else -np.inf
    day_weekday = np.empty(n_days, dtype=np.int64)
    weekday_total = np.zeros(7)
    for d in range(n_days):
        day_weekday[d] = (first_weekday + d) % 7
        weekday_total[day_weekday[d]] += day_totals[d]
    return (
        day_totals.astype(np.float64),
        day_prefix,
        log_window_totals(day_prefix, max_days),
        shortest,
        log_shortest,
        log_count,
        xlogx,
        day_weekday,
        weekday_total,
    )


@dataclass(frozen=True)
class ScanTables:
    """What the compiled scan needs besides the days of the cases; none of it
    changes when days are permuted among cases (every day keeps its count of
    cases; with several rows per case, the rows follow their case)."""

    day_total: np.ndarray  # float64[T], cases per day, all locations
    day_prefix: np.ndarray  # int64[T + 1]
    log_window: np.ndarray  # float64[T, W], ln(cases in the window) by first day, length - 1
    shortest: np.ndarray  # float64[T, W], shortest_window_totals
    log_shortest: np.ndarray  # float64[T, W], its log
    log_count: np.ndarray  # float64[N + 1], ln n
    xlogx: np.ndarray  # float64[N + 1], n ln n + (N - n) ln(N - n)
    day_weekday: np.ndarray  # int64[T], weekday of each day (0 = Monday)
    weekday_total: np.ndarray  # float64[7], cases on days of each weekday

    @classmethod
    def of(cls, day_totals: np.ndarray, max_days: int, first_weekday: int = 0) -> ScanTables:
        """Tables of ``day_totals`` (cases per day); day 0 is a ``first_weekday``."""
        totals = np.asarray(day_totals, dtype=np.int64)
        n_total = int(totals.sum())
        return cls(*day_tables(totals, max_days, first_weekday, *count_tables(n_total)))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return (
            self.day_total,
            self.day_prefix,
            self.log_window,
            self.shortest,
            self.log_shortest,
            self.log_count,
            self.xlogx,
            self.day_weekday,
            self.weekday_total,
        )


@njit(cache=True, inline="always")
def _llr_above(
    c: int,
    expected: float,
    log_expected: float,
    xlogx: np.ndarray,
    log_total: float,
    n_total: float,
    floor: float,
) -> float:
    """The LLR of a high-rate cylinder if it beats ``floor``, else ``floor``."""
    rest = n_total - c
    common = xlogx[c] - c * log_expected
    # ln(N - mu) >= ln N - mu / (N - mu): an upper bound that needs no log.
    if common - rest * log_total + rest * expected / (n_total - expected) <= floor:
        return floor
    return max(floor, common - rest * math.log(n_total - expected))


@njit(cache=True, inline="always")
def _best_prospective_window(
    day: int,
    in_circle: np.ndarray,
    n_space: int,
    day_prefix: np.ndarray,
    log_window: np.ndarray,
    log_count: np.ndarray,
    xlogx: np.ndarray,
    max_days: int,
    min_cases: int,
    floor: float,
    adjusted: bool,
    share: np.ndarray,
    day_weekday: np.ndarray,
    day_total: np.ndarray,
) -> tuple[float, int, int]:
    """Best LLR above ``floor`` among windows [first, last day of the period]
    that contain ``day`` and start on a case day of the circle."""
    n_days = in_circle.size
    n_total = float(day_prefix[-1])
    log_total = log_count[-1]
    rate = n_space / n_total
    best_first = -1
    c = 0
    for d in range(day, n_days):
        c += in_circle[d]
    expected_later = 0.0  # adjusted: expected count of days first .. end
    if adjusted:
        for d in range(day + 1, n_days):
            expected_later += share[day_weekday[d]] * day_total[d]
    for first in range(day, max(0, n_days - max_days) - 1, -1):
        if first < day:
            c += in_circle[first]
        if adjusted:
            expected_later += share[day_weekday[first]] * day_total[first]
        if in_circle[first] == 0:
            continue
        expected = expected_later if adjusted else rate * (day_prefix[n_days] - day_prefix[first])
        if c < min_cases or c <= expected:
            continue
        if adjusted:
            log_expected = math.log(expected)
        else:
            log_expected = log_count[n_space] + log_window[first, n_days - 1 - first] - log_total
        llr = _llr_above(c, expected, log_expected, xlogx, log_total, n_total, floor)
        if llr > floor:
            floor, best_first = llr, first
    return floor, best_first, n_days - 1


@njit(cache=True, inline="always")
def _tier_of(length: int) -> int:
    """Window lengths are bounded in tiers 1, 2-3, 4-7, 8-15, ...: tier k holds
    lengths 2^k .. 2^(k+1) - 1."""
    tier = 0
    while length > 1:
        length >>= 1
        tier += 1
    return tier


@njit(cache=True, inline="always")
def _fewest_expected(
    day: int, length: int, lo: int, n_days: int, expected_prefix: np.ndarray
) -> float:
    """Adjusted mode: fewest expected (this circle) of a window of ``length`` days
    holding ``day``; ``expected_prefix[i]`` sums the circle's expected over days
    lo .. lo + i - 1. Longer windows expect no fewer (every day's term is ≥ 0)."""
    fewest = np.inf
    for first in range(max(0, day - length + 1), min(day, n_days - length) + 1):
        fewest = min(fewest, expected_prefix[first + length - lo] - expected_prefix[first - lo])
    return fewest


@njit(cache=True, inline="always")
def _length_tiers_worth_trying(
    day: int,
    in_circle: np.ndarray,
    n_space: int,
    shortest: np.ndarray,
    log_shortest: np.ndarray,
    log_count: np.ndarray,
    n_total: float,
    longest: int,
    min_cases: int,
    floor: float,
    adjusted: bool,
    lo: int,
    expected_prefix: np.ndarray,
) -> int:
    """Bit k set if some window of tier k around ``day`` could beat ``floor``.

    A window of length at most b holding ``day`` has no more cases than the
    circle has within b - 1 days of it, and expects no fewer than the
    shortest window of the tier's smallest length a; with
    LLR <= c ln(c/mu) - (c - mu) + (c - mu)^2 / (N - n_space) that bounds the
    whole tier in O(1) after extending the span (O(a) more when adjusted,
    where the fewest expected is the circle's own, ``_fewest_expected``).
    """
    n_days = in_circle.size
    rate = n_space / n_total
    log_rate = log_count[n_space] - log_count[-1]
    spread = 1.0 / (n_total - n_space)
    worth = 0
    span = 0
    left, right = day, day - 1  # days counted so far: left .. right
    smallest = 1
    tier = 0
    while smallest <= longest:
        largest = min(2 * smallest - 1, longest)
        new_left, new_right = max(0, day - largest + 1), min(n_days - 1, day + largest - 1)
        for d in range(new_left, left):
            span += in_circle[d]
        for d in range(right + 1, new_right + 1):
            span += in_circle[d]
        left, right = new_left, new_right
        c_most = min(span, n_space)
        if adjusted:
            fewest = _fewest_expected(day, smallest, lo, n_days, expected_prefix)
            # A window expecting nothing cannot be bounded: always worth trying.
            log_ratio = log_count[c_most] - math.log(fewest) if fewest > 0.0 else np.inf
        else:
            fewest = rate * shortest[day, smallest - 1]
            log_ratio = log_count[c_most] - log_rate - log_shortest[day, smallest - 1]
        gap = c_most - fewest
        bound = c_most * log_ratio - gap + gap * gap * spread
        # Non-short-circuit `&`: fewer unpredictable branches in the hot path.
        if (c_most >= min_cases) & (gap > 0.0) & (bound > floor):
            worth |= 1 << tier
        smallest = largest + 1
        tier += 1
    return worth


@njit(cache=True, inline="always")
def _best_retrospective_window(
    day: int,
    in_circle: np.ndarray,
    n_space: int,
    day_total: np.ndarray,
    day_prefix: np.ndarray,
    log_window: np.ndarray,
    shortest: np.ndarray,
    log_shortest: np.ndarray,
    log_count: np.ndarray,
    xlogx: np.ndarray,
    max_days: int,
    min_cases: int,
    floor: float,
    best_left: np.ndarray,
    best_right: np.ndarray,
    count: np.ndarray,
    adjusted: bool,
    share: np.ndarray,
    day_weekday: np.ndarray,
    expected_prefix: np.ndarray,
) -> tuple[float, int, int]:
    """Best LLR above ``floor`` among windows of at most ``max_days`` that
    contain ``day`` and start and end on a case day of the circle, with that
    window; (floor, -1, -1) if none beats it.

    First quick bounds on tiers of window lengths (see
    ``_length_tiers_worth_trying``). Then, a window's LLR is at most
    excess² · (1/(2μ) + 1/(N − n_space)), with excess = observed − expected.
    The largest excess of any window reaching j days left and k days right of
    ``day`` costs O(max_days), so whole lengths whose bound cannot beat
    ``floor`` are skipped without enumerating their windows.
    """
    n_days = in_circle.size
    n_total = float(day_prefix[-1])
    log_total = log_count[-1]
    lo = max(0, day - max_days + 1)
    hi = min(n_days - 1, day + max_days - 1)
    rate = n_space / n_total
    spread = 1.0 / (n_total - n_space)
    best_first = -1
    best_last = -1
    longest = min(max_days, n_days)
    if adjusted:
        # The tier bounds need the circle's expected counts around the day.
        _fill_counts_and_excess(
            day,
            lo,
            hi,
            in_circle,
            day_total,
            share,
            day_weekday,
            adjusted,
            count,
            best_left,
            best_right,
            expected_prefix,
        )
    tiers = _length_tiers_worth_trying(
        day,
        in_circle,
        n_space,
        shortest,
        log_shortest,
        log_count,
        n_total,
        longest,
        min_cases,
        floor,
        adjusted,
        lo,
        expected_prefix,
    )
    if tiers == 0:
        return floor, best_first, best_last
    if not adjusted:
        _fill_counts_and_excess(
            day,
            lo,
            hi,
            in_circle,
            day_total,
            share,
            day_weekday,
            adjusted,
            count,
            best_left,
            best_right,
            expected_prefix,
        )
    for length in range(1, longest + 1):
        if not (tiers >> _tier_of(length)) & 1:
            continue
        excess = best_left[min(length - 1, day - lo)] + best_right[min(length - 1, hi - day)]
        if excess <= 0.0:
            continue
        if adjusted:
            fewest = _fewest_expected(day, length, lo, n_days, expected_prefix)
        else:
            fewest = rate * shortest[day, length - 1]
        if excess * excess * (0.5 / fewest + spread) <= floor:
            continue
        for first in range(max(day - length + 1, 0), min(day, n_days - length) + 1):
            last = first + length - 1
            if in_circle[first] == 0 or in_circle[last] == 0:
                continue
            c = count[last - lo + 1] - count[first - lo]
            if adjusted:
                expected = expected_prefix[last - lo + 1] - expected_prefix[first - lo]
            else:
                expected = rate * (day_prefix[last + 1] - day_prefix[first])
            if c < min_cases or c <= expected:
                continue
            if adjusted:
                log_expected = math.log(expected)
            else:
                log_expected = log_count[n_space] + log_window[first, length - 1] - log_total
            llr = _llr_above(c, expected, log_expected, xlogx, log_total, n_total, floor)
            if llr > floor:
                floor, best_first, best_last = llr, first, last
    return floor, best_first, best_last


@njit(cache=True, inline="always")
def _fill_counts_and_excess(
    day: int,
    lo: int,
    hi: int,
    in_circle: np.ndarray,
    day_total: np.ndarray,
    share: np.ndarray,
    day_weekday: np.ndarray,
    adjusted: bool,
    count: np.ndarray,
    best_left: np.ndarray,
    best_right: np.ndarray,
    expected_prefix: np.ndarray,
) -> None:
    """count[i]: cases of the circle on days lo .. lo + i - 1 (and, adjusted,
    expected_prefix[i] their expected). best_right[k] and best_left[j]: largest
    excess (observed - expected) of a window reaching k days right of ``day``
    (day included) or j days left of it. A day expects share[its weekday] times
    its cases (the circle's share of all cases when not adjusted)."""
    count[0] = 0
    best_left[0] = 0.0
    running = 0.0
    for j in range(1, day - lo + 1):
        d = day - j
        running += in_circle[d] - share[day_weekday[d]] * day_total[d]
        best_left[j] = max(best_left[j - 1], running)
    for d in range(lo, day):
        count[d - lo + 1] = count[d - lo] + in_circle[d]
    running = 0.0
    best = -np.inf
    for d in range(day, hi + 1):
        count[d - lo + 1] = count[d - lo] + in_circle[d]
        running += in_circle[d] - share[day_weekday[d]] * day_total[d]
        best = max(best, running)
        best_right[d - day] = best
    if adjusted:
        expected_prefix[0] = 0.0
        for d in range(lo, hi + 1):
            expected_prefix[d - lo + 1] = (
                expected_prefix[d - lo] + share[day_weekday[d]] * day_total[d]
            )


@njit(cache=True, inline="always")
def _set_share(
    share: np.ndarray,
    adjusted: bool,
    space_weekday: np.ndarray,
    weekday_total: np.ndarray,
    n_space: int,
    n_total: int,
) -> None:
    """Expected cases of a circle on a day = share[weekday] × the day's cases:
    n_w(circle) / n_w adjusted, n_space / N for every weekday otherwise."""
    for w in range(7):
        if not adjusted:
            share[w] = n_space / n_total
        elif weekday_total[w] > 0:
            share[w] = space_weekday[w] / weekday_total[w]
        else:
            share[w] = 0.0  # no day of this weekday has a case: never used


# A block of steps ends once its circle holds this many times the cases it held
# after the block's first step; the block's bound takes the fewest expected
# from that first step, so the growth limits how loose the bound is.
BLOCK_GROWTH = 1.25
# A block is skipped only if its bound is below the best LLR by this much, so
# that rounding in the bound can never skip a window that would have won.
BLOCK_BOUND_MARGIN = 1e-9


@njit(cache=True)
def fewest_window_totals(day_prefix: np.ndarray, max_days: int, prospective: bool) -> np.ndarray:
    """Fewest cases (all locations) in a window of length k + 1 that can be
    evaluated, indexed [k]: one starting and ending on a day with a case
    (prospective: starting on one and ending on the last day); inf where
    there is none."""
    n_days = day_prefix.size - 1
    fewest = np.full(max_days, np.inf)
    for k in range(min(max_days, n_days)):
        length = k + 1
        lowest_first = n_days - length if prospective else 0
        for first in range(lowest_first, n_days - length + 1):
            last = first + length - 1
            starts_on_case = day_prefix[first + 1] > day_prefix[first]
            ends_on_case = prospective or day_prefix[last + 1] > day_prefix[last]
            if starts_on_case and ends_on_case:
                fewest[k] = min(fewest[k], float(day_prefix[last + 1] - day_prefix[first]))
    return fewest


@njit(cache=True, inline="always")
def _add_location_cases(
    location: int,
    centre: int,
    case_start: np.ndarray,
    row_case: np.ndarray,
    case_day: np.ndarray,
    day_weekday: np.ndarray,
    inside_since: np.ndarray,
    in_circle: np.ndarray,
    space_weekday: np.ndarray,
    added: np.ndarray,
    n_space: int,
) -> int:
    """Put the cases of a location's rows into the circle (each case once) and
    list them in ``added``; the circle's new number of cases."""
    for i in range(case_start[location], case_start[location + 1]):
        case = row_case[i]
        if inside_since[case] != centre:
            inside_since[case] = centre
            day = case_day[case]
            in_circle[day] += 1
            space_weekday[day_weekday[day]] += 1
            added[n_space] = case
            n_space += 1
    return n_space


@njit(cache=True, inline="always")
def _remove_cases_since(
    n_before: int,
    n_space: int,
    case_day: np.ndarray,
    day_weekday: np.ndarray,
    inside_since: np.ndarray,
    in_circle: np.ndarray,
    space_weekday: np.ndarray,
    added: np.ndarray,
) -> None:
    """Take the cases added after the circle's first ``n_before`` out again."""
    for k in range(n_before, n_space):
        case = added[k]
        inside_since[case] = -1
        day = case_day[case]
        in_circle[day] -= 1
        space_weekday[day_weekday[day]] -= 1


@njit(cache=True, inline="always")
def _extend_windows(in_circle: np.ndarray, length: int, window_count: np.ndarray) -> int:
    """``window_count[first]`` held the circle's cases on ``length`` - 1 days
    from ``first``; extend every window by its next day and return the most
    cases any window of ``length`` days holds."""
    most = 0
    for first in range(in_circle.size - length + 1):
        window_count[first] += in_circle[first + length - 1]
        most = max(most, window_count[first])
    return most


@njit(cache=True, inline="always")
def _extend_fewest_expected(
    length: int,
    day_expected: np.ndarray,
    end_extra: np.ndarray,
    window_expected: np.ndarray,
    day_total: np.ndarray,
) -> float:
    """Adjusted, retrospective: like ``_extend_windows`` for the circle's
    expected counts (``day_expected``), returning the fewest any evaluable
    window of ``length`` days expects. Evaluable windows start and end on a
    day with a case of the circle, so those two days add ``end_extra``."""
    fewest = np.inf
    for first in range(day_expected.size - length + 1):
        last = first + length - 1
        window_expected[first] += day_expected[last]
        if day_total[first] > 0.0 and day_total[last] > 0.0:
            ends = end_extra[first] + (end_extra[last] if last > first else 0.0)
            fewest = min(fewest, window_expected[first] + ends)
    return fewest


@njit(cache=True, inline="always")
def _block_may_beat(
    in_circle: np.ndarray,
    n_low: int,
    n_high: int,
    low_share: np.ndarray,
    fewest_total: np.ndarray,
    log_fewest_total: np.ndarray,
    day_total: np.ndarray,
    day_weekday: np.ndarray,
    weekday_total: np.ndarray,
    log_count: np.ndarray,
    max_days: int,
    prospective: bool,
    min_cases: int,
    adjusted: bool,
    floor: float,
    window_count: np.ndarray,
    day_expected: np.ndarray,
    end_extra: np.ndarray,
    window_expected: np.ndarray,
) -> bool:
    """False if no window of any step of a block of steps can beat ``floor``.

    ``in_circle`` is the circle after the block's last step (``n_high``
    cases); ``n_low`` and ``low_share`` are its cases and shares after the
    first. The circle only grows, so in between a window of a given length
    holds no more cases than the most any window of that length holds at the
    end (nor more than ``n_high``) and expects no fewer than the fewest one
    at the first step. The bound of ``_length_tiers_worth_trying`` on these
    covers every length and every step of the block in O(days × lengths).
    """
    n_days = in_circle.size
    n_total = float(log_count.size - 1)
    rate = n_low / n_total
    log_rate = log_count[n_low] - log_count[-1]
    spread = 1.0 / (n_total - n_high)
    if adjusted:
        for d in range(n_days):
            w = day_weekday[d]
            day_expected[d] = low_share[w] * day_total[d]
            # A day holding a case of the circle gives its weekday a share of
            # at least 1 / n_w, however few cases of it the first step had.
            least_share = 1.0 / weekday_total[w] if weekday_total[w] > 0.0 else 0.0
            end_extra[d] = max(0.0, least_share - low_share[w]) * day_total[d]
        window_expected[:n_days] = 0.0
    window_count[:n_days] = 0
    # Prospective: the only window of each length ends on the last day.
    tail_count, tail_expected = 0, 0.0
    for length in range(1, min(max_days, n_days) + 1):
        first = n_days - length
        if prospective:
            tail_count += in_circle[first]
            most = tail_count
        else:
            most = _extend_windows(in_circle, length, window_count)
        most = min(most, n_high)
        if adjusted and prospective:
            tail_expected += day_expected[first]
            fewest = tail_expected + end_extra[first] if day_total[first] > 0.0 else np.inf
        elif adjusted:
            fewest = _extend_fewest_expected(
                length, day_expected, end_extra, window_expected, day_total
            )
        else:
            fewest = rate * fewest_total[length - 1]
        if adjusted:
            log_fewest = math.log(fewest) if fewest > 0.0 else -np.inf
        else:
            log_fewest = log_rate + log_fewest_total[length - 1]
        if most < min_cases or most <= fewest:
            continue
        gap = most - fewest
        # A window expecting nothing has no bound (log_fewest = -inf): try it.
        bound = most * (log_count[most] - log_fewest) - gap + gap * gap * spread
        if bound > floor - BLOCK_BOUND_MARGIN:
            return True
    return False


@njit(cache=True)
def _evaluate_step(
    centre: int,
    step_first: int,
    entry: int,
    n_space: int,
    floor: float,
    case_day: np.ndarray,
    row_case: np.ndarray,
    case_start: np.ndarray,
    circle_location: np.ndarray,
    in_circle: np.ndarray,
    share: np.ndarray,
    evaluated_at: np.ndarray,
    day_total: np.ndarray,
    day_prefix: np.ndarray,
    log_window: np.ndarray,
    shortest: np.ndarray,
    log_shortest: np.ndarray,
    log_count: np.ndarray,
    xlogx: np.ndarray,
    day_weekday: np.ndarray,
    max_days: int,
    prospective: bool,
    min_cases: int,
    adjusted: bool,
    per_centre: bool,
    best_llr: np.ndarray,
    best_entry: np.ndarray,
    best_first_day: np.ndarray,
    best_last_day: np.ndarray,
    best_left: np.ndarray,
    best_right: np.ndarray,
    count: np.ndarray,
    expected_prefix: np.ndarray,
) -> float:
    """Best LLR above ``floor`` of the circle closed by ``entry`` (its newest
    step: entries ``step_first`` .. ``entry``), recording it for the centre
    when ``per_centre``. Only windows holding a case of this step can beat the
    smaller circle (a case already inside adds nothing, but evaluating its day
    is harmless)."""
    n_days = day_total.size
    for step_entry in range(step_first, entry + 1):
        step_location = circle_location[step_entry]
        for i in range(case_start[step_location], case_start[step_location + 1]):
            day = case_day[row_case[i]]
            if evaluated_at[day] == entry:
                continue
            evaluated_at[day] = entry
            if prospective:
                if day < n_days - max_days:
                    continue
                llr, first, last = _best_prospective_window(
                    day,
                    in_circle,
                    n_space,
                    day_prefix,
                    log_window,
                    log_count,
                    xlogx,
                    max_days,
                    min_cases,
                    floor,
                    adjusted,
                    share,
                    day_weekday,
                    day_total,
                )
            else:
                llr, first, last = _best_retrospective_window(
                    day,
                    in_circle,
                    n_space,
                    day_total,
                    day_prefix,
                    log_window,
                    shortest,
                    log_shortest,
                    log_count,
                    xlogx,
                    max_days,
                    min_cases,
                    floor,
                    best_left,
                    best_right,
                    count,
                    adjusted,
                    share,
                    day_weekday,
                    expected_prefix,
                )
            if first >= 0:
                floor = llr
                if per_centre:
                    best_llr[centre] = llr
                    best_entry[centre] = entry
                    best_first_day[centre] = first
                    best_last_day[centre] = last
    return floor


def scan_setup(
    row_case: np.ndarray,
    case_start: np.ndarray,
    circles: Circles,
    tables: ScanTables,
    max_days: int,
    prospective: bool,
    min_cases: int,
    adjusted: bool,
) -> tuple:
    """What ``scan_assignment`` needs besides the days of the cases, in the
    nested tuple the compiled loops take: the layout (row_case, case_start,
    circle_start, circle_location, closes_step), ``tables.as_tuple()`` and
    the options (max_days, prospective, min_cases, adjusted).

    A parallel loop takes it in its three parts (unpacked outside it): Numba's
    parallel loops cannot take a tuple of tuples of arrays."""
    layout = (row_case, case_start, circles.start, circles.location, circles.closes_step)
    return layout, tables.as_tuple(), (max_days, prospective, min_cases, adjusted)


def with_rows(setup: tuple, row_case: np.ndarray, case_start: np.ndarray) -> tuple:
    """``setup`` (``scan_setup``'s) with other rows: each row's case, each
    location's first row."""
    layout, tables, options = setup
    return (row_case, case_start, *layout[2:]), tables, options


@njit(cache=True)
def scan_assignment(
    case_day: np.ndarray,
    setup: tuple,
    per_centre: bool,
    best_llr: np.ndarray,
    best_entry: np.ndarray,
    best_first_day: np.ndarray,
    best_last_day: np.ndarray,
) -> float:
    """Maximum LLR over all cylinders for one assignment of days to cases.

    ``setup`` is ``scan_setup``'s tuple. Locations hold rows; row ``i`` (in
    ``case_start`` order) is a place of case
    ``row_case[i]``, whose day is ``case_day[row_case[i]]``. A cylinder counts
    the cases with a row in its circle and their day in its window, each case
    once however many of its places the circle holds (the identity when every
    row is its own case). A circle's cases are marked in ``inside_since`` and
    listed in ``added``.

    Each centre's steps are taken in blocks (``BLOCK_GROWTH``): a block's
    cases are put in, and only if ``_block_may_beat`` cannot rule the block
    out are they taken out again and its steps evaluated one by one.

    ``adjusted``: expected counts adjusted for space by day-of-week
    interaction (module docstring); the assignment must then keep every
    case's weekday, as permutations within weekdays do.

    With ``per_centre`` it also records each centre's best cylinder (its LLR,
    the entry closing its circle, its first and last day) in the ``best_*``
    arrays; otherwise those are not touched and pruning uses the running
    global maximum, which is all a replication needs.
    """
    # Unpacked once: taking arrays out of the tuple in the hot loop would bump
    # their shared reference counts, which serialises the threads.
    layout, tables, options = setup
    row_case, case_start, circle_start, circle_location, closes_step = layout
    max_days, prospective, min_cases, adjusted = options
    (
        day_total,
        day_prefix,
        log_window,
        shortest,
        log_shortest,
        log_count,
        xlogx,
        day_weekday,
        weekday_total,
    ) = tables
    n_days = day_total.size
    n_total = case_day.size
    inside_since = np.full(n_total, -1, dtype=np.int64)  # centre whose circle holds the case
    added = np.empty(n_total, dtype=np.int64)  # the circle's cases, in the order put in
    in_circle = np.zeros(n_days, dtype=np.int64)
    space_weekday = np.zeros(7, dtype=np.int64)  # the circle's cases by weekday
    share = np.empty(7)
    low_share = np.empty(7)
    evaluated_at = np.full(n_days, -1, dtype=np.int64)
    best_left = np.empty(max_days)
    best_right = np.empty(max_days)
    count = np.empty(2 * max_days, dtype=np.int64)
    expected_prefix = np.empty(2 * max_days)
    window_count = np.empty(n_days, dtype=np.int64)
    day_expected = np.empty(n_days)
    end_extra = np.empty(n_days)
    window_expected = np.empty(n_days)
    fewest_total = fewest_window_totals(day_prefix, max_days, prospective)
    log_fewest_total = np.log(fewest_total)
    overall = 0.0
    for centre in range(circle_start.size - 1):
        floor = 0.0 if per_centre else overall
        n_space = 0
        block_first = circle_start[centre]
        end = circle_start[centre + 1]
        while block_first < end:
            # Put in a block of steps, noting the circle after its first step.
            n_before = n_space
            n_low = -1
            entry = block_first
            while entry < end:
                n_space = _add_location_cases(
                    circle_location[entry],
                    centre,
                    case_start,
                    row_case,
                    case_day,
                    day_weekday,
                    inside_since,
                    in_circle,
                    space_weekday,
                    added,
                    n_space,
                )
                if closes_step[entry] and n_low < 0:
                    n_low = n_space
                    if adjusted:
                        _set_share(low_share, True, space_weekday, weekday_total, n_space, n_total)
                if closes_step[entry] and n_space >= BLOCK_GROWTH * n_low:
                    break
                entry += 1
            block_last = min(entry, end - 1)
            may_beat = (
                n_low < 1
                or n_space >= n_total
                or _block_may_beat(
                    in_circle,
                    n_low,
                    n_space,
                    low_share,
                    fewest_total,
                    log_fewest_total,
                    day_total,
                    day_weekday,
                    weekday_total,
                    log_count,
                    max_days,
                    prospective,
                    min_cases,
                    adjusted,
                    floor,
                    window_count,
                    day_expected,
                    end_extra,
                    window_expected,
                )
            )
            if may_beat:
                # Evaluate the block step by step, from the circle before it.
                _remove_cases_since(
                    n_before,
                    n_space,
                    case_day,
                    day_weekday,
                    inside_since,
                    in_circle,
                    space_weekday,
                    added,
                )
                n_space = n_before
                step_first = block_first
                for entry in range(block_first, block_last + 1):
                    n_space = _add_location_cases(
                        circle_location[entry],
                        centre,
                        case_start,
                        row_case,
                        case_day,
                        day_weekday,
                        inside_since,
                        in_circle,
                        space_weekday,
                        added,
                        n_space,
                    )
                    if not closes_step[entry]:
                        continue
                    if n_space < n_total:  # else c == expected in any window
                        _set_share(share, adjusted, space_weekday, weekday_total, n_space, n_total)
                        floor = _evaluate_step(
                            centre,
                            step_first,
                            entry,
                            n_space,
                            floor,
                            case_day,
                            row_case,
                            case_start,
                            circle_location,
                            in_circle,
                            share,
                            evaluated_at,
                            day_total,
                            day_prefix,
                            log_window,
                            shortest,
                            log_shortest,
                            log_count,
                            xlogx,
                            day_weekday,
                            max_days,
                            prospective,
                            min_cases,
                            adjusted,
                            per_centre,
                            best_llr,
                            best_entry,
                            best_first_day,
                            best_last_day,
                            best_left,
                            best_right,
                            count,
                            expected_prefix,
                        )
                    step_first = entry + 1
            block_first = block_last + 1
        _remove_cases_since(
            0, n_space, case_day, day_weekday, inside_since, in_circle, space_weekday, added
        )
        overall = max(overall, floor)
    return overall


@njit(cache=True)
def scan_maximum(case_day: np.ndarray, setup: tuple) -> float:
    """``scan_assignment``'s maximum alone, as a replication needs it."""
    unused_f = np.empty(0)
    unused_i = np.empty(0, dtype=np.int64)
    return scan_assignment(case_day, setup, False, unused_f, unused_i, unused_i, unused_i)


@njit(parallel=True, cache=True)
def max_llr_of_replications(permuted_days: np.ndarray, setup: tuple) -> np.ndarray:
    """The maximum LLR of each row of ``permuted_days`` (one replication each:
    a day for every case); ``setup`` is ``scan_setup``'s."""
    n_replications = permuted_days.shape[0]
    maxima = np.empty(n_replications)
    layout, tables, options = setup
    for r in prange(n_replications):
        maxima[r] = scan_maximum(permuted_days[r], (layout, tables, options))
    return maxima
