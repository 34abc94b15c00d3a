"""The neighbourhood a place lies in, from the administrator's outlines of the city.

``EPITRACE_MAP_BASE_GEOJSON`` (the maps' offline base, docs/web.md) may hold areas:
Polygon or MultiPolygon features with a ``name``. A place gets the name of the
smallest area around it (a dong inside its gu), which is never finer than the
guideline allows. Without outlines, or outside all of them, the reviewer types it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

Ring = Sequence[Sequence[float]]  # [[lon, lat], ...], closed or not


@dataclass(frozen=True)
class Area:
    name: str
    polygons: tuple[tuple[Ring, ...], ...]  # each: outer ring, then holes
    size: float  # in square degrees: only to prefer the smaller of nested areas


def _inside(ring: Ring, lon: float, lat: float) -> bool:
    """Even-odd ray casting (degrees are fine at a city's scale)."""
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i][0], ring[i][1]
        x2, y2 = ring[(i + 1) % n][0], ring[(i + 1) % n][1]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _ring_size(ring: Ring) -> float:
    return abs(
        sum(
            ring[i][0] * ring[(i + 1) % len(ring)][1] - ring[(i + 1) % len(ring)][0] * ring[i][1]
            for i in range(len(ring))
        )
        / 2
    )


def contains(area: Area, lon: float, lat: float) -> bool:
    return any(
        _inside(rings[0], lon, lat) and not any(_inside(hole, lon, lat) for hole in rings[1:])
        for rings in area.polygons
    )


def areas_of(collection: dict[str, Any]) -> list[Area]:
    """The named Polygon and MultiPolygon features of a GeoJSON FeatureCollection."""
    found = []
    for feature in collection.get("features", []):
        geometry = feature.get("geometry") or {}
        name = str((feature.get("properties") or {}).get("name") or "").strip()
        kind = geometry.get("type")
        if not name or kind not in ("Polygon", "MultiPolygon"):
            continue
        polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
        polygons = tuple(tuple(rings) for rings in polygons if rings)
        size = sum(_ring_size(rings[0]) for rings in polygons)
        found.append(Area(name, polygons, size))
    return sorted(found, key=lambda a: a.size)


@cache
def _configured(path: str) -> tuple[Area, ...]:
    if not path:
        return ()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return ()
    return tuple(areas_of(data)) if isinstance(data, dict) else ()


def neighbourhood_of(lat: float | None, lon: float | None, areas: Sequence[Area] = ()) -> str:
    """The smallest named area around (lat, lon), '' if none (or no outlines set)."""
    if lat is None or lon is None:
        return ""
    for area in areas or _configured(settings.EPITRACE_MAP_BASE_GEOJSON):
        if contains(area, lon, lat):
            return area.name
    return ""
