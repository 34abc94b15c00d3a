"""How close the stays are to where subjects really were (simulated ground truth).

- **Recall**: of the true visits lasting at least ``min_visit_min`` (30 minutes:
  what investigators act on), the share that some stay overlaps in time for at
  least half the visit.
- **Precision**: of all the stays found, the share that overlap some true visit
  for at least half the stay.
- **Location error**: for each stay that counts for precision, the distance from
  its estimated location to the place of the true visit it overlaps most.
  Reported over all such stays and over those with precise evidence (card,
  transit, entry log or GPS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from epitrace.analysis.trajectory.projection import LocalProjection
from epitrace.analysis.trajectory.timeline import micros

PRECISE_SOURCES = ("card", "transit", "entry", "gps")
# Stays located this loosely sit under suburban or rural cells, which cannot
# separate places a kilometre or two apart: their precision is reported apart.
LARGE_RADIUS_M = 700.0


@dataclass
class StayScore:
    """Counts for one or many subjects; add them up with ``+``."""

    visits: int = 0
    visits_found: int = 0
    stays: int = 0
    stays_correct: int = 0
    errors_m: list[float] = field(default_factory=list)
    precise_errors_m: list[float] = field(default_factory=list)
    loose_stays: int = 0  # stays with a radius over LARGE_RADIUS_M
    loose_correct: int = 0

    def __add__(self, other: StayScore) -> StayScore:
        return StayScore(
            self.visits + other.visits,
            self.visits_found + other.visits_found,
            self.stays + other.stays,
            self.stays_correct + other.stays_correct,
            self.errors_m + other.errors_m,
            self.precise_errors_m + other.precise_errors_m,
            self.loose_stays + other.loose_stays,
            self.loose_correct + other.loose_correct,
        )

    @property
    def recall(self) -> float:
        return self.visits_found / self.visits if self.visits else float("nan")

    @property
    def precision(self) -> float:
        return self.stays_correct / self.stays if self.stays else float("nan")

    @property
    def median_error_m(self) -> float:
        return float(np.median(self.errors_m)) if self.errors_m else float("nan")

    @property
    def median_precise_error_m(self) -> float:
        return float(np.median(self.precise_errors_m)) if self.precise_errors_m else float("nan")

    @property
    def tight_precision(self) -> float:
        """Precision of the stays located to within LARGE_RADIUS_M (urban cells, evidence)."""
        tight = self.stays - self.loose_stays
        return (self.stays_correct - self.loose_correct) / tight if tight else float("nan")

    @property
    def loose_precision(self) -> float:
        return self.loose_correct / self.loose_stays if self.loose_stays else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "visits": self.visits,
            "recall": round(self.recall, 4),
            "stays": self.stays,
            "precision": round(self.precision, 4),
            "tight_stays": self.stays - self.loose_stays,
            "tight_precision": round(self.tight_precision, 4),
            "loose_stays": self.loose_stays,
            "loose_precision": round(self.loose_precision, 4),
            "median_error_m": round(self.median_error_m, 1),
            "matched_stays": len(self.errors_m),
            "median_precise_error_m": round(self.median_precise_error_m, 1),
            "precise_stays": len(self.precise_errors_m),
        }


def score_stays(
    stays: pa.Table, visits: pa.Table, places: pa.Table, min_visit_min: float = 30.0
) -> StayScore:
    """Score one subject's stays against their true visits (joined to true places)."""
    located = visits.join(
        places.select(["place_id", "lat", "lon"]), "place_id", join_type="inner", use_threads=False
    ).sort_by("start")
    v_start, v_end = micros(located.column("start")), micros(located.column("end"))
    s_start, s_end = micros(stays.column("start")), micros(stays.column("end"))
    overlap = np.maximum(
        0,
        np.minimum(s_end[:, None], v_end[None, :]) - np.maximum(s_start[:, None], v_start[None, :]),
    )
    long_visit = (v_end - v_start) >= min_visit_min * 60_000_000
    visit_found = (
        (overlap >= 0.5 * (v_end - v_start)[None, :]).any(axis=0)
        if len(s_start)
        else np.zeros(len(v_start), dtype=bool)
    )
    stay_correct = (
        (overlap >= 0.5 * (s_end - s_start)[:, None]).any(axis=1)
        if len(v_start)
        else np.zeros(len(s_start), dtype=bool)
    )
    loose = np.asarray(stays.column("radius_m"), float) > LARGE_RADIUS_M
    score = StayScore(
        int(long_visit.sum()),
        int((visit_found & long_visit).sum()),
        len(s_start),
        int(stay_correct.sum()),
        loose_stays=int(loose.sum()),
        loose_correct=int((loose & stay_correct).sum()),
    )
    if not stay_correct.any():
        return score
    best = overlap.argmax(axis=1)
    lat = np.concatenate([np.asarray(stays.column("lat")), np.asarray(located.column("lat"))])
    lon = np.concatenate([np.asarray(stays.column("lon")), np.asarray(located.column("lon"))])
    projection = LocalProjection.around(lat, lon)
    sx, sy = projection.to_xy(np.asarray(stays.column("lat")), np.asarray(stays.column("lon")))
    vx, vy = projection.to_xy(np.asarray(located.column("lat")), np.asarray(located.column("lon")))
    error = np.hypot(sx - vx[best], sy - vy[best])
    precise = np.array(
        [
            any(s in str(src).split("+") for s in PRECISE_SOURCES)
            for src in stays.column("sources").to_pylist()
        ],
        dtype=bool,
    )
    score.errors_m = error[stay_correct].tolist()
    score.precise_errors_m = error[stay_correct & precise].tolist()
    return score
