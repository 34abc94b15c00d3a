"""Sharpen cell stays with precise evidence: GPS stay points, payments, check-ins, rides.

Cell records say roughly where a subject was for a long time; a card payment
at a merchant or a venue check-in says exactly where they were at one moment;
a GPS stay point says both, while the app was on. The rules, in order:

1. GPS stay points replace the cell stays they overlap in time.
2. Payments and check-ins at one place close in time are one visit. A visit
   that falls in a short cell stay nearby *is* that stay: the stay takes the
   place's position, name and a tight radius. A visit inside a long stay (home,
   work) or far from the cell stay it falls in is carved out of it as a stay
   of its own. A visit with no cell stay becomes a stay from the evidence.
3. A transit ride (tap in to tap out) is travel: no stay overlaps it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from epitrace.analysis.gps_staypoints import detect_gps_staypoints
from epitrace.analysis.trajectory.params import TrajectoryParams
from epitrace.analysis.trajectory.stays import Stay
from epitrace.analysis.trajectory.timeline import MICROS_PER_MINUTE, CellTrack, Ride, Timeline

GPS_STAY_RADIUS_M = 30.0
EVIDENCE_CONFIDENCE = 0.95
GPS_CONFIDENCE = 0.9
EVIDENCE_ONLY_CONFIDENCE = 0.8


def _carve(stays: list[Stay], start: int, end: int, min_length: int) -> list[Stay]:
    """Remove the interval [start, end) from every stay; keep pieces long enough to matter."""
    kept: list[Stay] = []
    for stay in stays:
        if stay.overlap(start, end) == 0:
            kept.append(stay)
            continue
        for piece_start, piece_end in ((stay.start, start), (end, stay.end)):
            if piece_end - piece_start >= min_length:
                piece = Stay(**{**stay.__dict__, "sources": set(stay.sources)})
                piece.start, piece.end = piece_start, piece_end
                kept.append(piece)
    return kept


def _insert(stays: list[Stay], stay: Stay) -> list[Stay]:
    return sorted([*stays, stay], key=lambda s: s.start)


def _gps_stays(timeline: Timeline, params: TrajectoryParams) -> list[Stay]:
    gps = timeline.gps
    if gps.num_rows == 0:
        return []
    points = pa.table(
        {
            "person_ref": gps.column("person_ref"),
            "ts": gps.column("ts"),
            "lat": gps.column("lat"),
            "lon": gps.column("lon"),
        }
    )
    found = detect_gps_staypoints(
        points,
        params.gps_dist_threshold_m,
        params.gps_time_threshold_min,
        params.gps_gap_threshold_min,
        include_last=True,
    )
    x, y = timeline.projection.to_xy(
        np.asarray(found.column("lat")), np.asarray(found.column("lon"))
    )
    start = found.column("start").cast(pa.int64()).to_numpy()
    end = found.column("end").cast(pa.int64()).to_numpy()
    return [
        Stay(
            int(a),
            int(b),
            float(px),
            float(py),
            GPS_STAY_RADIUS_M,
            {"gps"},
            confidence=GPS_CONFIDENCE,
        )
        for a, b, px, py in zip(start, end, x, y, strict=True)
    ]


def _window(source: str, params: TrajectoryParams) -> tuple[int, int]:
    """How long a visit is assumed to run before and after one event of ``source``."""
    if source == "entry":
        minutes = (params.checkin_before_min, params.checkin_after_min)
    else:
        minutes = (params.payment_before_min, params.payment_after_min)
    return int(minutes[0] * MICROS_PER_MINUTE), int(minutes[1] * MICROS_PER_MINUTE)


def _agreeing(track: CellTrack, index: int, x: float, y: float, params: TrajectoryParams) -> bool:
    reach = max(params.roam_min_m, params.roam_radii * float(track.radius[index]))
    return float(np.hypot(track.x[index] - x, track.y[index] - y)) <= reach


def _walk(
    track: CellTrack, t: int, x: float, y: float, step: int, default: int, params: TrajectoryParams
) -> int | None:
    """Walk from time ``t`` over the cell records (backwards for step -1) while they
    agree with the place at (x, y); return the visit's boundary on that side, or
    None when the cells cannot tell the place from its surroundings."""
    limit = params.max_evidence_visit_min * MICROS_PER_MINUTE
    i = int(np.searchsorted(track.t, t, side="left" if step < 0 else "right"))
    i = i - 1 if step < 0 else i
    edge = t
    while 0 <= i < len(track) and _agreeing(track, i, x, y, params):
        if abs(int(track.t[i]) - t) > limit:
            return None
        edge = int(track.t[i])
        i += step
    if not 0 <= i < len(track):  # no record beyond: the usual window
        return edge + step * default
    midway = (edge + int(track.t[i])) // 2
    return max(midway, edge - default) if step < 0 else min(midway, edge + default)


def _evidence_visits(timeline: Timeline, params: TrajectoryParams) -> list[Stay]:
    """Group payments/check-ins at one place close in time into visits, bounded by
    the cell records around them."""
    evidence, track = timeline.evidence, timeline.cells
    merge = params.evidence_merge_min * MICROS_PER_MINUTE
    groups: list[list[int]] = []
    last_of_place: dict[str, int] = {}
    for i in range(len(evidence)):
        place = str(evidence.place[i])
        g = last_of_place.get(place)
        if (
            g is not None
            and g == len(groups) - 1
            and evidence.t[i] - evidence.t[groups[g][-1]] <= merge
        ):
            groups[g].append(i)
        else:
            groups.append([i])
            last_of_place[place] = len(groups) - 1
    visits = []
    for members in groups:
        first, last = members[0], members[-1]
        x, y = float(evidence.x[first]), float(evidence.y[first])
        before = _window(str(evidence.source[first]), params)[0]
        after = _window(str(evidence.source[last]), params)[1]
        t0, t1 = int(evidence.t[first]), int(evidence.t[last])
        start = _walk(track, t0, x, y, -1, before, params)
        end = _walk(track, t1, x, y, +1, after, params)
        limit = params.max_evidence_visit_min * MICROS_PER_MINUTE
        if start is None or end is None or end - start > limit:
            # The cells cannot tell this place from its surroundings: the usual window.
            start, end = t0 - before, t1 + after
        visits.append(
            Stay(
                start,
                end,
                x,
                y,
                float(evidence.radius[first]),
                {str(evidence.source[i]) for i in members},
                name=str(evidence.name[first]),
                place=str(evidence.place[first]),
                confidence=EVIDENCE_ONLY_CONFIDENCE,
            )
        )
    return visits


def _agrees(stay: Stay, visit: Stay, params: TrajectoryParams) -> bool:
    """Could the cell stay be this visit, as far as the cells can tell?"""
    tolerance = max(params.roam_min_m, params.roam_radii * stay.cell_radius, stay.radius)
    return float(np.hypot(stay.x - visit.x, stay.y - visit.y)) <= tolerance


def _place_visit(stays: list[Stay], visit: Stay, params: TrajectoryParams) -> list[Stay]:
    min_length = int(params.min_stay_min * MICROS_PER_MINUTE)
    overlapping = [s for s in stays if s.overlap(visit.start, visit.end) > 0]
    short = params.max_sharpened_stay_min * MICROS_PER_MINUTE
    matches = [
        s
        for s in overlapping
        if "gps" not in s.sources and s.end - s.start <= short and _agrees(s, visit, params)
    ]
    if matches:
        stay = max(matches, key=lambda s: s.overlap(visit.start, visit.end))
        stay.x, stay.y, stay.radius = visit.x, visit.y, visit.radius
        stay.name, stay.place = visit.name, visit.place
        stay.sources |= visit.sources
        stay.confidence = EVIDENCE_CONFIDENCE
        stay.start, stay.end = min(stay.start, visit.start), max(stay.end, visit.end)
        others = [s for s in stays if s is not stay]
        return _insert(_carve(others, stay.start, stay.end, min_length), stay)
    if any(_agrees(s, visit, params) for s in overlapping):
        visit.sources.add("telecom")
        visit.confidence = EVIDENCE_CONFIDENCE
    return _insert(_carve(stays, visit.start, visit.end, min_length), visit)


def _remove_rides(stays: list[Stay], rides: list[Ride], params: TrajectoryParams) -> list[Stay]:
    min_length = int(params.min_stay_min * MICROS_PER_MINUTE)
    for ride in rides:
        if ride.t_out > ride.t_in:
            stays = _carve(stays, ride.t_in, ride.t_out, min_length)
    return stays


def fuse(cell_based: list[Stay], timeline: Timeline, params: TrajectoryParams) -> list[Stay]:
    """All evidence combined into one time-ordered list of non-overlapping stays."""
    min_length = int(params.min_stay_min * MICROS_PER_MINUTE)
    stays = list(cell_based)
    for gps_stay in _gps_stays(timeline, params):
        stays = _insert(_carve(stays, gps_stay.start, gps_stay.end, min_length), gps_stay)
    for visit in _evidence_visits(timeline, params):
        stays = _place_visit(stays, visit, params)
    return _remove_rides(stays, timeline.rides, params)
