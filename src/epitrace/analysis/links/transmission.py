"""Transmission statistics read from links: serial interval and offspring distribution.

- ``serial_interval``: days from the source's onset to the target's onset,
  over links whose two cases both have an onset: mean, median, standard
  deviation, a 95 % confidence interval of the mean (Student's t) and the
  count of each interval;
- ``offspring``: how many cases each case caused (0 for cases with none),
  fitted with a negative binomial (mean R, dispersion k; Lloyd-Smith et al.,
  Nature 2005;438:355): maximum likelihood with SciPy, 95 % confidence
  intervals from the profile likelihood (the likelihood-ratio bound,
  chi-squared with one degree of freedom).

Both count confirmed links (the hub's) or proposed ones above a threshold;
neither reads personal data. The offspring of the latest cases are cut
short by the end of the data (their infectees are not cases yet), so R is
biased low near the end of a period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

# The 95 % likelihood-ratio bound: half the chi-squared(1) 95th percentile.
PROFILE_DROP = float(stats.chi2.ppf(0.95, 1) / 2)
# Dispersion beyond this is a Poisson in all but name: the upper bound is open.
MAX_K = 1e3
MIN_K = 1e-3


@dataclass(frozen=True)
class SerialInterval:
    pairs: int
    mean: float
    median: float
    sd: float
    mean_ci: tuple[float, float]  # 95 % (Student's t)
    counts: dict[int, int]  # days -> pairs


def serial_interval(
    pairs: Sequence[tuple[str, str]], onsets: Mapping[str, dt.date | None]
) -> SerialInterval | None:
    """The onset-to-onset interval over ``pairs`` (source, target) whose cases both
    have an onset in ``onsets``; None with fewer than two such pairs."""
    days = [
        (onsets[t] - onsets[s]).days  # type: ignore[operator]
        for s, t in pairs
        if onsets.get(s) is not None and onsets.get(t) is not None
    ]
    if len(days) < 2:
        return None
    values = np.asarray(days, dtype=float)
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    low, high = stats.t.interval(0.95, values.size - 1, loc=mean, scale=stats.sem(values))
    return SerialInterval(
        int(values.size),
        mean,
        float(np.median(values)),
        sd,
        (float(low), float(high)),
        dict(sorted(Counter(days).items())),
    )


@dataclass(frozen=True)
class Offspring:
    cases: int
    mean_r: float
    r_ci: tuple[float, float]
    k: float  # dispersion (MAX_K: no overdispersion found)
    k_ci: tuple[float, float]
    counts: dict[int, int]  # offspring -> cases


def offspring_counts(pairs: Sequence[tuple[str, str]], cases: Sequence[str]) -> np.ndarray:
    """How many targets each of ``cases`` is the source of in ``pairs``."""
    per_source = Counter(s for s, _ in pairs)
    return np.array([per_source.get(c, 0) for c in cases], dtype=np.int64)


def _log_likelihood(counts: np.ndarray, r: float, k: float) -> float:
    return float(stats.nbinom.logpmf(counts, k, k / (k + r)).sum())


def _best_k(counts: np.ndarray, r: float) -> float:
    """The dispersion that maximises the likelihood for mean ``r``."""
    found = optimize.minimize_scalar(
        lambda log_k: -_log_likelihood(counts, r, math.exp(log_k)),
        bounds=(math.log(MIN_K), math.log(MAX_K)),
        method="bounded",
    )
    return math.exp(found.x)


def _bound(profile, best: float, peak: float, edge: float) -> float:  # type: ignore[no-untyped-def]
    """Where the profile log-likelihood falls PROFILE_DROP below ``peak`` between
    ``best`` and ``edge`` (``edge`` itself when it never does)."""

    def below(x: float) -> float:
        return profile(x) - (peak - PROFILE_DROP)

    if below(edge) > 0:
        return edge
    return float(optimize.brentq(below, min(best, edge), max(best, edge)))


def offspring(counts: np.ndarray) -> Offspring | None:
    """Negative binomial fit of offspring ``counts`` (one per case); None without
    cases. When no case has offspring, R is 0 and k undefined (nan)."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return None
    tally = dict(sorted(Counter(counts.tolist()).items()))
    r = float(counts.mean())  # the maximum-likelihood mean of a negative binomial
    if r == 0:
        nan = float("nan")
        return Offspring(int(counts.size), 0.0, (0.0, nan), nan, (nan, nan), tally)
    k = _best_k(counts, r)
    peak = _log_likelihood(counts, r, k)

    def profile_r(value: float) -> float:
        return _log_likelihood(counts, value, _best_k(counts, value))

    def profile_k(log_k: float) -> float:
        return _log_likelihood(counts, r, math.exp(log_k))

    r_ci = (
        _bound(profile_r, r, peak, r / 100),
        _bound(profile_r, r, peak, r * 100 + 10),
    )
    log_k = math.log(k)
    k_ci = (
        math.exp(_bound(profile_k, log_k, peak, math.log(MIN_K))),
        math.exp(_bound(profile_k, log_k, peak, math.log(MAX_K))),
    )
    return Offspring(int(counts.size), r, r_ci, k, k_ci, tally)
