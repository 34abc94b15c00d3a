"""Stays: where a subject stayed, when, how sure we are and on what evidence.

Stays from cell records come first (``cell_stays``): consecutive records whose
cells lie within a few coverage radii of the stay's centre form one stay, a
silence does not end a stay when the records on both sides agree, and the
location is the coverage-weighted centre of the cells with an uncertainty
radius. The sequential pass is compiled with Numba.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from epitrace.analysis.trajectory.params import TrajectoryParams
from epitrace.analysis.trajectory.timeline import MICROS_PER_MINUTE, CellTrack

# A location estimate is never claimed to be better than this from cells alone.
MIN_CELL_RADIUS_M = 50.0


@dataclass
class Stay:
    start: int  # µs since epoch, UTC
    end: int
    x: float  # metres, the timeline's local projection
    y: float
    radius: float  # uncertainty radius, metres
    sources: set[str] = field(default_factory=set)
    name: str = ""
    place: str = ""  # key of a named place ("merchant:M1"), empty when unnamed
    confidence: float = 0.5
    n_records: int = 0  # cell records supporting it
    cell_radius: float = 0.0  # mean coverage radius of those records (0: none)

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / MICROS_PER_MINUTE

    def overlap(self, start: int, end: int) -> int:
        return max(0, min(self.end, end) - max(self.start, start))


@njit(cache=True)
def _cluster_records(
    t, x, y, r, roam_radii, roam_min, max_silence, stray_window
):  # pragma: no cover
    """Label consecutive records that stay near one centre; a new label starts a new cluster.

    A record far from the centre ends the cluster only if the next record is
    far too: one stray attachment to a distant cell, followed by a return, is
    noise (``stray`` is set for it and it does not move the centre).
    """
    n = len(t)
    labels = np.zeros(n, dtype=np.int64)
    stray = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return labels, stray
    label = 0
    w = 1.0 / (r[0] * r[0])
    sw, sx, sy, sr, count = w, w * x[0], w * y[0], r[0], 1
    for j in range(1, n):
        cx, cy = sx / sw, sy / sw
        mean_r = sr / count
        near = np.hypot(x[j] - cx, y[j] - cy) <= max(roam_min, roam_radii * max(mean_r, r[j]))
        if near and t[j] - t[j - 1] <= max_silence:
            w = 1.0 / (r[j] * r[j])
            sw += w
            sx += w * x[j]
            sy += w * y[j]
            sr += r[j]
            count += 1
            labels[j] = label
            continue
        k = j + 1
        if (
            near is False
            and k < n
            and t[k] - t[j] <= stray_window
            and t[j] - t[j - 1] <= max_silence
            and np.hypot(x[k] - cx, y[k] - cy) <= max(roam_min, roam_radii * max(mean_r, r[k]))
        ):
            stray[j] = True
            labels[j] = label
            continue
        label += 1
        w = 1.0 / (r[j] * r[j])
        sw, sx, sy, sr, count = w, w * x[j], w * y[j], r[j], 1
        labels[j] = label
    return labels, stray


def _cell_stay(track: CellTrack, first: int, stop: int, stray: np.ndarray) -> Stay:
    """Locate the records ``first:stop`` of one cluster (strays aside) as a stay."""
    keep = np.flatnonzero(~stray[first:stop]) + first
    x, y, r = track.x[keep], track.y[keep], track.radius[keep]
    w = 1.0 / (r * r)
    cx, cy = float(np.sum(w * x) / np.sum(w)), float(np.sum(w * y) / np.sum(w))
    spread2 = float(np.sum(w * ((x - cx) ** 2 + (y - cy) ** 2)) / np.sum(w))
    # Each distinct cell is one independent hint of where the handset was;
    # repeated records from the same cell add no precision.
    _, distinct = np.unique(track.cell_id[keep], return_index=True)
    base2 = 1.0 / float(np.sum(w[distinct]))
    n = len(keep)
    return Stay(
        start=int(track.t[first]),
        end=int(track.t[stop - 1]),
        x=cx,
        y=cy,
        radius=max(MIN_CELL_RADIUS_M, float(np.sqrt(spread2 + base2))),
        sources={"telecom"},
        confidence=round(0.4 + 0.4 * (1 - np.exp(-(n - 1) / 4)), 3),
        n_records=n,
        cell_radius=float(np.mean(r)),
    )


def _merge_same_place(stays: list[Stay], params: TrajectoryParams) -> list[Stay]:
    """Join consecutive stays at the same place split only by a brief stray record."""
    merged: list[Stay] = []
    for stay in stays:
        if merged:
            last = merged[-1]
            tolerance = max(
                params.roam_min_m, params.roam_radii * max(last.cell_radius, stay.cell_radius)
            )
            near = np.hypot(stay.x - last.x, stay.y - last.y) <= tolerance
            brief = stay.start - last.end <= params.min_stay_min * MICROS_PER_MINUTE
            if near and brief:
                total = last.n_records + stay.n_records
                last.x = (last.x * last.n_records + stay.x * stay.n_records) / total
                last.y = (last.y * last.n_records + stay.y * stay.n_records) / total
                last.radius = max(last.radius, stay.radius)
                last.end = stay.end
                last.n_records = total
                last.confidence = max(last.confidence, stay.confidence)
                continue
        merged.append(stay)
    return merged


def _spans(
    track: CellTrack, starts: np.ndarray, stops: np.ndarray, params: TrajectoryParams
) -> tuple[np.ndarray, np.ndarray]:
    """When each cluster's stay most likely began and ended.

    The subject arrived somewhere between the previous cluster's last record
    and this one's first, and left between this one's last and the next one's
    first: take the midpoints, but never reach further than
    ``edge_extension_min`` into a gap (a long silence says nothing).
    """
    cap = params.edge_extension_min * MICROS_PER_MINUTE
    first, last = track.t[starts], track.t[stops - 1]
    before = np.concatenate([[first[0] - 2 * cap], last[:-1]])
    after = np.concatenate([first[1:], [last[-1] + 2 * cap]])
    begin = first - np.minimum((first - before) // 2, cap)
    end = last + np.minimum((after - last) // 2, cap)
    return begin.astype(np.int64), end.astype(np.int64)


def cell_stays(track: CellTrack, params: TrajectoryParams) -> list[Stay]:
    """Stays from cell records alone (time-ordered, outliers already removed)."""
    if len(track) == 0:
        return []
    labels, stray = _cluster_records(
        track.t,
        track.x,
        track.y,
        track.radius,
        params.roam_radii,
        params.roam_min_m,
        int(params.max_silence_min * MICROS_PER_MINUTE),
        int(params.stray_window_min * MICROS_PER_MINUTE),
    )
    bounds = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(track)]])
    begin, end = _spans(track, starts, stops, params)
    real = np.array([np.count_nonzero(~stray[a:b]) for a, b in zip(starts, stops, strict=True)])
    keep = (end - begin >= params.min_stay_min * MICROS_PER_MINUTE) & (real >= params.min_records)
    stays = []
    for a, b, s, e in zip(starts[keep], stops[keep], begin[keep], end[keep], strict=True):
        stay = _cell_stay(track, int(a), int(b), stray)
        stay.start, stay.end = int(s), int(e)
        stays.append(stay)
    return _merge_same_place(stays, params)
