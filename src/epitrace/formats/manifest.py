"""A dataset folder's ``manifest.json``: the settings its tables were written in.

A simulated dataset says, under ``config``, the time zone its local times
follow (``config.timezone``) and the projected CRS its metres are measured in
(``config.projected_crs``) (spec/data-formats.md). Other datasets may have no
manifest at all: then the fields are None and each reader decides its default
(``epitrace.defaults``, or UTC for output times).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DatasetManifest:
    """What a dataset's manifest says; None where it says nothing (or is missing)."""

    tz: str | None = None
    projected_crs: str | None = None


def read_manifest(folder: Path) -> DatasetManifest:
    """``folder``'s manifest; an absent or unreadable one says nothing."""
    try:
        config = json.loads((folder / MANIFEST).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return DatasetManifest()
    if not isinstance(config, dict):
        return DatasetManifest()
    return DatasetManifest(
        tz=str(config["timezone"]) if "timezone" in config else None,
        projected_crs=str(config["projected_crs"]) if "projected_crs" in config else None,
    )
