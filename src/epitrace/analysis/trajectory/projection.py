"""A local metric projection around a subject's records, for distances in metres."""

from __future__ import annotations

import numpy as np
from pyproj import Transformer


class LocalProjection:
    """Azimuthal equidistant projection centred on a point: true distances from it,
    and errors under 0.1% within 50 km, anywhere on Earth (no UTM zone to pick)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        aeqd = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m"
        self._forward = Transformer.from_crs("EPSG:4326", aeqd, always_xy=True)
        self._inverse = Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True)

    @classmethod
    def around(cls, lat: np.ndarray, lon: np.ndarray) -> LocalProjection:
        if len(lat) == 0:
            return cls(0.0, 0.0)
        return cls(float(np.median(lat)), float(np.median(lon)))

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._forward.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x, float), np.asarray(y, float)

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inverse.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lat, float), np.asarray(lon, float)
