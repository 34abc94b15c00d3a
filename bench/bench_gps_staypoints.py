"""GPS stay-point detection: epitrace vs trackintel 1.4.2 on ~1 million real GeoLife fixes.

    .venv/bin/python bench/bench_gps_staypoints.py [--copies 6] [--repeat 15] [--record]

The 11 users of ``geolife_long_10_MB`` (164,531 fixes) are replicated under new
ids (``c0-000`` ... ``c5-010``), giving ~990k fixes. Measured in one run:

1. the sliding-window loop alone (compiled beforehand, one thread): fixes/s;
2. end to end, Arrow table in -> staypoints table out, and Parquet file in ->
   staypoints out, for epitrace; trackintel's ``generate_staypoints(method=
   "sliding")`` on a Positionfixes GeoDataFrame of the same fixes prepared
   beforehand (run once: it takes seconds).

It asserts that both produce identical staypoints, prints a Markdown summary
and, with ``--record``, writes it into its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported: one core

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from epitrace.analysis import gps_staypoints as gsp
from epitrace.formats.geolife import read_geolife

ROOT = Path(__file__).resolve().parents[1]
GEOLIFE_LONG = ROOT.parent / "shared" / "data" / "geolife" / "geolife_long_10_MB"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## GPS stay-point detection (vs trackintel)"
PARAMS = {"dist_threshold_m": 100.0, "time_threshold_min": 5.0, "gap_threshold_min": 15.0}


def replicated_fixes(copies: int) -> pa.Table:
    """The GeoLife users ``copies`` times over, each copy under new person ids."""
    base = read_geolife(GEOLIFE_LONG)
    parts = [
        base.set_column(
            0, "person_ref", pc.binary_join_element_wise(f"c{k}", base["person_ref"], "-")
        )
        for k in range(copies)
    ]
    return pa.concat_tables(parts).combine_chunks()


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_parquet(path: Path) -> pa.Table:
    # person_ref as a dictionary: a few persons over a million rows decode 3x faster so,
    # and the detector compares its integer codes instead of strings.
    return pq.read_table(path, read_dictionary=["person_ref"])


def trackintel_input(points: pa.Table):
    """A trackintel Positionfixes GeoDataFrame of the same fixes (as read_positionfixes gives)."""
    import geopandas as gpd
    import pandas as pd
    import trackintel as ti

    frame = pd.DataFrame(
        {"user_id": points["person_ref"].to_pylist(), "tracked_at": points["ts"].to_pandas()}
    )
    geometry = gpd.points_from_xy(points["lon"].to_numpy(), points["lat"].to_numpy())
    pfs = ti.Positionfixes(gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"))
    pfs.index.name = "id"
    return pfs


def run_trackintel(pfs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pfs.generate_staypoints(method="sliding", **_trackintel_params())


def _trackintel_params() -> dict:
    return {
        "dist_threshold": PARAMS["dist_threshold_m"],
        "time_threshold": PARAMS["time_threshold_min"],
        "gap_threshold": PARAMS["gap_threshold_min"],
    }


def assert_identical(ours: pa.Table, pfs, sp) -> None:
    """Same staypoints: person, start, end, n_fixes exactly; location bit for bit."""
    assert ours.num_rows == len(sp), (ours.num_rows, len(sp))
    assert ours["person_ref"].to_pylist() == sp["user_id"].tolist()
    for ours_col, theirs_col in (("start", "started_at"), ("end", "finished_at")):
        theirs = sp[theirs_col].dt.as_unit("us").astype("int64").to_numpy()
        assert np.array_equal(ours[ours_col].cast(pa.int64()).to_numpy(), theirs), ours_col
    assert np.array_equal(ours["lat"].to_numpy(), sp.geometry.y.to_numpy())
    assert np.array_equal(ours["lon"].to_numpy(), sp.geometry.x.to_numpy())
    n_fixes = pfs["staypoint_id"].value_counts().reindex(sp.index).to_numpy()
    assert np.array_equal(ours["n_fixes"].to_numpy(), n_fixes)


def measure(copies: int, repeat: int) -> dict:
    numba.set_num_threads(1)
    points = replicated_fixes(copies)
    n = points.num_rows
    ours = gsp.detect_gps_staypoints(points, **PARAMS)  # compiles (or loads the cache)

    # (i) the loop alone, on the prepared contiguous arrays
    _, bounds, kept, ts, lat, lon, nanos = gsp._prepare(points)
    loop_args = (
        bounds,
        kept,
        ts,
        lat,
        lon,
        gsp._gap_ticks(PARAMS["gap_threshold_min"], nanos),
        gsp._time_ticks(PARAMS["time_threshold_min"], nanos),
        PARAMS["dist_threshold_m"],
        False,
    )
    loop_s = median_seconds(lambda: gsp._sliding_stays(*loop_args), repeat)
    first, _, stop, _ = gsp._sliding_stays(*loop_args)
    locations_s = median_seconds(lambda: gsp._location_sums(first, stop, kept, lat, lon), repeat)
    prepare_s = median_seconds(lambda: gsp._prepare(points), repeat)

    # (ii) end to end
    arrow_s = median_seconds(lambda: gsp.detect_gps_staypoints(points, **PARAMS), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gps_points.parquet"
        pq.write_table(points, path)
        parquet_s = median_seconds(
            lambda: gsp.detect_gps_staypoints(read_parquet(path), **PARAMS), repeat
        )

    pfs = trackintel_input(points)
    start = time.perf_counter()
    pfs_out, sp = run_trackintel(pfs)
    trackintel_s = time.perf_counter() - start
    assert_identical(ours, pfs_out, sp)

    return {
        "fixes": n,
        "persons": len(bounds) - 1,
        "staypoints": ours.num_rows,
        "in_stays": int((stop - first).sum()),
        "loop_s": loop_s,
        "locations_s": locations_s,
        "prepare_s": prepare_s,
        "arrow_s": arrow_s,
        "parquet_s": parquet_s,
        "trackintel_s": trackintel_s,
        "repeat": repeat,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores shared with other work (load average {load} at the end"
        f" of the run), Python {platform.python_version()}"
    )


def report(r: dict) -> str:
    n = r["fixes"]
    import trackintel

    rate = n / r["loop_s"] / 1e6
    ratio = r["trackintel_s"] / r["arrow_s"]
    ratio_parquet = r["trackintel_s"] / r["parquet_s"]
    rows = [
        (
            "sliding-window loop alone (compiled, 1 thread)",
            _ms(r["loop_s"]),
            f"**{rate:,.0f} M** (target ≥ 25 M)",
        ),
        (f"staypoint locations ({r['in_stays']:,} fixes in stays)", _ms(r["locations_s"]), ""),
        ("preparation (checks, sort check, de-duplication)", _ms(r["prepare_s"]), ""),
        ("epitrace end to end, Arrow table in", _ms(r["arrow_s"]), _mega(n, r["arrow_s"])),
        ("epitrace end to end, Parquet file in", _ms(r["parquet_s"]), _mega(n, r["parquet_s"])),
        (
            "trackintel `generate_staypoints` (GeoDataFrame prepared beforehand)",
            f"{r['trackintel_s']:.2f} s",
            f"{n / r['trackintel_s'] / 1e3:,.0f} k",
        ),
    ]
    table = "\n".join(f"| {step} | {t} | {rate} |" for step, t, rate in rows)
    return f"""\
