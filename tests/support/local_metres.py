"""Synthetic coordinates for the hotspot tests: metres north and east of Seoul
City Hall as latitude and longitude (a local equirectangular approximation,
good to centimetres over the few kilometres the tests span).

Importable by every test module (``pythonpath`` in pyproject.toml): the
``tests`` package name itself is taken by an installed package.
"""

from __future__ import annotations

import math

import numpy as np

SEOUL_LAT, SEOUL_LON = 37.5665, 126.9780
METRES_PER_DEGREE_LAT = 111_320.0


def degrees(north_m: np.ndarray, east_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of points ``north_m`` and ``east_m`` metres from Seoul City Hall."""
    east_scale = METRES_PER_DEGREE_LAT * math.cos(math.radians(SEOUL_LAT))
    return (
        SEOUL_LAT + np.asarray(north_m) / METRES_PER_DEGREE_LAT,
        SEOUL_LON + np.asarray(east_m) / east_scale,
    )
