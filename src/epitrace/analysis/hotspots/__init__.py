"""Outbreak hotspots: Kulldorff's space-time permutation scan statistic.

``find_hotspots(cases)`` returns the ``hotspots`` table; ``scan_hotspots``
keeps the details. See ``clusters.find_hotspots`` for the parameters.
``grid_counts`` and ``gi_star`` (``grid.py``) are the quick view: counts on a
grid per day and Getis-Ord Gi* hot cells.
"""

from epitrace.analysis.hotspots.clusters import (
    Cluster,
    HotspotScan,
    find_hotspots,
    scan_hotspots,
)
from epitrace.analysis.hotspots.grid import gi_star, grid_counts
from epitrace.analysis.hotspots.population import scan_population

__all__ = [
    "Cluster",
    "HotspotScan",
    "find_hotspots",
    "gi_star",
    "grid_counts",
    "scan_hotspots",
    "scan_population",
]
