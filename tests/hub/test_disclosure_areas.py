"""Neighbourhoods from the administrator's outlines of the city (disclosure.areas)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epitrace.hub.disclosure import areas


def square(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def feature(name: str, geometry: dict) -> dict:
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


CITY = {
    "type": "FeatureCollection",
    "features": [
        # A gu, and a dong inside it with a hole (a park that belongs to nobody here).
        feature("Jung-gu", {"type": "Polygon", "coordinates": [square(128.5, 35.8, 128.7, 36.0)]}),
        feature(
            "Samdeok-dong",
            {
                "type": "Polygon",
                "coordinates": [
                    square(128.60, 35.86, 128.62, 35.88),
                    square(128.605, 35.865, 128.607, 35.867),
                ],
            },
        ),
        # Two islands of one dong.
        feature(
            "Dokdo-dong",
            {
                "type": "MultiPolygon",
                "coordinates": [
                    [square(131.86, 37.23, 131.87, 37.24)],
                    [square(131.87, 37.24, 131.88, 37.25)],
                ],
            },
        ),
        feature("", {"type": "Polygon", "coordinates": [square(0, 0, 1, 1)]}),  # no name
        feature("A road", {"type": "LineString", "coordinates": [[128.6, 35.87], [128.7, 35.9]]}),
    ],
}


def test_the_smallest_named_area_around_a_place() -> None:
    known = areas.areas_of(CITY)
    assert [a.name for a in known] == ["Dokdo-dong", "Samdeok-dong", "Jung-gu"]
    assert areas.neighbourhood_of(35.87, 128.61, known) == "Samdeok-dong"
    assert areas.neighbourhood_of(35.866, 128.606, known) == "Jung-gu"  # in the hole
    assert areas.neighbourhood_of(35.95, 128.55, known) == "Jung-gu"
    assert areas.neighbourhood_of(37.245, 131.875, known) == "Dokdo-dong"
    assert areas.neighbourhood_of(10.0, 10.0, known) == ""
    assert areas.neighbourhood_of(None, 128.61, known) == ""


def test_outlines_come_from_the_maps_base_setting(
    tmp_path: Path, settings: pytest.FixtureRequest
) -> None:
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(CITY))
    settings.EPITRACE_MAP_BASE_GEOJSON = str(path)  # type: ignore[attr-defined]
    assert areas.neighbourhood_of(35.87, 128.61) == "Samdeok-dong"
    settings.EPITRACE_MAP_BASE_GEOJSON = str(tmp_path / "missing.geojson")  # type: ignore[attr-defined]
    assert areas.neighbourhood_of(35.87, 128.61) == ""
