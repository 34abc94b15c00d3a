"""A dataset's manifest: the zone and projection its tables were written in."""

from __future__ import annotations

import json
from pathlib import Path

from epitrace.formats.manifest import DatasetManifest, read_manifest


def test_the_manifest_says_its_zone_and_crs(tmp_path: Path) -> None:
    config = {"timezone": "Europe/London", "projected_crs": "EPSG:27700", "seed": 1}
    (tmp_path / "manifest.json").write_text(json.dumps({"config": config}))
    assert read_manifest(tmp_path) == DatasetManifest("Europe/London", "EPSG:27700")


def test_a_missing_or_unreadable_manifest_says_nothing(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == DatasetManifest(None, None)
    (tmp_path / "manifest.json").write_text("{not json")
    assert read_manifest(tmp_path) == DatasetManifest(None, None)
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"seed": 1}}))
    assert read_manifest(tmp_path) == DatasetManifest(None, None)
