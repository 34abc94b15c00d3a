"""District outlines for a map view: the level that suits the zoom, Korean names, label
points inside their district, valid simplified shapes, nothing at sea."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely

from epitrace.geography import ATTRIBUTION, district_outlines, locate
from epitrace.geography.districts import district_layer
from epitrace.geography.outlines import (
    InvalidView,
    feature_collection,
    level_for_zoom,
    tolerance_deg,
)

DAEGU_CENTRE = (128.6014, 35.8714)  # lon, lat: 대구광역시 중구 동인동1가


def view_around(lon: float, lat: float, zoom: float, width_px: int = 1000, height_px: int = 600):
    """The bbox a MapLibre map of that many pixels shows around a point at ``zoom``."""
    per_px = 360.0 / (512 * 2**zoom)
    half_w = width_px / 2 * per_px
    half_h = height_px / 2 * per_px * math.cos(math.radians(lat))
    return (lon - half_w, lat - half_h, lon + half_w, lat + half_h)


def test_a_city_view_names_its_neighbourhoods_in_korean() -> None:
    view = district_outlines(view_around(*DAEGU_CENTRE, 13), 13)
    assert view.level == "emd"
    names = {d.name for d in view.districts}
    assert {"동인동1가", "삼덕동1가"} <= names
    dongin = next(d for d in view.districts if d.name == "동인동1가")
    assert dongin.full_name == "대구광역시 중구 동인동1가"
    assert dongin.code == "27110101"
    # The 시군구 around them come as the bolder boundaries of the level above.
    assert view.parents and {p.level for p in view.parents} == {"sigungu"}
    assert "중구" in {p.name for p in view.parents}


def test_every_label_lies_in_its_own_district() -> None:
    view = district_outlines(view_around(*DAEGU_CENTRE, 12), 12)
    labelled = [d for d in view.districts if d.label is not None]
    assert len(labelled) > 20
    lon, lat = np.array([d.label for d in labelled]).T
    found = locate(lat, lon).column("emd_code").to_pylist()
    assert found == [d.code for d in labelled]


@pytest.mark.parametrize(
    ("zoom", "level", "expected"),
    [(6, "sido", "대구광역시"), (9, "sigungu", "수성구"), (12, "emd", "동인동1가")],
)
def test_the_level_follows_the_zoom(zoom: float, level: str, expected: str) -> None:
    view = district_outlines(view_around(*DAEGU_CENTRE, zoom), zoom)
    assert view.level == level == level_for_zoom(zoom)
    assert expected in {d.name for d in view.districts}
    assert all(d.level == level for d in view.districts)


def test_thresholds_between_levels() -> None:
    assert [level_for_zoom(z) for z in (0, 7.99, 8, 10.99, 11, 18)] == [
        "sido",
        "sido",
        "sigungu",
        "sigungu",
        "emd",
        "emd",
    ]


@pytest.mark.parametrize(
    "bbox",
    [(124.9, 34.9, 125.1, 35.1), (131.4, 37.4, 131.6, 37.6), (139.6, 35.6, 139.8, 35.8)],
    ids=["yellow-sea", "east-sea", "tokyo"],
)
def test_a_view_at_sea_or_abroad_shows_none(bbox: tuple[float, float, float, float]) -> None:
    view = district_outlines(bbox, 12)
    assert view.districts == [] and view.parents == []
    assert json.loads(feature_collection(view))["features"] == []


@pytest.mark.parametrize(
    ("centre", "zoom"),
    [(DAEGU_CENTRE, 12), ((128.43, 34.84), 10), ((128.43, 34.84), 12), ((127.8, 36.0), 6)],
    ids=["daegu", "tongyeong-islands-sigungu", "tongyeong-islands-emd", "whole-country"],
)
def test_simplified_shapes_stay_valid_and_inside_the_view(
    centre: tuple[float, float], zoom: int
) -> None:
    bbox = view_around(*centre, zoom)
    view = district_outlines(bbox, zoom)
    shapes = np.array([d.shape for d in view.districts + view.parents])
    assert shapes.size > 0
    assert shapely.is_valid(shapes).all()
    assert set(shapely.get_type_id(shapes)) <= {3, 6}  # polygons only
    assert shapely.contains(shapely.box(*bbox).buffer(1e-9), shapes).all()


def test_simplification_keeps_each_district_and_drops_most_vertices() -> None:
    bbox = view_around(127.8, 36.0, 7)  # the whole peninsula's south
    view = district_outlines(bbox, 7)
    layer = district_layer("sido")
    codes = layer.districts.column("sido_code").to_pylist()
    originals = [
        shapely.clip_by_rect(layer.shapes[codes.index(d.code)], *bbox) for d in view.districts
    ]
    # Same places: no simplified outline strays more than two pixels from its district
    # (half a pixel of simplification, holes under two pixels square filled), and together
    # they cover nearly all of it (only islets under two pixels square go).
    two_pixels = 4 * tolerance_deg(7)
    for district, original in zip(view.districts, originals, strict=True):
        assert shapely.covers(original.buffer(two_pixels), district.shape)
    kept = sum(
        shapely.area(shapely.intersection(d.shape, o))
        for d, o in zip(view.districts, originals, strict=True)
    )
    assert kept / sum(shapely.area(o) for o in originals) > 0.98
    before = sum(
        shapely.get_num_coordinates(shapely.clip_by_rect(layer.shapes[codes.index(d.code)], *bbox))
        for d in view.districts
    )
    after = sum(shapely.get_num_coordinates(d.shape) for d in view.districts)
    assert after < before / 10


def test_the_geojson_has_areas_labels_and_parents() -> None:
    view = district_outlines(view_around(*DAEGU_CENTRE, 13), 13)
    features = json.loads(feature_collection(view, label=lambda name: f"<{name}>"))["features"]
    roles = {f["properties"]["role"] for f in features}
    assert roles == {"area", "label", "parent"}
    label = next(
        f
        for f in features
        if f["properties"]["code"] == "27110101" and f["properties"]["role"] == "label"
    )
    assert label["geometry"]["type"] == "Point"
    assert label["properties"]["name"] == "<동인동1가>"
    assert label["properties"]["full_name"] == "대구광역시 중구 동인동1가"


def test_a_bbox_that_is_no_box_is_refused() -> None:
    with pytest.raises(InvalidView):
        district_outlines((129.0, 35.0, 128.0, 36.0), 12)
    with pytest.raises(InvalidView):
        district_outlines((128.0, 35.0, 129.0, 36.0), float("nan"))


def test_attribution_names_the_source_and_its_date() -> None:
    assert "NGII" in ATTRIBUTION and "2023-09-15" in ATTRIBUTION
