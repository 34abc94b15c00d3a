"""Metric coordinates around the city centre, real districts, and nearest-point lookup.

Places lie on land: each is drawn in metres around the centre and drawn again
while ``epitrace.geography.locate`` finds no 읍면동 at its coordinates (at sea,
outside Korea), so the city can be centred on a coastal city as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

from epitrace.errors import UserInputError
from epitrace.geography import locate
from epitrace.simulate.config import SimulationConfig

# A point is drawn again when it lies at sea or outside Korea; after this many rounds the
# centre is too far from land for a city (e.g. a centre at sea).
MAX_DRAWS = 100


class CentreNotOnLand(UserInputError, ValueError):
    """The city cannot be laid out on land around its centre (a centre at sea, abroad)."""


@dataclass(frozen=True)
class CityFrame:
    """Projection between WGS 84 and metres east/north of the city centre."""

    centre_x: float
    centre_y: float
    to_metric: Transformer
    to_wgs84: Transformer

    @classmethod
    def of(cls, config: SimulationConfig) -> CityFrame:
        to_metric = Transformer.from_crs("EPSG:4326", config.projected_crs, always_xy=True)
        to_wgs84 = Transformer.from_crs(config.projected_crs, "EPSG:4326", always_xy=True)
        cx, cy = to_metric.transform(config.centre_lon, config.centre_lat)
        return cls(float(cx), float(cy), to_metric, to_wgs84)

    def lat_lon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS 84 (lat, lon) of points given in metres from the centre."""
        lon, lat = self.to_wgs84.transform(
            np.asarray(x) + self.centre_x, np.asarray(y) + self.centre_y
        )
        return np.round(np.asarray(lat, dtype=float), 7), np.round(np.asarray(lon, dtype=float), 7)


def on_land(frame: CityFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per point (metres from the centre), whether a Korean 읍면동 holds it."""
    return locate(*frame.lat_lon(x, y)).column("emd_code").is_valid().to_numpy(zero_copy_only=False)


def draw_on_land(
    frame: CityFrame, draw: Callable[[int], tuple[np.ndarray, np.ndarray]], count: int
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points from ``draw(n)``, each drawn again until it lies on land.

    Deterministic for a seeded ``draw``. Raises CentreNotOnLand if some point is
    still at sea after MAX_DRAWS rounds.
    """
    x, y = draw(count)
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    for _ in range(MAX_DRAWS):
        at_sea = np.flatnonzero(~on_land(frame, x, y))
        if at_sea.size == 0:
            return x, y
        x[at_sea], y[at_sea] = draw(at_sea.size)
    lat, lon = frame.lat_lon(0.0, 0.0)
    raise CentreNotOnLand(
        f"no land for {at_sea.size} places around the centre {lat:.4f}, {lon:.4f}: "
        "centre the city on a Korean city"
    )


def points_around_centre(
    rng: np.random.Generator, n: int, scale_m: float, radius_m: float, even_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Points with density ~ exp(-distance/scale) (a share spread evenly), within radius."""
    # Radial distance of a 2-D exponential density is gamma(2, scale); redraw beyond the edge.
    r = rng.gamma(2.0, scale_m, n)
    r = np.where(r > radius_m, rng.uniform(0, 1, n) ** 0.5 * radius_m, r)
    even = rng.random(n) < even_share
    r = np.where(even, rng.uniform(0, 1, n) ** 0.5 * radius_m, r)
    angle = rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(angle), r * np.sin(angle)


class NearestLookup:
    """Nearest and second-nearest of a set of points, by a raster precomputed once.

    Millions of handset positions a day need their nearest antenna; a raster of
    ``pixel_m`` pixels answers each in O(1). Positions off the raster use its edge.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, half_width_m: float, pixel_m: float) -> None:
        self.pixel_m = pixel_m
        self.half_width_m = half_width_m
        self.size = int(np.ceil(2 * half_width_m / pixel_m))
        centres = (np.arange(self.size) + 0.5) * pixel_m - half_width_m
        gx, gy = np.meshgrid(centres, centres)  # row = y, column = x
        points = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        k = 2 if len(points) >= 2 else 1
        _, nearest = cKDTree(points).query(np.column_stack([gx.ravel(), gy.ravel()]), k=k)
        nearest = nearest.reshape(gx.size, k).astype(np.int32)
        self.first = nearest[:, 0]
        self.second = nearest[:, k - 1]

    def _pixel(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col = np.clip(((x + self.half_width_m) / self.pixel_m).astype(np.int64), 0, self.size - 1)
        row = np.clip(((y + self.half_width_m) / self.pixel_m).astype(np.int64), 0, self.size - 1)
        return row * self.size + col

    def nearest(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.first[self._pixel(x, y)]

    def second_nearest(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.second[self._pixel(x, y)]
