"""Writers for contract tables: CSV or Parquet, whole tables or streamed batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from epitrace.formats.schemas import Table, table

FileFormat = Literal["csv", "parquet"]
FORMATS: tuple[FileFormat, ...] = ("csv", "parquet")


def table_path(folder: Path, name: str, fmt: FileFormat) -> Path:
    """Where table ``name`` lives in a dataset folder (truth tables in truth/)."""
    spec = table(name)
    return Path(folder) / spec.folder / f"{name}.{fmt}"


def conform(data: pa.Table | pa.RecordBatch, spec: Table) -> pa.Table:
    """Select and cast ``data`` to the contract schema of ``spec`` (extra columns dropped,
    a missing column that may be empty added empty, as the readers do)."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    missing = [c.name for c in spec.columns if c.name not in data.column_names]
    required = [name for name in missing if not spec.column(name).nullable]
    if required:
        raise ValueError(f"{spec.name}: missing columns {', '.join(required)}")
    for name in missing:
        data = data.append_column(name, pa.nulls(data.num_rows, spec.column(name).arrow_type))
    return data.select(spec.column_names).cast(spec.arrow_schema)


def _whole_seconds(column: pa.ChunkedArray | pa.Array) -> bool:
    micros = pc.fill_null(column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), 0)
    return bool(np.all(micros.to_numpy() % 1_000_000 == 0))


def _csv_ready(data: pa.Table, tz: str) -> pa.Table:
    """Render timestamps as ISO 8601 with an explicit offset in zone ``tz``.

    Arrow's CSV writer would write ``2020-03-02 08:15:00.000000Z``; the
    contract's readers accept that, but people read these files, so we write
    ``2020-03-02T17:15:00+09:00`` in the dataset's own zone.
    """
    columns = []
    for field, column in zip(data.schema, data.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            local = column.cast(pa.timestamp(field.type.unit, tz=tz))
            if _whole_seconds(column):
                local = local.cast(pa.timestamp("s", tz=tz))
            column = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S%Ez")
        columns.append(column)
    return pa.table(columns, names=data.column_names)


class BatchSink(Protocol):
    def write(self, data: pa.Table | pa.RecordBatch) -> None: ...


class _ParquetSink:
    def __init__(self, path: Path, spec: Table) -> None:
        self._spec = spec
        self._writer = pq.ParquetWriter(path, spec.arrow_schema, compression="zstd")

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        self._writer.write_table(conform(data, self._spec))

    def close(self) -> None:
        self._writer.close()


class _CsvSink:
    def __init__(self, path: Path, spec: Table, tz: str) -> None:
        self._spec = spec
        self._tz = tz
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._writer: pacsv.CSVWriter | None = None

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        rendered = _csv_ready(conform(data, self._spec), self._tz)
        if self._writer is None:
            options = pacsv.WriteOptions(quoting_style="needed")
            self._writer = pacsv.CSVWriter(self._file, rendered.schema, write_options=options)
        self._writer.write_table(rendered)

    def close(self) -> None:
        if self._writer is None:  # no batch written: still a valid file with its header
            self._file.write((",".join(self._spec.column_names) + "\n").encode())
        else:
            self._writer.close()
        self._file.close()


@contextmanager
def open_table_writer(
    folder: Path, name: str, fmt: FileFormat = "parquet", tz: str = "UTC"
) -> Iterator[BatchSink]:
    """Stream batches of table ``name`` into ``folder``.

    The file is written under a temporary name and renamed when complete, so a
    crash never leaves a truncated table that looks finished.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
    spec = table(name)
    path = table_path(folder, name, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    sink: _ParquetSink | _CsvSink = (
        _ParquetSink(partial, spec) if fmt == "parquet" else _CsvSink(partial, spec, tz)
    )
    try:
        yield sink
    except BaseException:
        sink.close()
        partial.unlink(missing_ok=True)
        raise
    sink.close()
    partial.replace(path)


def write_table(
    data: pa.Table, folder: Path, name: str, fmt: FileFormat = "parquet", tz: str = "UTC"
) -> Path:
    """Write a whole contract table into dataset ``folder``; returns the file path."""
    with open_table_writer(folder, name, fmt, tz) as sink:
        sink.write(data)
    return table_path(folder, name, fmt)