Command: `.venv/bin/python bench/bench_gps_staypoints.py --record`
Machine: {machine()}; numba {numba.__version__}, one thread; trackintel {trackintel.__version__}.
Input: the 11 GeoLife users of `geolife_long_10_MB` replicated {r["persons"] // 11}× under new
ids: {n:,} fixes, {r["persons"]} persons; 100 m / 5 min / 15 min gap.
Output: {r["staypoints"]:,} staypoints, **identical** to trackintel's (person, start, end,
n_fixes exact; lat/lon bit for bit; asserted by the benchmark).
Medians of {r["repeat"]} runs for epitrace; trackintel run once (it takes seconds).

| step | time | fixes/s |
|---|---:|---:|
{table}

Speed-up, end to end: **{ratio:,.0f}×** trackintel from an Arrow table,
**{ratio_parquet:,.0f}×** from a Parquet file (target ≥ 100×).

End to end includes input checks, the sortedness check (the input is in file order,
grouped by person), de-duplication, the loop, locations and building the output table.
The Parquet case reads `person_ref` as a dictionary column (`read_dictionary`): decoding
a million repeated strings would otherwise cost more than the whole detection.
trackintel's time excludes building its GeoDataFrame.
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _mega(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:,.1f} M"


def record(text: str) -> None:
    """Replace only the body of this benchmark's section in docs/benchmarks.md."""
    doc = DOCS.read_text()
    head, found, rest = doc.partition(SECTION + "\n")
    if not found:
        raise SystemExit(f"{DOCS}: section {SECTION!r} not found")
    following = rest.find("\n## ")
    tail = rest[following:] if following >= 0 else "\n"
    DOCS.write_text(f"{head}{SECTION}\n\n{text}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--record", action="store_true", help="write into docs/benchmarks.md")
    args = parser.parse_args(argv)
    if not GEOLIFE_LONG.is_dir():
        print(f"GeoLife data not found at {GEOLIFE_LONG}; nothing measured.")
        return 0
    text = report(measure(args.copies, args.repeat))
    print(text)
    if args.record:
        record(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
