"""Where a resident is at any instant: at a visit's place, or on the way between two."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epitrace.simulate.city import City
from epitrace.simulate.clock import DAY
from epitrace.simulate.routines import Visits

_SPAN = 1e7  # seconds of one person's key range (> the 5 days a timeline covers)


@dataclass
class Positions:
    x: np.ndarray
    y: np.ndarray
    place: np.ndarray  # place index when at a place, -1 when travelling
    moving: np.ndarray  # bool


class Timeline:
    """The day's visits (plus yesterday's and the open stay at home) as a lookup by instant."""

    def __init__(
        self, city: City, visits: Visits, home_since: np.ndarray, home: np.ndarray, midnight: float
    ) -> None:
        persons = np.arange(home.size)
        at_home = Visits(persons, home, home_since, np.full(home.size, np.inf))
        self.visits = Visits.concat([visits, at_home]).sorted()
        self.city = city
        self.base = midnight - 3 * DAY
        self.keys = self._keys(self.visits.person, self.visits.start)

    def _keys(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        return person * _SPAN + np.clip(t - self.base, 0.0, _SPAN - 1)

    def positions(self, person: np.ndarray, t: np.ndarray) -> Positions:
        v, c = self.visits, self.city
        i = np.searchsorted(self.keys, self._keys(person, t), side="right") - 1
        i = np.clip(i, 0, len(v) - 1)
        at_place = t <= v.end[i]
        j = np.minimum(i + 1, len(v) - 1)
        gap = np.maximum(v.start[j] - v.end[i], 1e-9)
        share = np.where(at_place, 0.0, np.clip((t - v.end[i]) / gap, 0.0, 1.0))
        a, b = v.place[i], v.place[j]
        x = c.x[a] + share * (c.x[b] - c.x[a])
        y = c.y[a] + share * (c.y[b] - c.y[a])
        return Positions(x, y, np.where(at_place, a, -1), ~at_place)
