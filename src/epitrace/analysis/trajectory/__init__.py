"""A subject's movement path and stay points from provider records.

``trace_subject(records)`` fuses telecom attachments, offline card payments,
transit taps, entry-log check-ins and GPS points of one subject into stays
(the contract's ``stays`` table), the moves between them (``path.geojson``),
the outliers it dropped and notes on what it could not use. Parameters are in
``TrajectoryParams`` (metres, minutes) with their reasoning.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory.fusion import fuse
from epitrace.analysis.trajectory.params import TrajectoryParams
from epitrace.analysis.trajectory.path import (
    Move,
    moves_between,
    stay_place_and_time,
    stays_table,
)
from epitrace.analysis.trajectory.stays import Stay, cell_stays
from epitrace.analysis.trajectory.timeline import Outlier, Timeline, build_timeline

__all__ = [
    "SubjectRecords",
    "Trajectory",
    "TrajectoryParams",
    "stay_place_and_time",
    "trace_subject",
]


def _iso(micros: int, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(micros / 1e6, zone).isoformat()


@dataclass
class Trajectory:
    person_ref: str
    stays: pa.Table  # contract `stays`
    moves: list[Move]
    outliers: list[Outlier]
    notes: list[str]
    timeline: Timeline = field(repr=False)
    stay_objects: list[Stay] = field(repr=False, default_factory=list)

    def geojson(self, tz: str = "UTC") -> dict[str, Any]:
        """``path.geojson``: a Point per stay (its properties as in ``stays``) and a
        LineString per move (start, end, mode when known). Times are ISO 8601 with
        their offset in the IANA zone ``tz``, as ``stays.csv`` writes them."""
        zone = zoneinfo.ZoneInfo(tz)
        features: list[dict[str, Any]] = []
        for row in self.stays.to_pylist():
            properties = {
                k: (v.astimezone(zone).isoformat() if isinstance(v, dt.datetime) else v)
                for k, v in row.items()
                if k not in ("lat", "lon")
            }
            features.append(
                {
                    "type": "Feature",
                    "properties": properties,
                    "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                }
            )
        for move in self.moves:
            xs = np.array([p[0] for p in move.points])
            ys = np.array([p[1] for p in move.points])
            lat, lon = self.timeline.projection.to_latlon(xs, ys)
            coordinates = [
                [round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)
            ]
            properties = {"start": _iso(move.start, zone), "end": _iso(move.end, zone)}
            if move.mode:
                properties["mode"] = move.mode
            features.append(
                {
                    "type": "Feature",
                    "properties": properties,
                    "geometry": {"type": "LineString", "coordinates": coordinates},
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def outliers_table(self) -> pa.Table:
        lat, lon = self.timeline.projection.to_latlon(
            np.array([o.x for o in self.outliers]), np.array([o.y for o in self.outliers])
        )
        return pa.table(
            {
                "ts": pa.array([o.t for o in self.outliers], pa.int64()).cast(
                    pa.timestamp("us", "UTC")
                ),
                "cell": [o.cell_id for o in self.outliers],
                "lat": lat,
                "lon": lon,
                "reason": [o.reason for o in self.outliers],
            }
        )


def trace_subject(records: SubjectRecords, params: TrajectoryParams | None = None) -> Trajectory:
    """Stays, path, outliers and notes for one subject from all their records."""
    params = params or TrajectoryParams()
    timeline = build_timeline(records, params)
    stays = fuse(cell_stays(timeline.cells, params), timeline, params)
    moves = moves_between(stays, timeline.rides)
    notes = list(timeline.notes)
    if records.record_count == 0:
        notes.append("no records for this subject in the window")
    return Trajectory(
        records.person_ref,
        stays_table(stays, timeline),
        moves,
        timeline.outliers,
        notes,
        timeline,
        stays,
    )
