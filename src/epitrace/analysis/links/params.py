"""The knobs of the link proposal, in real units, each with where it comes from.

``docs/links.md`` explains them at more length; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

# Incubation period of SARS-CoV-2 (infection to onset): log-normal, median
# 5.1 days, 97.5th percentile 11.5 days (Lauer et al., Ann Intern Med 2020;
# 172:577-582, log-mean 1.621, log-sd 0.418).
INCUBATION_LOG_MEAN = 1.621
INCUBATION_LOG_SD = 0.418

# Infectiousness over time from onset (He et al., Nat Med 2020;26:672-675): a
# gamma distribution of (days since onset + shift), shape 20.52, rate 1.59, shift
# 12.27 days: highest at onset, falling to a tenth of it by about 4 days after.
INFECTIOUSNESS_SHAPE = 20.516508
INFECTIOUSNESS_RATE = 1.592124
INFECTIOUSNESS_SHIFT_DAYS = 12.272481

# Places where the air is shared indoors: a visitor who comes soon after a
# case left still breathes what the case breathed out (aerosols linger for
# tens of minutes in a closed room).
ENCLOSED_KINDS = frozenset(
    {
        "restaurant",
        "cafe",
        "bar",
        "club",
        "karaoke",
        "church",
        "gym",
        "school",
        "academy",
        "hospital",
        "pharmacy",
        "shop",
        "grocery",
        "office",
        "transport",
    }
)

HOME = "home"  # the place name and kind of a link through a shared home


@dataclass(frozen=True)
class LinkParams:
    """How co-presence becomes a proposed transmission link; days, minutes, metres."""

    # --- the windows ---
    # A source is infectious from this long before onset (before confirmation without
    # onset) to the end of its confirmation day (isolation): analysis.contacts'
    # infectious_window, the window of the Korean guidelines.
    infectious_days_before: float = 2.0
    # A target's onset falls this many days after the meeting, both ends included
    # (the usual 1-14 day incubation range of the case definitions).
    min_incubation_days: float = 1.0
    max_incubation_days: float = 14.0
    # Without onset the infection is dated from the confirmation, this much earlier:
    # the usual onset-to-confirmation lag in Korea in 2020 (3-4 days). Cases found by
    # tracing are often tested sooner: on DS4C a shorter lag recovers more known
    # pairs, on simulated cities fewer (docs/links.md, "Limits").
    no_onset_lag_days: float = 3.0
    # ... and the incubation spread is widened by this log-sd (unknown onset).
    no_onset_extra_log_sd: float = 0.3

    # --- co-presence ---
    # Two stays can be at one place only when their estimates lie within the sum of
    # their uncertainty radii (at least min_match_m, at most max_match_m).
    min_match_m: float = 50.0
    # The size of one room: two unnamed stays are in one room with a chance that falls
    # with the square of their combined uncertainty (the area they may be in).
    room_m: float = 100.0
    # Two stays less surely at one place than this are no meeting (big cells).
    min_closeness: float = 0.02
    max_match_m: float = 500.0
    # Two named places (merchants, venues) of one name within this are one place.
    same_name_m: float = 150.0
    # Together for less than this is no meeting (cards are instants; cells every ~12 min).
    min_overlap_min: float = 5.0
    # At an enclosed place, a target who arrived within this after the source left
    # still shares the room's air ...
    enclosed_gap_min: float = 30.0
    # ... counted as this many minutes together.
    gap_exposure_min: float = 10.0
    # Two day stays near each other that began and ended together are more likely in
    # one room than their areas alone say: the odds are multiplied by up to this
    # likelihood ratio, (chance two people in one room arrive and leave within
    # ~15 min of each other, ~1/2) over (chance two unrelated stays overlapping in
    # one area do, ~(30 min / 4 h)^2 ~ 1/60) ...
    together_likelihood_ratio: float = 30.0
    # ... falling off as a Gaussian of the differences in arrival and departure (min):
    # the time resolution of cell records (~12 min) and of card and QR times.
    together_min: float = 15.0

    # --- the score ---
    # Hazard of one hour together at one place, per hour: a non-household close
    # contact's secondary attack rate in Korea, ~2 % for ~1.5 h of contact
    # (Park et al., Emerg Infect Dis 2020;26:2465).
    hazard_per_hour: float = 0.013
    # An hour together at a shared home weighs this much of an hour at a venue:
    # household attack rate ~12 % over ~5 infectious days of ~14 h at home
    # (Park et al. 2020) against the hazard above.
    home_hour_weight: float = 0.14
    # Infection from someone not among the cases (undetected, unlinked), in the same
    # units: as likely as this many hours together at one place at the most likely
    # incubation. Calibrated on simulated cities (docs/links.md, "Calibration"): the
    # value whose background share best predicts (log-likelihood) whether a case's
    # true source is outside its candidates.
    background_hours: float = 0.25
    # A case infected less than this long before a meeting cannot pass the infection
    # on there: the shortest latent period (infection to infectiousness), as the
    # shortest incubation of the case definitions. With the case's own links this
    # prunes siblings infected at one event from being each other's source.
    min_latent_days: float = 1.0
    # Proposed links below this score are not listed.
    min_score: float = 0.02
    # Links at or above this score join cases into chains. Calibrated on simulated
    # cities: the highest threshold within 0.01 of the best F1 of chain membership
    # (docs/links.md, "Calibration").
    chain_min_score: float = 0.1

    def replace(self, **changes: float) -> LinkParams:
        return replace(self, **changes)

    def incubation_log_sd(self, with_onset: np.ndarray) -> np.ndarray:
        """The incubation log-sd of each case: wider without onset."""
        return np.where(
            with_onset, INCUBATION_LOG_SD, np.hypot(INCUBATION_LOG_SD, self.no_onset_extra_log_sd)
        )

    def incubation_survival(self, days: np.ndarray, with_onset: np.ndarray) -> np.ndarray:
        """P(incubation > ``days``): the chance a case with its onset ``days`` after a
        time was infected before it (by its onset alone)."""
        days = np.maximum(np.asarray(days, dtype=float), 1e-6)
        sd = self.incubation_log_sd(with_onset)
        return stats.lognorm.sf(days, s=sd, scale=np.exp(INCUBATION_LOG_MEAN))

    def infectiousness_weight(self, days_since_onset: np.ndarray) -> np.ndarray:
        """The source's infectiousness ``days_since_onset`` (negative: before onset),
        relative to its peak (He et al. 2020); 1 at the peak."""
        shifted = np.asarray(days_since_onset, dtype=float) + INFECTIOUSNESS_SHIFT_DAYS
        peak = (INFECTIOUSNESS_SHAPE - 1) / INFECTIOUSNESS_RATE
        scale = 1 / INFECTIOUSNESS_RATE
        density = stats.gamma.pdf(shifted, INFECTIOUSNESS_SHAPE, scale=scale)
        return density / stats.gamma.pdf(peak, INFECTIOUSNESS_SHAPE, scale=scale)

    def incubation_weight(self, days: np.ndarray, with_onset: np.ndarray) -> np.ndarray:
        """The incubation likelihood of ``days`` between meeting and onset, relative
        to its most likely value (1 at the mode); 0 outside the incubation range.
        Without onset (``with_onset`` False) the log-normal is widened."""
        days = np.asarray(days, dtype=float)
        sd = self.incubation_log_sd(with_onset)
        mode = np.exp(INCUBATION_LOG_MEAN - sd**2)
        safe = np.maximum(days, 1e-6)
        density = stats.lognorm.pdf(safe, s=sd, scale=np.exp(INCUBATION_LOG_MEAN))
        peak = stats.lognorm.pdf(mode, s=sd, scale=np.exp(INCUBATION_LOG_MEAN))
        inside = (days >= self.min_incubation_days - 0.5) & (days <= self.max_incubation_days + 0.5)
        return np.where(inside, density / peak, 0.0)
