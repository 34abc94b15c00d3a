"""Compare the stays found in the data with the places the patient named in the interview.

Every stay and every interview visit ends up in exactly one of three lists,
the ones an investigator works from:

- ``confirmed``: the data and the interview agree (same time, same place);
- ``data_only``: found only in the data — the patient did not mention it;
- ``interview_only``: named only in the interview — no data supports it.

A stay and an interview visit are the same visit when their times overlap
(allowing the interview's times some slack, since people remember roughly)
and their places agree: within a distance of each other when the interview
gives coordinates, or by name when it gives only an address.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.trajectory.params import TrajectoryParams
from epitrace.analysis.trajectory.projection import LocalProjection
from epitrace.analysis.trajectory.timeline import MICROS_PER_MINUTE, micros

CONFIRMED = "confirmed"
DATA_ONLY = "data_only"
INTERVIEW_ONLY = "interview_only"
# The ``note`` column's sentences (English: the CSV is for programs; pages translate them).
NOTE_ADDRESS_ONLY = "address only: place checked by name and time"
NOTE_NOT_MENTIONED = "not mentioned in the interview"
NOTE_NO_DATA = "no data supports this visit"

COMPARISON_SCHEMA = pa.schema(
    [
        pa.field("status", pa.string(), nullable=False),
        pa.field("stay_seq", pa.int64()),
        pa.field("interview_row", pa.int64()),  # 1-based row of the subject's interview visits
        pa.field("place_name", pa.string()),
        pa.field("start", pa.timestamp("us", tz="UTC")),
        pa.field("end", pa.timestamp("us", tz="UTC")),
        pa.field("distance_m", pa.float64()),
        pa.field("note", pa.string()),
    ]
)


def clip_interview(
    visits: pa.Table, start: dt.datetime | None, end: dt.datetime | None
) -> pa.Table:
    """The interview visits that overlap [start, end) (either bound may be open):
    those the investigation's window can confirm or miss."""
    if start is None and end is None:
        return visits
    keep = pa.scalar(True)
    if start is not None:
        keep = pc.and_(
            keep, pc.greater(visits.column("end"), pa.scalar(start, visits.column("end").type))
        )
    if end is not None:
        keep = pc.and_(
            keep, pc.less(visits.column("start"), pa.scalar(end, visits.column("start").type))
        )
    return visits.filter(keep)


def _same_name(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()  # type: ignore[union-attr]


def _match_scores(
    stays: pa.Table, visits: pa.Table, params: TrajectoryParams, projection: LocalProjection
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pairwise (stay × visit) overlap in µs where the pair may be the same visit, else 0."""
    slack = int(params.interview_time_slack_min * MICROS_PER_MINUTE)
    s_start, s_end = micros(stays.column("start")), micros(stays.column("end"))
    v_start, v_end = micros(visits.column("start")) - slack, micros(visits.column("end")) + slack
    overlap = np.maximum(
        0,
        np.minimum(s_end[:, None], v_end[None, :]) - np.maximum(s_start[:, None], v_start[None, :]),
    )
    sx, sy = projection.to_xy(np.asarray(stays.column("lat")), np.asarray(stays.column("lon")))
    v_lat = np.asarray(visits.column("lat").to_numpy(zero_copy_only=False), float)
    v_lon = np.asarray(visits.column("lon").to_numpy(zero_copy_only=False), float)
    located = ~np.isnan(v_lat) & ~np.isnan(v_lon)
    vx, vy = projection.to_xy(np.where(located, v_lat, 0.0), np.where(located, v_lon, 0.0))
    distance = np.hypot(sx[:, None] - vx[None, :], sy[:, None] - vy[None, :])
    radius = np.asarray(stays.column("radius_m"), float)[:, None]
    near = distance <= params.interview_match_m + radius
    names_stay = stays.column("place_name").to_pylist()
    names_visit = visits.column("place_name").to_pylist()
    named = np.array([[_same_name(a, b) for b in names_visit] for a in names_stay], dtype=bool)
    unnamed_stay = np.array([not n for n in names_stay], dtype=bool)[:, None]
    # Without coordinates, a visit agrees with a stay of the same name, or with an unnamed
    # stay (cells cannot name a place) at that time.
    agrees = np.where(located[None, :], near | named, named | unnamed_stay)
    notes = ["" if ok else NOTE_ADDRESS_ONLY for ok in located]
    return np.where(agrees, overlap, 0), np.where(located[None, :], distance, np.nan), notes


def _greedy_pairs(score: np.ndarray) -> list[tuple[int, int]]:
    """Pair stays with visits, largest overlap first, each used at most once."""
    pairs: list[tuple[int, int]] = []
    if score.size == 0:
        return pairs
    order = np.argsort(-score, axis=None, kind="stable")
    used_s, used_v = set(), set()
    for flat in order:
        i, j = np.unravel_index(flat, score.shape)
        if score[i, j] <= 0:
            break
        if i in used_s or j in used_v:
            continue
        used_s.add(int(i))
        used_v.add(int(j))
        pairs.append((int(i), int(j)))
    return pairs


def compare_with_interview(
    stays: pa.Table, visits: pa.Table, params: TrajectoryParams | None = None
) -> pa.Table:
    """The three lists, as one table with a ``status`` column, in time order."""
    params = params or TrajectoryParams()
    lat = np.concatenate(
        [
            np.asarray(stays.column("lat"), float),
            np.asarray(pc.drop_null(visits.column("lat")), float),
        ]
    )
    lon = np.concatenate(
        [
            np.asarray(stays.column("lon"), float),
            np.asarray(pc.drop_null(visits.column("lon")), float),
        ]
    )
    projection = LocalProjection.around(lat, lon)
    score, distance, notes = _match_scores(stays, visits, params, projection)
    pairs = _greedy_pairs(score)
    paired_stays = {i for i, _ in pairs}
    paired_visits = {j for _, j in pairs}
    stay_rows, visit_rows = stays.to_pylist(), visits.to_pylist()
    rows = []
    for i, j in pairs:
        d = distance[i, j]
        rows.append(
            {
                "status": CONFIRMED,
                "stay_seq": stay_rows[i]["seq"],
                "interview_row": j + 1,
                "place_name": stay_rows[i]["place_name"] or visit_rows[j]["place_name"],
                "start": stay_rows[i]["start"],
                "end": stay_rows[i]["end"],
                "distance_m": None if np.isnan(d) else round(float(d), 1),
                "note": notes[j],
            }
        )
    for i, stay in enumerate(stay_rows):
        if i not in paired_stays:
            rows.append(
                {
                    "status": DATA_ONLY,
                    "stay_seq": stay["seq"],
                    "interview_row": None,
                    "place_name": stay["place_name"],
                    "start": stay["start"],
                    "end": stay["end"],
                    "distance_m": None,
                    "note": NOTE_NOT_MENTIONED,
                }
            )
    for j, visit in enumerate(visit_rows):
        if j not in paired_visits:
            rows.append(
                {
                    "status": INTERVIEW_ONLY,
                    "stay_seq": None,
                    "interview_row": j + 1,
                    "place_name": visit["place_name"],
                    "start": visit["start"],
                    "end": visit["end"],
                    "distance_m": None,
                    "note": NOTE_NO_DATA,
                }
            )
    rows.sort(key=lambda r: r["start"] or dt.datetime.min.replace(tzinfo=dt.UTC))
    return pa.Table.from_pylist(rows, schema=COMPARISON_SCHEMA)
