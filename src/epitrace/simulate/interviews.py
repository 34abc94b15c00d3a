"""Epidemiological interviews: the places cases name, with human recall errors.

From each case's truth visits in the interview window (from a couple of days
before symptom onset, or before testing for those without symptoms, to
confirmation) a case forgets some places (short stops more often), gives
rounded and shifted times, names a place they did not go to, and sometimes
knows only the address.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.simulate.city import KIND, City
from epitrace.simulate.clock import DAY, HOUR, MINUTE
from epitrace.simulate.columns import floats, labels, labels_or_null, timestamps
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.outbreak import Outbreak
from epitrace.simulate.routines import Visits
from epitrace.simulate.streams import rng_for

NOT_NAMED = ("home", "transit")  # people do not list their own home or the bus stop


def interview_windows(
    config: SimulationConfig, outbreak: Outbreak, cases: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(from, to) epoch seconds of each case's interview window."""
    start = outbreak.clock.start
    confirmed_at = start + outbreak.confirmed_day[cases] * DAY
    onset = outbreak.onset[cases]
    onset_midnight = start + np.floor((np.nan_to_num(onset) - start) / DAY) * DAY
    tested = confirmed_at - DAY
    begin = (
        np.where(np.isnan(onset), tested, onset_midnight) - config.interview_days_before_onset * DAY
    )
    return np.maximum(begin, start), confirmed_at


def _round(t: np.ndarray, minutes: int) -> np.ndarray:
    step = minutes * MINUTE
    return np.round(t / step) * step


def interviews_table(
    config: SimulationConfig,
    city: City,
    outbreak: Outbreak,
    history: Visits,
    person_refs: pa.Array,
) -> pa.Table:
    rng = rng_for(config.seed, "interviews")
    cases = outbreak.case_persons()
    begin, end = interview_windows(config, outbreak, cases)
    slot = np.full(outbreak.pop.size, -1)
    slot[cases] = np.arange(cases.size)
    s = slot[history.person]
    named = ~np.isin(city.kind[history.place], [KIND[k] for k in NOT_NAMED])
    inside = (s >= 0) & named
    inside[inside] &= (history.end[inside] > begin[s[inside]]) & (
        history.start[inside] < end[s[inside]]
    )
    visits = history.take(np.flatnonzero(inside))
    # Forgetting: short stops are forgotten more often.
    duration = visits.end - visits.start
    p_forget = config.forget_probability + 0.3 * np.exp(-duration / (30 * MINUTE))
    visits = visits.take(np.flatnonzero(rng.random(len(visits)) >= p_forget))
    # Places named but not visited: one per case-day with some probability.
    window_days = np.maximum(1, np.ceil((end - begin) / DAY)).astype(np.int64)
    invented = rng.random(int(window_days.sum())) < config.false_place_probability
    case_of_day = np.repeat(np.arange(cases.size), window_days)[invented]
    day_of_case = (
        np.arange(int(window_days.sum()))
        - np.repeat(np.cumsum(window_days) - window_days, window_days)
    )[invented]
    fake_person = cases[case_of_day]
    fake_kind = rng.choice(["restaurant", "cafe", "shop"], size=fake_person.size)
    fake_place = np.array(
        [
            outbreak.pop.near_home[k][p, rng.integers(0, 3)]
            for k, p in zip(fake_kind, fake_person, strict=True)
        ],
        dtype=np.int64,
    )
    fake_start = (
        begin[case_of_day] + day_of_case * DAY + rng.uniform(11, 20, fake_person.size) * HOUR
    )
    fake = Visits(
        fake_person,
        fake_place,
        fake_start,
        fake_start + rng.uniform(30, 90, fake_person.size) * MINUTE,
    )
    told = Visits.concat([visits, fake])
    # Recall of times: shifted, then rounded the way people say "around two".
    sigma = config.time_recall_sigma_min * MINUTE
    start = _round(told.start + rng.normal(0, sigma, len(told)), config.time_rounding_min)
    stop = _round(told.end + rng.normal(0, sigma, len(told)), config.time_rounding_min)
    stop = np.maximum(stop, start + config.time_rounding_min * MINUTE)
    told = Visits(told.person, told.place, start, stop).sorted()
    draw = rng.random(len(told))
    no_coordinates = draw < config.address_only_share
    no_address = (draw >= config.address_only_share) & (
        draw < config.address_only_share + config.no_address_share
    )
    place = told.place
    return pa.table(
        {
            "person_ref": labels(person_refs, told.person),
            "start": timestamps(told.start),
            "end": timestamps(told.end),
            "place_name": labels(pa.array(city.names), place),
            "address": labels_or_null(pa.array(city.addresses), np.where(no_address, -1, place)),
            "lat": floats(city.lat[place], null_mask=no_coordinates),
            "lon": floats(city.lon[place], null_mask=no_coordinates),
        }
    )
