"""A small street basemap written by the tests: a PMTiles archive of vector tiles in the
Protomaps schema (layers ``earth`` and ``roads``), as an operator's Korea extract would
be, around one point. Real Korea extracts are built with Planetiler (docs/operations.md);
the tests write their own so that nothing is downloaded."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import mapbox_vector_tile
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

EXTENT = 4096  # MVT tile coordinates


def tile_of(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """The Web Mercator (slippy map) tile holding a point."""
    n = 2**zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def street_tile(road_name: str) -> bytes:
    """One tile: land everywhere, a major road across it west to east and a minor road
    north to south (tile coordinates, y down as MVT has it)."""
    half = EXTENT // 2
    layers = [
        {
            "name": "earth",
            "features": [
                {
                    "geometry": f"POLYGON ((0 0, {EXTENT} 0, {EXTENT} {EXTENT}, 0 {EXTENT}, 0 0))",
                    "properties": {"kind": "earth"},
                },
            ],
        },
        {
            "name": "roads",
            "features": [
                {
                    "geometry": f"LINESTRING (0 {half}, {EXTENT} {half})",
                    "properties": {"kind": "major_road", "name": road_name, "min_zoom": 5},
                },
                {
                    "geometry": f"LINESTRING ({half} 0, {half} {EXTENT})",
                    "properties": {
                        "kind": "minor_road",
                        "kind_detail": "residential",
                        "min_zoom": 5,
                    },
                },
            ],
        },
    ]
    return gzip.compress(mapbox_vector_tile.encode(layers, default_options={"y_coord_down": True}))


def write_street_archive(
    path: Path, lat: float, lon: float, zooms: range = range(10, 17), road_name: str = "중앙대로"
) -> Path:
    """Write a PMTiles archive whose tiles around (lat, lon) at ``zooms`` hold streets."""
    tiles = {}
    for zoom in zooms:
        x0, y0 = tile_of(lat, lon, zoom)
        for x in range(x0 - 2, x0 + 3):
            for y in range(y0 - 2, y0 + 3):
                tiles[zxy_to_tileid(zoom, x, y)] = street_tile(road_name)
    with write(str(path)) as writer:
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        header = {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_lon_e7": int((lon - 0.1) * 1e7),
            "min_lat_e7": int((lat - 0.1) * 1e7),
            "max_lon_e7": int((lon + 0.1) * 1e7),
            "max_lat_e7": int((lat + 0.1) * 1e7),
            "center_zoom": zooms.start,
            "center_lon_e7": int(lon * 1e7),
            "center_lat_e7": int(lat * 1e7),
        }
        metadata = {
            "name": "epitrace test streets",
            "vector_layers": [{"id": "earth", "fields": {}}, {"id": "roads", "fields": {}}],
        }
        writer.finalize(header, metadata)
    return path
