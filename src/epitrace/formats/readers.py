"""Readers for contract tables: CSV or Parquet in, typed Arrow out, every problem reported.

A reader never drops a row silently and never raises on bad content: each
rejected row is counted and each problem is reported as ``FILE:LINE: column:
reason``. Files are read in batches so a large file is checked in bounded memory.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from epitrace.formats.convert import convert_column
from epitrace.formats.problems import FILE_LEVEL, ContractError, Problem
from epitrace.formats.schemas import Table, table
from epitrace.formats.writers import spreadsheet_quoted_columns, spreadsheet_text_column

# Problems listed per file and column before the rest are summarised in one line,
# so a file that is wrong on every one of ten million rows still reports in bounded memory.
MAX_LISTED_PER_COLUMN = 10_000
CSV_BLOCK_BYTES = 8 << 20
HEADER_LINE = 1
# What a header may be: the contract's tables have a dozen columns, and extra ones are
# ignored, so these bounds only ever refuse a file that is not a table at all.
MAX_HEADER_BYTES = 1 << 20
MAX_COLUMNS = 10_000


@dataclass
class _RowProblems:
    """Per-row problems of one file, by index among the rows the parser kept."""

    rows: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    reasons: list[list[str]] = field(default_factory=list)
    listed: dict[str, int] = field(default_factory=dict)
    unlisted: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # column -> (count, first row)

    def add(self, column: str, rows: np.ndarray, reason: str | list[str]) -> None:
        reasons = [reason] * len(rows) if isinstance(reason, str) else reason
        room = MAX_LISTED_PER_COLUMN - self.listed.get(column, 0)
        if len(rows) > room:
            count, first = self.unlisted.get(column, (0, int(rows[room])))
            self.unlisted[column] = (count + len(rows) - room, first)
            rows, reasons = rows[:room], reasons[:room]
        if len(rows):
            self.rows.append(rows)
            self.columns.extend([column] * len(rows))
            self.reasons.append(reasons)
            self.listed[column] = self.listed.get(column, 0) + len(rows)


@dataclass
class LoadedTable:
    """A contract table read from one file: the good rows and an account of the rest."""

    name: str
    path: Path
    label: str  # how problems name the file
    table: pa.Table
    problems: list[Problem]
    rows_read: int
    rows_rejected: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> pa.Table:
        """The table, or a ContractError listing every problem."""
        if self.problems:
            raise ContractError(self.problems)
        return self.table


def _blank_rows(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """Rows whose every field is empty: a blank line in a CSV file, not a record."""
    blank = np.ones(batch.num_rows, dtype=bool)
    for column in batch.columns:
        if not (pa.types.is_binary(column.type) or pa.types.is_string(column.type)):
            return np.zeros(batch.num_rows, dtype=bool)
        empty = pc.or_(pc.is_null(column), pc.equal(pc.binary_length(column), 0))
        blank &= pc.fill_null(empty, True).to_numpy(zero_copy_only=False).astype(bool)
    return blank


def _convert_batch(
    spec: Table,
    batch: pa.RecordBatch | pa.Table,
    present: list[str],
    row_offset: int,
    found: _RowProblems,
) -> tuple[pa.Table, int]:
    """Convert one batch to the contract schema.

    Returns its good rows and the number of records it held (blank lines are
    not records). Problems are added to ``found`` by row index in the file.
    """
    blank = _blank_rows(batch)
    row_ids = np.flatnonzero(~blank) + row_offset
    if blank.any():
        batch = batch.filter(pa.array(~blank))
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)
    columns: list[pa.Array] = []
    for column in spec.columns:
        if column.name not in present:  # a missing optional column: all values empty
            columns.append(pa.nulls(n, column.arrow_type))
            continue
        converted = convert_column(column, batch.column(column.name))
        for mask, reason in converted.problems:
            found.add(column.name, row_ids[mask], reason)
            bad |= mask
        columns.append(converted.values)
    good = pa.Table.from_arrays(columns, schema=spec.arrow_schema)
    for start, end in spec.ordered:
        reversed_ = pc.fill_null(pc.less(good.column(end), good.column(start)), False)
        mask = reversed_.to_numpy(zero_copy_only=False).astype(bool) & ~bad
        if mask.any():
            found.add(end, row_ids[mask], f"{end} before {start}")
            bad |= mask
    return (good.filter(pa.array(~bad)) if bad.any() else good), n


def _from_spreadsheet_cells(
    spec: Table, batch: pa.RecordBatch | pa.Table
) -> pa.RecordBatch | pa.Table:
    """Undo the quoting the CSV writer puts on analysis outputs' text for spreadsheets."""
    quoted = [n for n in spreadsheet_quoted_columns(spec) if n in batch.schema.names]
    if not quoted:  # every table but the analysis outputs: read exactly as written
        return batch
    data = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    for name in quoted:
        index = data.column_names.index(name)
        data = data.set_column(index, name, spreadsheet_text_column(data.column(index)))
    return data


