"""One subject's records from every source as positioned observations in time order.

Telecom records become cell observations (the cell's position and coverage
radius); offline card payments and entry-log check-ins become precise place
evidence; transit taps become rides. Duplicates are removed, records out of
order are sorted, records naming an unknown cell or merchant are set aside
with a note, and online card payments are never used for location.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory.params import TrajectoryParams
from epitrace.analysis.trajectory.projection import LocalProjection

MICROS_PER_MINUTE = 60_000_000


def micros(ts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as int64 microseconds since the epoch, UTC."""
    return np.asarray(
        pc.cast(ts, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64
    )


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)


def _strings(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(column, "").to_pylist(), dtype=object)


@dataclass
class CellTrack:
    """Telecom records positioned at their cells, in time order."""

    t: np.ndarray  # µs since epoch, UTC
    x: np.ndarray  # metres, local projection
    y: np.ndarray
    radius: np.ndarray  # coverage radius, metres
    cell_id: np.ndarray  # "carrier:cell_id"

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray) -> CellTrack:
        return CellTrack(
            self.t[index], self.x[index], self.y[index], self.radius[index], self.cell_id[index]
        )


@dataclass
class Evidence:
    """Precise place evidence: payments at merchants, venue check-ins, in time order."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    source: np.ndarray  # "card" or "entry"
    name: np.ndarray  # merchant or venue name
    place: np.ndarray  # "merchant:ID" / "venue:ID": same place, same key

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Ride:
    """A transit ride from a tap in to the matching tap out (or a lone tap)."""

    t_in: int
    t_out: int
    from_xy: tuple[float, float]
    to_xy: tuple[float, float]
    from_name: str
    to_name: str
    mode: str


@dataclass
class Outlier:
    t: int
    x: float
    y: float
    cell_id: str
    reason: str


@dataclass
class Timeline:
    person_ref: str
    projection: LocalProjection
    cells: CellTrack
    evidence: Evidence
    rides: list[Ride]
    gps: pa.Table  # the subject's gps_points, sorted, as given
    outliers: list[Outlier] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _dedupe_sorted(data: pa.Table, keys: list[str]) -> pa.Table:
    """Sort by time and drop exact duplicates (a provider may send a record twice)."""
    if data.num_rows == 0:
        return data
    data = data.group_by(keys, use_threads=False).aggregate([]) if keys else data
    return data.sort_by([("ts", "ascending"), *[(k, "ascending") for k in keys if k != "ts"]])


def _join_cells(records: SubjectRecords, notes: list[str]) -> pa.Table:
    telecom = _dedupe_sorted(
        records.telecom_records.select(["carrier", "ts", "cell_id"]), ["carrier", "ts", "cell_id"]
    )
    if telecom.num_rows < records.telecom_records.num_rows:
        dropped = records.telecom_records.num_rows - telecom.num_rows
        notes.append(f"{dropped} duplicated telecom records ignored")
    cells = records.cells.select(["carrier", "cell_id", "lat", "lon", "radius_m"])
    cells = (
        cells.group_by(["carrier", "cell_id"], use_threads=False)
        .aggregate([("lat", "first"), ("lon", "first"), ("radius_m", "first")])
        .rename_columns(["carrier", "cell_id", "lat", "lon", "radius_m"])
    )
    joined = telecom.join(cells, ["carrier", "cell_id"], join_type="left outer", use_threads=False)
    unknown = pc.is_null(joined.column("lat"))
    missing = joined.filter(unknown)
    if missing.num_rows:
        names = sorted(
            {
                f"{c}:{i}"
                for c, i in zip(
                    missing.column("carrier").to_pylist(),
                    missing.column("cell_id").to_pylist(),
                    strict=True,
                )
            }
        )
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        notes.append(
            f"{missing.num_rows} telecom records name cells missing from the cell "
            f"registry ({shown}); they cannot be located and are not used"
        )
    return joined.filter(pc.invert(unknown)).sort_by([("ts", "ascending")])


def _events(
    data: pa.Table, source: str, name: pa.ChunkedArray, kind: str, key: pa.ChunkedArray
) -> pa.Table:
    """Place evidence rows: when, where, from which source, at which named place."""
    return pa.table(
        {
            "ts": data.column("ts"),
            "lat": data.column("lat"),
            "lon": data.column("lon"),
            "source": pa.array([source] * data.num_rows, pa.string()),
            "name": name,
            "place": pc.binary_join_element_wise(kind, key, ""),
        }
    )


def _card_evidence(records: SubjectRecords, notes: list[str]) -> pa.Table:
    cards = records.card_transactions
    online = pc.equal(cards.column("channel"), "online")
    offline = cards.filter(pc.invert(online))
    merchants = records.merchants.select(["merchant_id", "name", "lat", "lon"])
    merchants = (
        merchants.group_by(["merchant_id"], use_threads=False)
        .aggregate([("name", "first"), ("lat", "first"), ("lon", "first")])
        .rename_columns(["merchant_id", "name", "lat", "lon"])
    )
    offline = _dedupe_sorted(offline.select(["ts", "merchant_id"]), ["ts", "merchant_id"])
    joined = offline.join(merchants, "merchant_id", join_type="left outer", use_threads=False)
    unknown = pc.is_null(joined.column("lat"))
    if pc.any(unknown).as_py():
        count = pc.sum(unknown.cast(pa.int64())).as_py()
        notes.append(
            f"{count} card payments at merchants missing from the merchant registry "
            "are not used for location"
        )
    joined = joined.filter(pc.invert(unknown))
    return _events(joined, "card", joined.column("name"), "merchant:", joined.column("merchant_id"))


def _entry_evidence(records: SubjectRecords) -> pa.Table:
    logs = _dedupe_sorted(
        records.entry_logs.select(["ts", "venue_id", "venue_name", "lat", "lon"]),
        ["ts", "venue_id", "venue_name", "lat", "lon"],
    )
    return _events(logs, "entry", logs.column("venue_name"), "venue:", logs.column("venue_id"))


def _evidence(events: pa.Table, projection: LocalProjection, params: TrajectoryParams) -> Evidence:
    events = events.sort_by([("ts", "ascending")])
    x, y = projection.to_xy(_floats(events.column("lat")), _floats(events.column("lon")))
    return Evidence(
        t=micros(events.column("ts")),
        x=x,
        y=y,
        radius=np.full(events.num_rows, params.evidence_radius_m),
        source=_strings(events.column("source")),
        name=_strings(events.column("name")),
        place=_strings(events.column("place")),
    )


def _rides(records: SubjectRecords, projection: LocalProjection, notes: list[str]) -> list[Ride]:
    """Pair each tap in with the next tap out of the same card; a lone tap is a zero-length ride."""
    taps = _dedupe_sorted(
        records.transit_taps.select(
            ["issuer", "card_id", "ts", "stop_name", "lat", "lon", "mode", "tap"]
        ),
        ["issuer", "card_id", "ts", "stop_name", "lat", "lon", "mode", "tap"],
    )
    taps = taps.sort_by([("issuer", "ascending"), ("card_id", "ascending"), ("ts", "ascending")])
    x, y = projection.to_xy(_floats(taps.column("lat")), _floats(taps.column("lon")))
    t = micros(taps.column("ts"))
    card = _strings(pc.binary_join_element_wise(taps.column("issuer"), taps.column("card_id"), ":"))
    kind, mode, stop = (_strings(taps.column(c)) for c in ("tap", "mode", "stop_name"))
    rides: list[Ride] = []
    lone = 0
    i = 0
    while i < len(t):  # a handful of taps a day: a plain loop is clearest
        pairs = (
            i + 1 < len(t) and kind[i] == "in" and kind[i + 1] == "out" and card[i] == card[i + 1]
        )
        j = i + 1 if pairs else i
        lone += not pairs
        rides.append(
            Ride(int(t[i]), int(t[j]), (x[i], y[i]), (x[j], y[j]), stop[i], stop[j], mode[i])
        )
        i = j + 1
    if lone:
        notes.append(f"{lone} transit taps without a matching tap in/out")
    return sorted(rides, key=lambda ride: ride.t_in)


def _speed_outliers(track: CellTrack, params: TrajectoryParams) -> np.ndarray:
    """Records that imply an impossible speed both to and from their neighbours,
    while the neighbours agree with each other: a far cell between two near ones."""
    n = len(track)
    bad = np.zeros(n, dtype=bool)
    if n < 3:
        return bad
    max_speed = params.max_speed_kmh / 3.6  # m/s

    def too_fast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        gap = np.hypot(track.x[a] - track.x[b], track.y[a] - track.y[b])
        gap = np.maximum(gap - track.radius[a] - track.radius[b], 0.0)
        seconds = np.maximum(np.abs(track.t[b] - track.t[a]) / 1e6, 60.0)
        return gap / seconds > max_speed

    middle = np.arange(1, n - 1)
    bad[middle] = (
        too_fast(middle - 1, middle)
        & too_fast(middle, middle + 1)
        & ~too_fast(middle - 1, middle + 1)
    )
    return bad


def _projection_for(*tables: pa.Table) -> LocalProjection:
    """Centred on the subject's own records, so distances are true where they were."""
    lat = np.concatenate([_floats(t.column("lat")) for t in tables])
    lon = np.concatenate([_floats(t.column("lon")) for t in tables])
    return LocalProjection.around(lat, lon)


