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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange


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


def xlogx_table(n_total: int) -> np.ndarray:
    """g[c] = c·ln c + (N−c)·ln(N−c), so an LLR costs one log instead of four."""
    c = np.arange(n_total + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        xlogx = np.where(c > 0, c * np.log(c), 0.0)
    return xlogx + xlogx[::-1]


def log_window_totals(day_prefix: np.ndarray, max_days: int) -> np.ndarray:
    """ln(cases on days s..s+k) indexed [s, k]; -inf where a window has no case or
    runs past the period (such windows are never evaluated)."""
    n_days = day_prefix.size - 1
    starts = np.arange(n_days)[:, None]
    ends = np.minimum(starts + np.arange(max_days)[None, :] + 1, n_days)
    totals = (day_prefix[ends] - day_prefix[starts]).astype(float)
    with np.errstate(divide="ignore"):
        return np.log(totals)


def shortest_window_totals(day_prefix: np.ndarray, max_days: int) -> np.ndarray:
    """Fewest cases (all locations) in any window of length k + 1 that contains
    day t, indexed [t, k]; inf where no such window fits in the period.

    Times a circle's share of all cases it bounds the expected count of those
    windows from below, which lets whole window lengths be skipped."""
    n_days = day_prefix.size - 1
    totals = np.full((n_days, max_days), np.inf)
    for k in range(min(max_days, n_days)):
        length = k + 1
        sums = (day_prefix[length:] - day_prefix[:-length]).astype(float)  # by first day
        for t in range(n_days):
            lo, hi = max(0, t - k), min(t, n_days - length)
            if lo <= hi:
                totals[t, k] = sums[lo : hi + 1].min()
    return totals


@dataclass(frozen=True)
class ScanTables:
    """What the compiled scan needs besides the days of the cases; none of it
    changes under permutation (every day keeps its total)."""

    day_total: np.ndarray  # float64[T], cases per day, all locations
    day_prefix: np.ndarray  # int64[T + 1]
    log_window: np.ndarray  # float64[T, W], ln(cases in the window) by first day, length - 1
    shortest: np.ndarray  # float64[T, W], shortest_window_totals
    log_shortest: np.ndarray  # float64[T, W], its log
    log_count: np.ndarray  # float64[N + 1], ln n
    xlogx: np.ndarray  # float64[N + 1], n ln n + (N - n) ln(N - n)

    @classmethod
    def of(cls, day_totals: np.ndarray, max_days: int) -> ScanTables:
        day_prefix = np.concatenate([[0], np.cumsum(day_totals)]).astype(np.int64)
        n_total = int(day_prefix[-1])
        shortest = shortest_window_totals(day_prefix, max_days)
        with np.errstate(divide="ignore"):
            log_shortest = np.log(shortest)  # -inf for empty windows, never evaluated
            log_count = np.log(np.arange(n_total + 1, dtype=float))
        return cls(
            day_total=np.asarray(day_totals, dtype=float),
            day_prefix=day_prefix,
            log_window=log_window_totals(day_prefix, max_days),
            shortest=shortest,
            log_shortest=log_shortest,
            log_count=log_count,
            xlogx=xlogx_table(n_total),
        )

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return (
            self.day_total,
            self.day_prefix,
            self.log_window,
            self.shortest,
            self.log_shortest,
            self.log_count,
            self.xlogx,
        )


@njit(cache=True, inline="always")
def _llr_above(c: int, expected: float, log_expected: float, xlogx: np.ndarray,
               log_total: float, n_total: float, floor: float) -> float:
    """The LLR of a high-rate cylinder if it beats ``floor``, else ``floor``."""
    rest = n_total - c
    common = xlogx[c] - c * log_expected
    # ln(N - mu) >= ln N - mu / (N - mu): an upper bound that needs no log.
    if common - rest * log_total + rest * expected / (n_total - expected) <= floor:
        return floor
    return max(floor, common - rest * math.log(n_total - expected))


@njit(cache=True, inline="always")
def _best_prospective_window(
    day: int, in_circle: np.ndarray, n_space: int, day_prefix: np.ndarray,
    log_window: np.ndarray, log_count: np.ndarray, xlogx: np.ndarray, max_days: int,
    min_cases: int, floor: float,
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
    for first in range(day, max(0, n_days - max_days) - 1, -1):
        if first < day:
            c += in_circle[first]
        if in_circle[first] == 0:
            continue
        expected = rate * (day_prefix[n_days] - day_prefix[first])
        if c < min_cases or c <= expected:
            continue
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
def _length_tiers_worth_trying(
    day: int, in_circle: np.ndarray, n_space: int, shortest: np.ndarray,
    log_shortest: np.ndarray, log_count: np.ndarray, n_total: float, longest: int,
    min_cases: int, floor: float,
) -> int:
    """Bit k set if some window of tier k around ``day`` could beat ``floor``.

    A window of length at most b holding ``day`` has no more cases than the
    circle has within b - 1 days of it, and expects no fewer than the
    shortest window of the tier's smallest length a; with
    LLR <= c ln(c/mu) - (c - mu) + (c - mu)^2 / (N - n_space) that bounds the
    whole tier in O(1) after extending the span.
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
        fewest = rate * shortest[day, smallest - 1]
        gap = c_most - fewest
        log_ratio = log_count[c_most] - log_rate - log_shortest[day, smallest - 1]
        bound = c_most * log_ratio - gap + gap * gap * spread
        # Non-short-circuit `&`: fewer unpredictable branches in the hot path.
        if (c_most >= min_cases) & (gap > 0.0) & (bound > floor):
            worth |= 1 << tier
        smallest = largest + 1
        tier += 1
    return worth


@njit(cache=True, inline="always")
def _best_retrospective_window(
    day: int, in_circle: np.ndarray, n_space: int, day_total: np.ndarray,
    day_prefix: np.ndarray, log_window: np.ndarray, shortest: np.ndarray,
    log_shortest: np.ndarray, log_count: np.ndarray, xlogx: np.ndarray, max_days: int,
    min_cases: int, floor: float, best_left: np.ndarray, best_right: np.ndarray,
    count: np.ndarray,
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
    tiers = _length_tiers_worth_trying(
        day, in_circle, n_space, shortest, log_shortest, log_count, n_total,
        min(max_days, n_days), min_cases, floor,
    )
    if tiers == 0:
        return floor, best_first, best_last
    _fill_counts_and_excess(
        day, lo, hi, in_circle, day_total, rate, count, best_left, best_right
    )
    for length in range(1, min(max_days, n_days) + 1):
        if not (tiers >> _tier_of(length)) & 1:
            continue
        excess = best_left[min(length - 1, day - lo)] + best_right[min(length - 1, hi - day)]
        if excess <= 0.0:
            continue
        fewest = rate * shortest[day, length - 1]
        if excess * excess * (0.5 / fewest + spread) <= floor:
            continue
        for first in range(max(day - length + 1, 0), min(day, n_days - length) + 1):
            last = first + length - 1
            if in_circle[first] == 0 or in_circle[last] == 0:
                continue
            c = count[last - lo + 1] - count[first - lo]
            expected = rate * (day_prefix[last + 1] - day_prefix[first])
            if c < min_cases or c <= expected:
                continue
            log_expected = log_count[n_space] + log_window[first, length - 1] - log_total
            llr = _llr_above(c, expected, log_expected, xlogx, log_total, n_total, floor)
            if llr > floor:
                floor, best_first, best_last = llr, first, last
    return floor, best_first, best_last


@njit(cache=True, inline="always")
def _fill_counts_and_excess(
    day: int, lo: int, hi: int, in_circle: np.ndarray, day_total: np.ndarray, rate: float,
    count: np.ndarray, best_left: np.ndarray, best_right: np.ndarray,
) -> None:
    """count[i]: cases of the circle on days lo .. lo + i - 1. best_right[k] and
    best_left[j]: largest excess (observed - expected) of a window reaching k
    days right of ``day`` (day included) or j days left of it."""
    count[0] = 0
    best_left[0] = 0.0
    running = 0.0
    for j in range(1, day - lo + 1):
        running += in_circle[day - j] - rate * day_total[day - j]
        best_left[j] = max(best_left[j - 1], running)
    for d in range(lo, day):
        count[d - lo + 1] = count[d - lo] + in_circle[d]
    running = 0.0
    best = -np.inf
    for d in range(day, hi + 1):
        count[d - lo + 1] = count[d - lo] + in_circle[d]
        running += in_circle[d] - rate * day_total[d]
        best = max(best, running)
        best_right[d - day] = best


@njit(cache=True)
def scan_assignment(
    case_day: np.ndarray,
    case_start: np.ndarray,
    circle_start: np.ndarray,
    circle_location: np.ndarray,
    closes_step: np.ndarray,
    cases_inside: np.ndarray,
    tables: tuple,
    max_days: int,
    prospective: bool,
    min_cases: int,
    per_centre: bool,
    best_llr: np.ndarray,
    best_entry: np.ndarray,
    best_first_day: np.ndarray,
    best_last_day: np.ndarray,
) -> float:
    """Maximum LLR over all cylinders for one assignment of days to cases.

    With ``per_centre`` it also records each centre's best cylinder (its LLR,
    the entry closing its circle, its first and last day) in the ``best_*``
    arrays; otherwise those are not touched and pruning uses the running
    global maximum, which is all a replication needs.
    """
    # Unpacked once: taking arrays out of the tuple in the hot loop would bump
    # their shared reference counts, which serialises the threads.
    day_total, day_prefix, log_window, shortest, log_shortest, log_count, xlogx = tables
    n_days = day_total.size
    n_total = case_day.size
    in_circle = np.zeros(n_days, dtype=np.int64)
    evaluated_at = np.full(n_days, -1, dtype=np.int64)
    best_left = np.empty(max_days)
    best_right = np.empty(max_days)
    count = np.empty(2 * max_days, dtype=np.int64)
    overall = 0.0
    for centre in range(circle_start.size - 1):
        floor = 0.0 if per_centre else overall
        step_first = circle_start[centre]
        for entry in range(circle_start[centre], circle_start[centre + 1]):
            location = circle_location[entry]
            for i in range(case_start[location], case_start[location + 1]):
                in_circle[case_day[i]] += 1
            if not closes_step[entry]:
                continue
            n_space = cases_inside[entry]
            if n_space >= n_total:
                continue  # a circle of every case has c == expected in any window
            # Only windows holding a case of this step can beat the smaller circle.
            for step_entry in range(step_first, entry + 1):
                step_location = circle_location[step_entry]
                for i in range(case_start[step_location], case_start[step_location + 1]):
                    day = case_day[i]
                    if evaluated_at[day] == entry:
                        continue
                    evaluated_at[day] = entry
                    if prospective:
                        if day < n_days - max_days:
                            continue
                        llr, first, last = _best_prospective_window(
                            day, in_circle, n_space, day_prefix, log_window, log_count,
                            xlogx, max_days, min_cases, floor,
                        )
                    else:
                        llr, first, last = _best_retrospective_window(
                            day, in_circle, n_space, day_total, day_prefix, log_window,
                            shortest, log_shortest, log_count, xlogx, max_days, min_cases, floor,
                            best_left, best_right, count,
                        )
                    if first >= 0:
                        floor = llr
                        if per_centre:
                            best_llr[centre] = llr
                            best_entry[centre] = entry
                            best_first_day[centre] = first
                            best_last_day[centre] = last
            step_first = entry + 1
        for entry in range(circle_start[centre], circle_start[centre + 1]):
            location = circle_location[entry]
            for i in range(case_start[location], case_start[location + 1]):
                in_circle[case_day[i]] -= 1
        overall = max(overall, floor)
    return overall


@njit(parallel=True, cache=True)
def max_llr_of_replications(
    permuted_days: np.ndarray,
    case_start: np.ndarray,
    circle_start: np.ndarray,
    circle_location: np.ndarray,
    closes_step: np.ndarray,
    cases_inside: np.ndarray,
    tables: tuple,
    max_days: int,
    prospective: bool,
    min_cases: int,
) -> np.ndarray:
    """The maximum LLR of each row of ``permuted_days`` (one replication each)."""
    n_replications = permuted_days.shape[0]
    maxima = np.empty(n_replications)
    unused_f = np.empty(0)
    unused_i = np.empty(0, dtype=np.int64)
    for r in prange(n_replications):
        maxima[r] = scan_assignment(
            permuted_days[r], case_start, circle_start, circle_location, closes_step,
            cases_inside, tables, max_days, prospective, min_cases,
            False, unused_f, unused_i, unused_i, unused_i,
        )
    return maxima