def _header_problems(spec: Table, names: list[str], label: str) -> tuple[list[str], list[Problem]]:
    """Which contract columns a file has, and problems with its header."""
    if len(names) > MAX_COLUMNS:
        reason = f"header has {len(names):,} columns; at most {MAX_COLUMNS:,} are read"
        return [], [Problem(label, HEADER_LINE, FILE_LEVEL, reason)]
    problems = []
    counts = Counter(names)
    duplicated = sorted(n for n in spec.column_names if counts[n] > 1)
    for name in duplicated:
        problems.append(Problem(label, HEADER_LINE, name, "column appears more than once"))
    for column in spec.columns:
        if column.name not in names and not column.nullable:
            problems.append(Problem(label, HEADER_LINE, column.name, "missing required column"))
    return [n for n in spec.column_names if n in names], problems


def _csv_header(path: Path, label: str) -> tuple[list[str] | None, list[Problem]]:
    with open(path, "rb") as handle:
        first = handle.readline(MAX_HEADER_BYTES + 1)
    if not first.strip():
        return None, [Problem(label, HEADER_LINE, FILE_LEVEL, "empty file: no header row")]
    if len(first.rstrip(b"\r\n")) > MAX_HEADER_BYTES:
        reason = f"header line longer than {MAX_HEADER_BYTES:,} bytes"
        return None, [Problem(label, HEADER_LINE, FILE_LEVEL, reason)]
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        return None, [Problem(label, HEADER_LINE, FILE_LEVEL, "header is not valid UTF-8")]
    return [name.strip().strip('"') for name in text.split(",")], []


def _kept_row_lines(kept_rows: np.ndarray, skipped_lines: list[int]) -> np.ndarray:
    """Physical line numbers of the rows the CSV parser kept.

    Data rows occupy lines 2, 3, ... in order; rows the parser skipped (wrong
    number of fields) are removed from that sequence, so kept row k sits at
    line 2 + k + (number of skipped lines before it).
    """
    skipped = np.sort(np.asarray(skipped_lines, dtype=np.int64)) - (HEADER_LINE + 1)
    shifted = skipped - np.arange(len(skipped))
    return HEADER_LINE + 1 + kept_rows + np.searchsorted(shifted, kept_rows, side="right")


def _read_csv(path: Path, spec: Table, label: str) -> LoadedTable:
    names, problems = _csv_header(path, label)
    loaded = LoadedTable(spec.name, path, label, spec.arrow_schema.empty_table(), problems, 0, 0)
    if names is None:
        return loaded
    present, header_problems = _header_problems(spec, names, label)
    loaded.problems.extend(header_problems)
    if header_problems:  # rows cannot be used without their columns; still count them
        with open(path, "rb") as handle:
            loaded.rows_read = loaded.rows_rejected = max(sum(1 for _ in handle) - 1, 0)
        return loaded

    try:
        scan = _scan_csv_fast(path, spec, present)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # Arrow's parser gives up on some broken files (a short row that is not
        # valid UTF-8, say); the careful reader goes line by line instead.
        scan = _scan_csv_carefully(path, spec, present)
    loaded.problems.extend(Problem(label, line, FILE_LEVEL, reason) for line, reason in scan.ragged)
    _finish(loaded, scan.parts, scan.found, scan.records, scan.lines_of)
    loaded.rows_read = scan.records + len(scan.ragged)
    loaded.rows_rejected += len(scan.ragged)
    return loaded


@dataclass
class _CsvScan:
    parts: list[pa.Table]
    found: _RowProblems
    records: int
    ragged: list[tuple[int, str]]  # (line, reason) of rows with the wrong number of fields
    lines_of: Callable[[np.ndarray], np.ndarray]  # kept-row index -> physical line


