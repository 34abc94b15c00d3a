"""Outbreak hotspots: Kulldorff's space-time permutation scan statistic.

``find_hotspots(cases, ScanParams(...))`` returns the ``hotspots`` table;
``scan_hotspots`` keeps the details. ``ScanParams`` (``params.py``) holds the
scan's settings. ``grid_counts`` and ``gi_star`` (``grid.py``) are the quick
view: counts on a grid per day and Getis-Ord Gi* hot cells.

Importing this package, ``params`` or ``case_events`` does not load Numba:
the scans (and their compiled kernels) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from epitrace.analysis.hotspots.params import ScanParams

if TYPE_CHECKING:
    from epitrace.analysis.hotspots.clusters import (
        Cluster,
        HotspotScan,
        find_hotspots,
        scan_hotspots,
    )
    from epitrace.analysis.hotspots.grid import gi_star, grid_counts
    from epitrace.analysis.hotspots.population import scan_population

# Name -> the module of this package that defines it, imported when first asked for.
_DEFINED_IN = {
    "Cluster": "clusters",
    "HotspotScan": "clusters",
    "find_hotspots": "clusters",
    "scan_hotspots": "clusters",
    "gi_star": "grid",
    "grid_counts": "grid",
    "scan_population": "population",
}


def __getattr__(name: str) -> Any:
    if name not in _DEFINED_IN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_DEFINED_IN[name]}"), name)


__all__ = [
    "Cluster",
    "HotspotScan",
    "ScanParams",
    "find_hotspots",
    "gi_star",
    "grid_counts",
    "scan_hotspots",
    "scan_population",
]
