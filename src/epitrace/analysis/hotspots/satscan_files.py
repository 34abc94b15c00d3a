"""SaTScan's sample files (.cas, .geo, .prm) as a hotspot scan, for validation.

SaTScan ships sample data sets with a parameter file each; the NYC fever one
(``NYCfever.cas``/``.geo``/``.prm``) is a prospective space-time permutation
analysis. ``run_sample(folder)`` reads them, maps the parameters SaTScan used
onto ``scan_hotspots`` and returns the scan with the location ids::

    .venv/bin/python -m epitrace.analysis.hotspots.satscan_files ../shared/data/satscan_nycfever
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from epitrace.analysis.hotspots.clusters import HotspotScan, scan_hotspots
from epitrace.analysis.hotspots.params import ScanParams


def read_parameters(path: Path) -> dict[str, str]:
    """``key=value`` lines of a SaTScan .prm file (sections and comments dropped)."""
    parameters: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith((";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            parameters[key.strip()] = value.strip()
    return parameters


def read_coordinates(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Location ids, latitudes and longitudes of a lat/long .geo file."""
    ids, lat, lon = [], [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields:
            ids.append(fields[0])
            lat.append(float(fields[1]))
            lon.append(float(fields[2]))
    return ids, np.array(lat), np.array(lon)


def read_cases(path: Path) -> list[tuple[str, int, dt.date]]:
    """(location id, number of cases, date) rows of a day-precision .cas file."""
    rows = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields:
            rows.append((fields[0], int(fields[1]), _date(fields[2])))
    return rows


def scan_arguments(parameters: dict[str, str]) -> dict[str, Any]:
    """The ``ScanParams`` fields and study period (``first_day``, ``last_day``)
    equivalent to a .prm's settings.

    Supported: the space-time permutation model (ModelType=2) in a
    retrospective (3) or prospective (4) space-time analysis scanning for
    high rates, with day time aggregation, lat/long coordinates, a maximum
    temporal size in days, a maximum spatial size in % of cases and
    optionally in km. Anything else raises ``ValueError``.
    """
    p = parameters
    _require(p, "ModelType", "2", "space-time permutation model")
    _require(p, "AnalysisType", ("3", "4"), "retrospective or prospective space-time analysis")
    _require(p, "ScanAreas", "1", "scan for high rates")
    _require(p, "TimeAggregationUnits", "3", "time aggregation in days")
    _require(p, "TimeAggregationLength", "1", "one-day time aggregation")
    _require(p, "CoordinatesType", "1", "latitude/longitude coordinates")
    _require(p, "MaxTemporalSizeInterpretation", "1", "maximum temporal size as time")
    _require(p, "MinimumTemporalClusterSize", ("1", None), "minimum temporal size of one day")
    _require(p, "SpatialWindowShapeType", ("0", None), "circular windows")
    _require(p, "TimeTrendAdjustmentType", ("0", None), "no time trend adjustment")
    _require(p, "SpatialAdjustmentType", ("0", None), "no spatial adjustment")
    _require(p, "CriteriaForReportingSecondaryClusters", ("0", None), "no geographical overlap")
    _require(p, "IncludePurelySpatial", ("n", None), "no purely spatial clusters")
    _require(p, "IncludePurelyTemporal", ("n", None), "no purely temporal clusters")
    use_distance = p.get("UseDistanceFromCenterOption", "n") == "y"
    return {
        "prospective": p["AnalysisType"] == "4",
        "first_day": _date(p["StartDate"]),
        "last_day": _date(p["EndDate"]),
        "max_days": int(p["MaxTemporalSize"]),
        "max_share_of_cases": float(p.get("MaxSpatialSizeInPopulationAtRisk", "50")) / 100,
        # Lat/long distances in SaTScan are in kilometres.
        "max_radius_m": float(p["MaxSpatialSizeInDistanceFromCenter"]) * 1000
        if use_distance
        else None,
        "min_cases": int(p.get("MinimumCasesInHighRateClusters", "2")),
        "replications": int(p.get("MonteCarloReps", "999")),
    }


@dataclass(frozen=True)
class SampleScan:
    """A scan of a SaTScan sample with the location ids it was given."""

    scan: HotspotScan
    location_ids: list[str]  # of the .geo file, in the order of the centres
    case_location_ids: list[str]  # of the scan's cells (distinct case locations)
    arguments: dict[str, Any]


def run_sample(folder: Path, *, seed: int = 0, replications: int | None = None) -> SampleScan:
    """Scan the .cas/.geo/.prm triple in ``folder`` with the .prm's settings.

    Centres are all the coordinates of the .geo file (SaTScan's centroids
    without a grid file); distances are measured in an azimuthal equidistant
    projection centred on the data, exact from its centre and within
    centimetres over a city.
    """
    prm = next(folder.glob("*.prm"))
    parameters = read_parameters(prm)
    ids, lat, lon = read_coordinates(folder / parameters["CoordinatesFile"])
    index = {location_id: i for i, location_id in enumerate(ids)}
    rows = read_cases(folder / parameters["CaseFile"])
    missing = sorted({zip_id for zip_id, _, _ in rows if zip_id not in index})
    if missing:
        raise ValueError(f"case locations missing from the coordinates file: {missing[:5]}")
    where = np.repeat([index[r[0]] for r in rows], [r[1] for r in rows])
    days = np.repeat([r[2] for r in rows], [r[1] for r in rows])
    cases = pa.table({"lat": lat[where], "lon": lon[where], "day": pa.array(days, pa.date32())})
    arguments = scan_arguments(parameters)
    if replications is not None:
        arguments["replications"] = replications
    crs = f"+proj=aeqd +lat_0={lat.mean():.5f} +lon_0={lon.mean():.5f} +datum=WGS84 +units=m"
    settings = {k: v for k, v in arguments.items() if k not in ("first_day", "last_day")}
    scan = scan_hotspots(
        cases,
        ScanParams(seed=seed, **settings),
        centres=pa.table({"lat": lat, "lon": lon}),
        crs=crs,
        tz="America/New_York",
        first_day=arguments["first_day"],
        last_day=arguments["last_day"],
    )
    assert scan.cells is not None
    at_point = {(a, b): i for i, (a, b) in enumerate(zip(lat, lon, strict=True))}
    case_ids = [ids[at_point[(a, b)]] for a, b in zip(scan.cells.lat, scan.cells.lon, strict=True)]
    return SampleScan(scan, ids, case_ids, arguments)


def describe(sample: SampleScan, clusters: int = 3) -> str:
    """A SaTScan-like summary of the first clusters."""
    lines = [f"cases {sample.scan.n_cases}, replications {sample.scan.replicated_maxima.size}"]
    for number, cluster in enumerate(sample.scan.clusters[:clusters], start=1):
        inside = sorted(sample.case_location_ids[i] for i in cluster.locations)
        lines.append(
            f"{number}. centre {sample.location_ids[cluster.centre]} "
            f"({cluster.lat:.5f}, {cluster.lon:.5f}), radius {cluster.radius_m:.0f} m, "
            f"{cluster.first_day}..{cluster.last_day}, observed {cluster.cases}, "
            f"expected {cluster.expected:.3f}, O/E {cluster.cases / cluster.expected:.2f}, "
            f"LLR {cluster.llr:.6f}, p {cluster.p_value:.3f}; "
            f"case locations inside: {', '.join(inside)}"
        )
    return "\n".join(lines)


def _require(parameters: dict[str, str], key: str, allowed: object, meaning: str) -> None:
    values = allowed if isinstance(allowed, tuple) else (allowed,)
    if parameters.get(key) not in values:
        raise ValueError(f"{key}={parameters.get(key)!r} is not supported (need {meaning})")


def _date(text: str) -> dt.date:
    year, month, day = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m epitrace.analysis.hotspots.satscan_files FOLDER")
    print(describe(run_sample(Path(argv[0]))))


if __name__ == "__main__":
    main(sys.argv[1:])