def _binary_options(present: list[str]) -> pacsv.ConvertOptions:
    # Read as bytes: UTF-8 is checked per value, so one bad byte costs one row, not the file.
    return pacsv.ConvertOptions(
        include_columns=present,
        column_types={name: pa.binary() for name in present},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _scan_csv_fast(path: Path, spec: Table, present: list[str]) -> _CsvScan:
    skipped: list[tuple[int, str]] = []

    def skip_ragged(row: pacsv.InvalidRow) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        skipped.append((row.number, reason))
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip_ragged, ignore_empty_lines=False),
        convert_options=_binary_options(present),
    )
    found = _RowProblems()
    parts, kept, records = [], 0, 0
    for batch in reader:
        good, held = _convert_batch(
            spec, _from_spreadsheet_cells(spec, batch), present, kept, found
        )
        parts.append(good)
        kept += batch.num_rows
        records += held
    skipped_lines = [line for line, _ in skipped]
    return _CsvScan(
        parts, found, records, skipped, lambda rows: _kept_row_lines(rows, skipped_lines)
    )


def _scan_csv_carefully(
    path: Path, spec: Table, present: list[str], batch_rows: int = 100_000
) -> _CsvScan:
    """Line-by-line CSV reading for files Arrow's parser rejects; same results, slower."""
    found = _RowProblems()
    parts: list[pa.Table] = []
    ragged: list[tuple[int, str]] = []
    lines: list[int] = []
    records = 0
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        positions = [header.index(name) for name in present]
        pending: list[list[str]] = []

        def flush() -> None:
            nonlocal records
            if not pending:
                return
            columns = {
                name: pa.array(
                    [r[i].encode("utf-8", "surrogateescape") for r in pending], pa.binary()
                )
                for name, i in zip(present, positions, strict=True)
            }
            good, held = _convert_batch(
                spec,
                _from_spreadsheet_cells(spec, pa.table(columns)),
                present,
                len(lines) - len(pending),
                found,
            )
            parts.append(good)
            records += held
            pending.clear()

        for row in rows:
            if len(row) != len(header):
                if any(field.strip() for field in row):
                    ragged.append(
                        (rows.line_num, f"expected {len(header)} fields, found {len(row)}")
                    )
                continue
            pending.append(row)
            lines.append(rows.line_num)
            if len(pending) >= batch_rows:
                flush()
        flush()
    line_array = np.asarray(lines, dtype=np.int64)
    return _CsvScan(parts, found, records, ragged, lambda kept: line_array[kept])


def _finish(
    loaded: LoadedTable,
    parts: list[pa.Table],
    found: _RowProblems,
    rows: int,
    lines_of: Callable[[np.ndarray], np.ndarray],
) -> None:
    """Gather good rows and turn row problems into line-numbered Problems."""
    label = loaded.label
    if parts:
        loaded.table = pa.concat_tables(parts)
    loaded.rows_read = rows
    loaded.rows_rejected = rows - loaded.table.num_rows
    if found.rows:
        kept_rows = np.concatenate(found.rows)
        lines = lines_of(kept_rows)
        reasons = [r for chunk in found.reasons for r in chunk]
        loaded.problems.extend(
            Problem(label, int(line), column, reason)
            for line, column, reason in zip(lines, found.columns, reasons, strict=True)
        )
    for column, (count, first_row) in found.unlisted.items():
        first_line = int(lines_of(np.array([first_row]))[0])
        loaded.problems.append(
            Problem(
                label,
                first_line,
                column,
                f"... and {count:,} more rows with problems in this column",
            )
        )
    loaded.problems.sort()


