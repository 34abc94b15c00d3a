"""Read Microsoft Research GeoLife GPS trajectories into a ``gps_points`` table.

A GeoLife folder holds one sub-folder per user, each with ``Trajectory/*.plt``
files: six header lines, then ``lat,lon,0,altitude_ft,days,date,time`` rows
with times in GMT. The person is the user folder name (``"000"``, ``"001"``, ...).

Rows come out per user, then per file, in file order, exactly as in the files:
no sorting and no de-duplication, like trackintel's ``read_geolife``, so that
both libraries see identical fixes. Users and files are taken in name order
(trackintel takes them in directory-listing order, which differs between
machines; since a user's files do not overlap in time, sorting the fixes by
time gives the same sequence either way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from epitrace.formats.schemas import table

PLT_HEADER_LINES = 6
PLT_COLUMNS = ("lat", "lon", "zero", "altitude_ft", "days", "date", "time")
MICROS_PER_DAY = 86_400_000_000
MICROS_PER_SECOND = 1_000_000

_READ = pacsv.ReadOptions(skip_rows=PLT_HEADER_LINES, column_names=list(PLT_COLUMNS))
# Date and time parsed natively by Arrow: far faster than string concatenation + strptime.
_CONVERT = pacsv.ConvertOptions(
    include_columns=["lat", "lon", "date", "time"],
    column_types={
        "lat": pa.float64(),
        "lon": pa.float64(),
        "date": pa.date32(),
        "time": pa.time32("s"),
    },
)


def read_geolife(folder: str | Path) -> pa.Table:
    """All fixes of a GeoLife folder as a ``gps_points`` table (accuracy_m empty)."""
    folder = Path(folder)
    users = sorted(p for p in folder.iterdir() if p.is_dir())
    if not users:
        raise FileNotFoundError(f"no user folders in GeoLife folder {folder}")
    parts = [_read_plt(plt, user.name) for user in users for plt in _trajectory_files(user)]
    schema = table("gps_points").arrow_schema
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).combine_chunks()


def _trajectory_files(user: Path) -> list[Path]:
    return sorted((user / "Trajectory").glob("*.plt"))


def _read_plt(path: Path, person_ref: str) -> pa.Table:
    try:
        raw = pacsv.read_csv(path, read_options=_READ, convert_options=_CONVERT)
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path}: not a GeoLife .plt file: {err}") from err
    days = raw["date"].combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
    secs = raw["time"].combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
    micros = days.astype(np.int64) * MICROS_PER_DAY + secs.astype(np.int64) * MICROS_PER_SECOND
    n = raw.num_rows
    return pa.Table.from_arrays(
        [
            pa.array(np.full(n, person_ref, dtype=object), pa.string()),
            pa.array(micros, pa.timestamp("us", tz="UTC")),
            raw["lat"],
            raw["lon"],
            pa.nulls(n, pa.float64()),
        ],
        schema=table("gps_points").arrow_schema,
    )
