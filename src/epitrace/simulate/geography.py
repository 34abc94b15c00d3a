"""Metric coordinates around the city centre, districts, and nearest-point lookup."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

from epitrace.simulate.config import SimulationConfig

# Daegu's seven urban districts (gu), as offsets in metres (east, north) of
# their approximate centroids from the city centre; beyond
# ``district_outer_radius_m`` lies the rural county, Dalseong-gun.
URBAN_DISTRICTS: tuple[tuple[str, float, float], ...] = (
    ("Jung-gu", -700.0, -600.0),
    ("Dong-gu", 5_300.0, 6_500.0),
    ("Seo-gu", -4_200.0, 0.0),
    ("Nam-gu", -1_000.0, -3_200.0),
    ("Buk-gu", -1_900.0, 4_300.0),
    ("Suseong-gu", 5_300.0, -4_600.0),
    ("Dalseo-gu", -6_400.0, -4_600.0),
)
RURAL_DISTRICT = "Dalseong-gun"
DISTRICTS: tuple[str, ...] = (*[d[0] for d in URBAN_DISTRICTS], RURAL_DISTRICT)

# Real road names of Daegu, for plausible addresses.
STREETS: tuple[str, ...] = (
    "Dalgubeol-daero",
    "Gukchaebosang-ro",
    "Dongdeok-ro",
    "Jungang-daero",
    "Dalseong-ro",
    "Sincheon-daero",
    "Palgong-ro",
    "Apsan-sunhwan-ro",
    "Hwarang-ro",
    "Taepyeong-ro",
    "Dongdaegu-ro",
    "Suseong-ro",
    "Seongdang-ro",
    "Wolbae-ro",
    "Hakjeong-ro",
    "Gyeongsang-gamyeong-gil",
    "Dongcheon-ro",
    "Wabeol-ro",
    "Seobu-ro",
    "Hyomok-ro",
)


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


def district_of(x: np.ndarray, y: np.ndarray, outer_radius_m: float) -> np.ndarray:
    """Index into DISTRICTS of each point: nearest urban centroid, or the rural county."""
    cx = np.array([d[1] for d in URBAN_DISTRICTS])
    cy = np.array([d[2] for d in URBAN_DISTRICTS])
    nearest = np.argmin((x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2, axis=1)
    rural = np.hypot(x, y) > outer_radius_m
    return np.where(rural, len(URBAN_DISTRICTS), nearest).astype(np.int8)


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