def _read_parquet(path: Path, spec: Table, label: str) -> LoadedTable:
    loaded = LoadedTable(spec.name, path, label, spec.arrow_schema.empty_table(), [], 0, 0)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        loaded.problems.append(
            Problem(label, HEADER_LINE, FILE_LEVEL, f"not a readable Parquet file: {exc}")
        )
        return loaded
    names = parquet.schema_arrow.names
    present, header_problems = _header_problems(spec, names, label)
    loaded.problems.extend(header_problems)
    total = parquet.metadata.num_rows
    if header_problems:
        loaded.rows_read = loaded.rows_rejected = total
        return loaded
    found = _RowProblems()
    parts, offset = [], 0
    for group in range(parquet.num_row_groups):
        group_rows = parquet.metadata.row_group(group).num_rows
        try:
            batch = parquet.read_row_group(group, columns=present)
        except (pa.ArrowInvalid, OSError) as exc:
            loaded.problems.append(
                Problem(
                    label,
                    HEADER_LINE + 1 + offset,
                    FILE_LEVEL,
                    f"row group {group} ({group_rows} rows) unreadable: {exc}",
                )
            )
        else:
            parts.append(_convert_batch(spec, batch, present, offset, found)[0])
        offset += group_rows
    _finish(loaded, parts, found, total, lambda rows: rows + HEADER_LINE + 1)
    return loaded


def _label(path: Path) -> str:
    return str(path)


def read_table(path: Path | str, name: str | None = None, label: str | None = None) -> LoadedTable:
    """Read one contract table file (``NAME.csv`` or ``NAME.parquet``).

    ``name`` defaults to the file stem. ``label`` is how the file is named in
    problems (default: the path as given).
    """
    path = Path(path)
    spec = table(name or path.name.split(".")[0])
    label = label or _label(path)
    if path.suffix == ".csv":
        return _read_csv(path, spec, label)
    if path.suffix == ".parquet":
        return _read_parquet(path, spec, label)
    raise ValueError(f"{path}: unknown file type; expected .csv or .parquet")


def read_given_table(path: Path, name: str, error: Callable[[str], Exception]) -> LoadedTable:
    """A table the user named on the command line (``--interview``, ``--cases``).

    Unlike a dataset's own tables, whose broken rows are skipped and counted, a file
    given explicitly must be whole: an empty or binary file, or any row that breaks the
    contract, raises ``error`` naming the first problems on one line.
    """
    try:
        loaded = read_table(path, name)
    except (ValueError, OSError) as exc:
        raise error(f"{path}: {exc}") from None
    if loaded.problems:
        shown = "; ".join(str(p) for p in loaded.problems[:3])
        more = f" (and {len(loaded.problems) - 3} more)" if len(loaded.problems) > 3 else ""
        raise error(f"{path} breaks the {name} contract: {shown}{more}")
    return loaded


def table_files(folder: Path, name: str) -> list[Path]:
    """The files that hold table ``name`` in a dataset folder (normally zero or one)."""
    spec = table(name)
    base = Path(folder) / spec.folder
    return [p for p in (base / f"{name}.csv", base / f"{name}.parquet") if p.is_file()]


def read_dataset_table(folder: Path | str, name: str) -> LoadedTable | None:
    """Read table ``name`` from a dataset folder; None if the folder has no such table."""
    files = table_files(Path(folder), name)
    if not files:
        return None
    if len(files) > 1:
        raise ContractError(
            [
                Problem(
                    str(files[1]),
                    HEADER_LINE,
                    FILE_LEVEL,
                    f"both {files[0].name} and {files[1].name}: keep one",
                )
            ]
        )
    return read_table(files[0], name)


def iter_dataset_tables(folder: Path | str) -> Iterator[tuple[str, list[Path]]]:
    """Each contract table present in ``folder``, with the file(s) that hold it."""
    from epitrace.formats.schemas import TABLES

    for name in TABLES:
        files = table_files(Path(folder), name)
        if files:
            yield name, files


def conform_rows(
    name: str, data: pa.Table, label: str, lines: np.ndarray | None = None
) -> LoadedTable:
    """Check and type rows already extracted from a file (by a query, say).

    ``lines`` gives each row's line in the source file when the query knows
    it; otherwise problems point at line 0 ("somewhere in this extract").
    """
    spec = table(name)
    present, problems = _header_problems(spec, data.column_names, label)
    loaded = LoadedTable(
        spec.name,
        Path(label),
        label,
        spec.arrow_schema.empty_table(),
        problems,
        data.num_rows,
        data.num_rows if problems else 0,
    )
    if problems:
        return loaded
    found = _RowProblems()
    good, _ = _convert_batch(spec, data, present, 0, found)
    line_of = lines if lines is not None else np.zeros(max(data.num_rows, 1), dtype=np.int64)
    _finish(loaded, [good], found, data.num_rows, lambda rows: line_of[rows])
    return loaded
