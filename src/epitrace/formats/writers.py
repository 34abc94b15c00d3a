"""Writers for contract tables: CSV or Parquet, whole tables or streamed batches.

CSV exports (the analysis outputs, and any other CSV a person may open in a
spreadsheet) carry data, never formulas: ``spreadsheet_safe`` quotes a text cell that
a spreadsheet would run, and ``SpreadsheetSafeWriter`` does it for ``csv`` writers.
A CSV file meant for people (the hub's exports) also begins with UTF-8's byte-order
mark (``for_spreadsheets``); the command line's outputs, read by programs, do not.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from epitrace.formats.schemas import Kind, Table, table

FileFormat = Literal["csv", "parquet"]
FORMATS: tuple[FileFormat, ...] = ("csv", "parquet")


# A cell that begins with one of these is read by spreadsheets as a formula (OWASP,
# "CSV injection"); one that begins with a quote is quoted too, so that the quoting can
# be undone exactly (``spreadsheet_text``).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_STARTS = (*FORMULA_STARTS, "'")
# The same, as regular expressions for Arrow: a cell to quote, and a quoted one.
_TO_QUOTE = "^([=+\\-@\t\r'])"
_QUOTED = "^'([=+\\-@\t\r'])"


def for_spreadsheets(body: bytes) -> bytes:
    """A UTF-8 CSV file's bytes with the byte-order mark in front: without it Excel reads
    the file in the system's code page and garbles Korean. epitrace's readers accept the
    mark (``formats.readers``); a program that does not should read with ``utf-8-sig``."""
    return codecs.BOM_UTF8 + body


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet cell that shows it and never runs it.

    A text beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or a
    quote) gets a leading ``'``, as OWASP advises; any other text is unchanged. Apply it
    to text columns only: a negative number in a numeric column stays a number.
    """
    return "'" + text if text.startswith(_QUOTED_STARTS) else text


def spreadsheet_text(cell: str) -> str:
    """The text that ``spreadsheet_safe`` turned into ``cell`` (its exact inverse)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _QUOTED_STARTS else cell


class SpreadsheetSafeWriter:
    """A ``csv.writer`` or ``csv.DictWriter`` whose text cells go through
    ``spreadsheet_safe``; other values (numbers, None) are written as they are."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writeheader(self) -> Any:
        return self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any] | Iterable[Any]) -> Any:
        if isinstance(row, Mapping):
            return self._writer.writerow({k: _safe_cell(v) for k, v in row.items()})
        return self._writer.writerow([_safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Mapping[str, Any] | Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def _safe_cell(value: Any) -> Any:
    return spreadsheet_safe(value) if isinstance(value, str) else value


def spreadsheet_quoted_columns(spec: Table) -> list[str]:
    """The columns of ``spec`` whose CSV cells are quoted for spreadsheets: the text
    columns of the analysis outputs, the exports people open. Tables that agencies or
    the simulator write are data in the contract, kept exactly as given."""
    if spec.group != "output":
        return []
    return [c.name for c in spec.columns if c.kind in (Kind.ID, Kind.TEXT)]


def spreadsheet_safe_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``spreadsheet_safe`` over an Arrow string column (nulls stay null)."""
    return pc.replace_substring_regex(column, pattern=_TO_QUOTE, replacement="'\\1")


def spreadsheet_text_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``spreadsheet_text`` over an Arrow string or binary column (as read from CSV)."""
    return pc.replace_substring_regex(column, pattern=_QUOTED, replacement="\\1")


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


def _csv_ready(data: pa.Table, tz: str, quoted: list[str] | None = None) -> pa.Table:
    """Render timestamps as ISO 8601 with an explicit offset in zone ``tz``.

    Arrow's CSV writer would write ``2020-03-02 08:15:00.000000Z``; the
    contract's readers accept that, but people read these files, so we write
    ``2020-03-02T17:15:00+09:00`` in the dataset's own zone. The ``quoted`` text
    columns go through ``spreadsheet_safe``.
    """
    columns = []
    for field, column in zip(data.schema, data.columns, strict=True):
        if field.name in (quoted or ()):
            column = spreadsheet_safe_column(column)
        elif pa.types.is_timestamp(field.type):
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
        rendered = _csv_ready(
            conform(data, self._spec), self._tz, spreadsheet_quoted_columns(self._spec)
        )
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
