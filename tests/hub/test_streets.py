"""The street basemap: the operator's PMTiles archive, served in byte ranges to signed-in
accounts, read by a PMTiles client exactly as MapLibre's protocol reads it."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from django.test import Client
from pmtiles.reader import Reader
from street_archive import tile_of, write_street_archive

from epitrace.hub.accounts.models import Role
from epitrace.hub.web.streets import LONGEST_RANGE, requested_range

pytestmark = pytest.mark.django_db

SEOUL_CITY_HALL = (37.5663, 126.9779)


@pytest.fixture
def investigator(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> Client:
    return signed_in(make_account(Role.NATIONAL_INVESTIGATOR))


@pytest.fixture
def archive(tmp_path: Path, settings: Any) -> Path:
    path = write_street_archive(tmp_path / "korea.pmtiles", *SEOUL_CITY_HALL)
    settings.EPITRACE_MAP_PMTILES = str(path)
    return path


def test_a_pmtiles_client_reads_the_streets_through_range_requests(
    investigator: Client, archive: Path
) -> None:
    asked: list[int] = []

    def get_bytes(offset: int, length: int) -> bytes:
        answer = investigator.get(
            "/map/streets.pmtiles", HTTP_RANGE=f"bytes={offset}-{offset + length - 1}"
        )
        assert answer.status_code == 206
        asked.append(length)
        return answer.content

    reader = Reader(get_bytes)
    assert reader.header()["center_zoom"] == 10
    x, y = tile_of(*SEOUL_CITY_HALL, 14)
    tile = mapbox_vector_tile.decode(gzip.decompress(reader.get(14, x, y)))
    names = [feature["properties"].get("name") for feature in tile["roads"]["features"]]
    assert "중앙대로" in names
    assert max(asked) < archive.stat().st_size  # parts, never the whole file


def test_ranges_are_answered_with_their_place_in_the_file(
    investigator: Client, archive: Path
) -> None:
    size = archive.stat().st_size
    head = investigator.get("/map/streets.pmtiles", HTTP_RANGE="bytes=0-126")
    assert head.status_code == 206 and head.content[:8] == b"PMTiles\x03"
    assert head["Content-Range"] == f"bytes 0-126/{size}" and head["Accept-Ranges"] == "bytes"
    assert head["Content-Type"] == "application/vnd.pmtiles" and head["ETag"]
    whole = investigator.get("/map/streets.pmtiles")
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == archive.read_bytes()
    past = investigator.get("/map/streets.pmtiles", HTTP_RANGE=f"bytes={size}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{size}"


def test_the_streets_are_for_signed_in_accounts_only(archive: Path) -> None:
    assert Client().get("/map/streets.pmtiles", HTTP_RANGE="bytes=0-126").status_code == 401


def test_no_archive_configured_is_not_found(investigator: Client, settings: Any) -> None:
    settings.EPITRACE_MAP_PMTILES = ""
    assert investigator.get("/map/streets.pmtiles").status_code == 404
    settings.EPITRACE_MAP_PMTILES = "/nonexistent/korea.pmtiles"
    assert investigator.get("/map/streets.pmtiles").status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=990-2000", (990, 999)),
        ("bytes=1000-", None),
        ("bytes=5-4", None),
        ("bytes=-", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_a_byte_range_is_read_as_rfc_9110_says(
    header: str, expected: tuple[int, int] | None
) -> None:
    assert requested_range(header, 1000) == expected


def test_a_long_range_is_cut_to_what_is_answered_at_once() -> None:
    assert requested_range("bytes=0-", 10 * LONGEST_RANGE) == (0, LONGEST_RANGE - 1)
