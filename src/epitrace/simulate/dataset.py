"""The output folder: refusing foreign folders, replacing old runs, the manifest.

A dataset is complete when ``manifest.json`` exists: it is written last. While
a run is under way a marker file says so, so that a crashed run's folder can be
written again but is never taken for a finished dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from epitrace.errors import UsageMistake
from epitrace.formats.schemas import TABLES, table

MANIFEST = "manifest.json"
IN_PROGRESS = ".epitrace-simulation-in-progress"
GENERATOR = "epitrace simulate"


class OutputFolderError(UsageMistake, ValueError):
    """The output folder cannot take a simulated dataset."""


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a complete simulated dataset in ``folder``, else None."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR else None
    )


def _dataset_files(folder: Path) -> list[Path]:
    files = []
    for name in TABLES:
        for ext in ("csv", "parquet", "csv.partial", "parquet.partial"):
            path = folder / table(name).folder / f"{name}.{ext}"
            if path.exists():
                files.append(path)
    return files


def prepare_output_folder(folder: Path) -> None:
    """Make ``folder`` ready for a new dataset, or refuse with a clear reason.

    Accepted: a missing or empty folder, a previous epitrace dataset (complete
    or interrupted), whose tables are then removed. Anything else is refused so
    that a typo in --out never overwrites someone's files.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} is a file; --out must be a folder")
    if folder.is_dir() and any(folder.iterdir()):
        previous = read_manifest(folder) is not None or (folder / IN_PROGRESS).exists()
        if not previous:
            raise OutputFolderError(
                f"{folder} is not empty and does not hold an epitrace dataset "
                f"(no {MANIFEST}); choose a new or empty folder"
            )
        # Manifest first: from here on the folder no longer claims to be complete.
        (folder / MANIFEST).unlink(missing_ok=True)
        (folder / IN_PROGRESS).write_text("simulation in progress\n", encoding="utf-8")
        for path in _dataset_files(folder):
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / IN_PROGRESS).write_text("simulation in progress\n", encoding="utf-8")


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest atomically, then drop the in-progress marker."""
    folder = Path(folder)
    path = folder / MANIFEST
    partial = folder / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    (folder / IN_PROGRESS).unlink(missing_ok=True)
    return path