def build_timeline(records: SubjectRecords, params: TrajectoryParams) -> Timeline:
    notes: list[str] = []
    telecom = _join_cells(records, notes)
    events = pa.concat_tables([_card_evidence(records, notes), _entry_evidence(records)])
    gps = records.gps_points.sort_by([("ts", "ascending")])
    projection = _projection_for(telecom, events, gps, records.transit_taps)
    x, y = projection.to_xy(_floats(telecom.column("lat")), _floats(telecom.column("lon")))
    cell_keys = _strings(
        pc.binary_join_element_wise(telecom.column("carrier"), telecom.column("cell_id"), ":")
    )
    track = CellTrack(
        micros(telecom.column("ts")), x, y, _floats(telecom.column("radius_m")), cell_keys
    )
    bad = _speed_outliers(track, params)
    outliers = [
        Outlier(
            int(track.t[i]),
            float(track.x[i]),
            float(track.y[i]),
            track.cell_id[i],
            "implies an impossible speed from and to its neighbours",
        )
        for i in np.flatnonzero(bad)
    ]
    if outliers:
        notes.append(f"{len(outliers)} telecom records dropped as outliers (impossible speed)")
    return Timeline(
        person_ref=records.person_ref,
        projection=projection,
        cells=track.take(np.flatnonzero(~bad)),
        evidence=_evidence(events, projection, params),
        rides=_rides(records, projection, notes),
        gps=gps,
        outliers=outliers,
        notes=notes,
    )
