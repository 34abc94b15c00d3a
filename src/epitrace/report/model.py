"""What the report shows, taken once from a ``Trajectory``: stays, moves and outliers
with their positions in the trajectory's local projection (metres)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from epitrace.analysis.trajectory import Trajectory, stay_place_and_time
from epitrace.geography import locate
from epitrace.report.clock import Clock, duration, from_micros

# Evidence that places the subject at a point, unlike a cell's coverage area.
PRECISE_SOURCES = frozenset({"card", "entry", "checkin", "transit", "gps"})
UNNAMED = "unnamed place"  # a stay without a place name or coordinates
OUTSIDE_KOREA = "outside Korea or at sea"
# One palette for the path wherever it is drawn: the offline report's CSS and the hub's
# case page (map, timeline, legend) read these, so both draw the same things the same way.
# Stays by their best evidence; moves by their mode (transit: bus and subway both).
PALETTE = {
    "precise": "#1f6fb2",
    "telecom": "#d9822b",
    "bus": "#2a9d57",
    "subway": "#8a4fbf",
    "transit": "#0f8b8d",
    "unknown": "#7a828c",
    "outlier": "#c62828",
    "district": "#8f8a7e",  # district boundaries under the path
}


def palette_css() -> str:
    """The palette as CSS custom properties on ``:root`` (``--precise`` ...)."""
    return ":root { " + " ".join(f"--{name}: {hex_};" for name, hex_ in PALETTE.items()) + " }\n"


def evidence_of(sources: str) -> str:
    """'precise' or 'telecom' for a stay's sources ("telecom+card"): its colour."""
    return "precise" if PRECISE_SOURCES & set(sources.split("+")) else "telecom"


def mode_class(mode: str) -> str:
    """A move's colour: "bus", "subway", "transit" (both, or another mode) or "unknown"."""
    return {"bus": "bus", "subway": "subway", "": "unknown"}.get(mode, "transit")


@dataclass(frozen=True)
class ShownStay:
    seq: int
    start: dt.datetime
    end: dt.datetime
    lat: float
    lon: float
    radius: float
    x: float  # metres east of the projection centre
    y: float  # metres north
    place: str  # "" when no evidence names it
    sources: str
    confidence: float
    district: str = ""  # "대구광역시 중구 동인동1가", OUTSIDE_KOREA, or "" when not looked up

    @property
    def evidence(self) -> str:
        """'precise' or 'telecom': the colour class on the map and the timeline."""
        return evidence_of(self.sources)

    @property
    def label(self) -> str:
        """The place's name; for an unnamed stay, its district (neighbourhood)."""
        return self.place or self.district or UNNAMED

    def tip(self, clock: Clock) -> str:
        return "\n".join(
            [
                f"#{self.seq} · {self.label}",
                f"{clock.span(self.start, self.end)} ({duration(self.start, self.end)})",
                f"{self.sources} · ±{self.radius:,.0f} m · confidence {self.confidence:.2f}",
            ]
        )


@dataclass(frozen=True)
class ShownMove:
    after_seq: int
    start: dt.datetime
    end: dt.datetime
    points: list[tuple[float, float]]  # (x, y) metres
    mode: str  # "bus", "subway", "bus+subway" or "" when unknown

    @property
    def mode_class(self) -> str:
        return mode_class(self.mode)

    def tip(self, clock: Clock) -> str:
        how = self.mode or "mode unknown"
        return "\n".join(
            [
                f"Move #{self.after_seq} → #{self.after_seq + 1} · {how}",
                f"{clock.span(self.start, self.end)} ({duration(self.start, self.end)})",
            ]
        )


@dataclass(frozen=True)
class ShownOutlier:
    ts: dt.datetime
    x: float
    y: float
    lat: float
    lon: float
    cell: str
    reason: str


def district_names(stays: pa.Table) -> list[str]:
    """Per stay, its district in full ("대구광역시 중구 동인동1가"), or OUTSIDE_KOREA when
    none holds it. A stays table from before the district columns is looked up here."""
    if "sido" not in stays.column_names:
        stays = locate(stays.column("lat"), stays.column("lon"))
    # Not pc.binary_join_element_wise(null_handling="skip"): it drops all-null rows
    # (pyarrow 26), and a report has tens of stays.
    levels = (stays.column(name).to_pylist() for name in ("sido", "sigungu", "emd"))
    return [" ".join(n for n in names if n) or OUTSIDE_KOREA for names in zip(*levels, strict=True)]


def shown_stays(trajectory: Trajectory) -> list[ShownStay]:
    table: pa.Table = trajectory.stays
    if table.num_rows == 0:
        return []
    lat = np.asarray(table.column("lat"), float)
    lon = np.asarray(table.column("lon"), float)
    x, y = trajectory.timeline.projection.to_xy(lat, lon)
    districts = district_names(table)
    return [
        ShownStay(
            **stay_place_and_time(row),
            radius=row["radius_m"],
            x=float(x[i]),
            y=float(y[i]),
            place=row["place_name"] or "",
            sources=row["sources"],
            confidence=row["confidence"],
            district=districts[i],
        )
        for i, row in enumerate(table.to_pylist())
    ]


def shown_moves(trajectory: Trajectory) -> list[ShownMove]:
    # Moves join consecutive stays, so the n-th move leaves stay n.
    return [
        ShownMove(
            after_seq=n,
            start=from_micros(m.start),
            end=from_micros(m.end),
            points=[(float(px), float(py)) for px, py in m.points],
            mode=m.mode,
        )
        for n, m in enumerate(trajectory.moves, start=1)
    ]


def shown_outliers(trajectory: Trajectory) -> list[ShownOutlier]:
    table = trajectory.outliers_table()
    return [
        ShownOutlier(
            ts=row["ts"],
            x=o.x,
            y=o.y,
            lat=row["lat"],
            lon=row["lon"],
            cell=row["cell"],
            reason=row["reason"],
        )
        for o, row in zip(trajectory.outliers, table.to_pylist(), strict=True)
    ]


def sources_used(trajectory: Trajectory) -> list[str]:
    """Every source that shaped the result, in the contract's order. Transit is
    taken out of stays once a ride becomes a move, so rides count on their own."""
    used: set[str] = set()
    for sources in trajectory.stays.column("sources").to_pylist():
        used.update(sources.split("+"))
    if trajectory.timeline.rides:
        used.add("transit")
    order = ["telecom", "card", "transit", "entry", "gps"]
    return [s for s in order if s in used] + sorted(used - set(order) - {""})
