"""Outbreak hotspots: Kulldorff's space-time permutation scan statistic.

``find_hotspots(cases)`` returns the ``hotspots`` table; ``scan_hotspots``
keeps the details. See ``clusters.find_hotspots`` for the parameters.
"""

from epitrace.analysis.hotspots.clusters import (
    Cluster,
    HotspotScan,
    find_hotspots,
    scan_hotspots,
)

__all__ = ["Cluster", "HotspotScan", "find_hotspots", "scan_hotspots"]
