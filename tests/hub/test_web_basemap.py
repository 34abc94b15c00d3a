"""The maps' base layer: Korea's district outlines per view, served by the hub to signed-in
accounts, cached in memory and by the browser; the administrator's overlay still works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from epitrace.hub.accounts.models import Role
from epitrace.hub.web import basemap

pytestmark = pytest.mark.django_db

# About what the case page shows of central Daegu at zoom 13 (대구광역시 중구).
DAEGU_VIEW = "bbox=128.575,35.855,128.628,35.888&zoom=13.2"


def features(answer: Any) -> list[dict[str, Any]]:
    return json.loads(answer.content)["features"]


def test_a_signed_in_account_gets_the_neighbourhoods_of_its_view(
    make_account: Any, signed_in: Any
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    answer = client.get(f"/map/outlines.geojson?{DAEGU_VIEW}&lang=ko")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/geo+json"
    body = json.loads(answer.content)
    assert body["level"] == "emd" and "NGII" in body["attribution"]
    labels = {
        f["properties"]["name"] for f in body["features"] if f["properties"]["role"] == "label"
    }
    assert {"동인동1가", "삼덕동1가"} <= labels
    parents = {
        f["properties"]["name"] for f in body["features"] if f["properties"]["role"] == "parent"
    }
    assert "중구" in parents
    west, south, east, north = body["bbox"]  # the answer covers at least the view asked
    assert west <= 128.575 and south <= 35.855 and east >= 128.628 and north >= 35.888


def test_a_country_view_shows_the_provinces(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.AUDITOR))
    answer = client.get("/map/outlines.geojson?bbox=124.5,33,131,38.7&zoom=6.5&lang=ko")
    body = json.loads(answer.content)
    assert body["level"] == "sido"
    names = {
        f["properties"]["name"] for f in body["features"] if f["properties"]["role"] == "label"
    }
    assert {"서울특별시", "대구광역시", "제주특별자치도"} <= names


def test_anonymous_and_half_signed_in_users_are_refused(make_account: Any, signed_in: Any) -> None:
    assert Client().get(f"/map/outlines.geojson?{DAEGU_VIEW}").status_code == 401
    half = signed_in(make_account(Role.NATIONAL_INVESTIGATOR), second_factor=False)
    assert half.get(f"/map/outlines.geojson?{DAEGU_VIEW}").status_code == 401


@pytest.mark.parametrize(
    "query",
    ["", "bbox=1,2,3&zoom=4", "bbox=129,35,128,36&zoom=12", "bbox=128,35,129,36&zoom=nan"],
    ids=["nothing", "three-numbers", "west-east-swapped", "zoom-nan"],
)
def test_a_malformed_view_is_a_bad_request(make_account: Any, signed_in: Any, query: str) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    assert client.get(f"/map/outlines.geojson?{query}").status_code == 400


def test_views_at_sea_are_empty(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    for bbox in ("124.6,33.6,124.7,33.7", "139.6,35.6,139.8,35.8"):
        answer = client.get(f"/map/outlines.geojson?bbox={bbox}&zoom=12")
        assert answer.status_code == 200 and features(answer) == []


def test_answers_are_cached_in_memory_and_by_the_browser(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    basemap.outlines_answer.cache_clear()
    first = client.get(f"/map/outlines.geojson?{DAEGU_VIEW}&lang=ko")
    # A small pan stays in the same snapped view: the same answer, from memory.
    panned = client.get(
        "/map/outlines.geojson?bbox=128.578,35.856,128.631,35.889&zoom=13.4&lang=ko"
    )
    info = basemap.outlines_answer.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert panned.content == first.content
    assert first.headers["Cache-Control"] == "private, max-age=86400"
    again = client.get(
        f"/map/outlines.geojson?{DAEGU_VIEW}&lang=ko", HTTP_IF_NONE_MATCH=first.headers["ETag"]
    )
    assert again.status_code == 304 and again.content == b""
    # Another zoom is another answer.
    client.get("/map/outlines.geojson?bbox=128.5,35.8,128.7,35.95&zoom=10&lang=ko")
    assert basemap.outlines_answer.cache_info().misses == 2


def test_the_administrators_overlay_is_still_served(
    make_account: Any, signed_in: Any, settings: Any, tmp_path: Path
) -> None:
    overlay = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Ward 7"},
                "geometry": {"type": "Point", "coordinates": [128.6, 35.87]},
            }
        ],
    }
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(overlay))
    settings.EPITRACE_MAP_BASE_GEOJSON = str(path)
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    assert json.loads(client.get("/map/base.geojson").content) == overlay
    assert Client().get("/map/base.geojson").status_code == 401


def test_english_pages_read_the_names_romanised(make_account: Any, signed_in: Any) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    body = json.loads(client.get(f"/map/outlines.geojson?{DAEGU_VIEW}&lang=en").content)
    parents = {
        f["properties"]["name"] for f in body["features"] if f["properties"]["role"] == "parent"
    }
    assert "Jung-gu" in parents
    # The full Korean name stays with each feature, whatever the page's language.
    assert any(
        f["properties"]["full_name"] == "대구광역시 중구 동인동1가" for f in body["features"]
    )
