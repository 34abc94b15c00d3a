"""Validate a whole dataset folder against the data contract (``epitrace validate``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from epitrace.formats.problems import FILE_LEVEL, Problem
from epitrace.formats.readers import HEADER_LINE, iter_dataset_tables, read_table
from epitrace.formats.schemas import TABLES


@dataclass
class TableCheck:
    name: str
    file: str
    rows_read: int
    rows_rejected: int
    problems: list[Problem]


@dataclass
class ValidationReport:
    folder: Path
    tables: list[TableCheck] = field(default_factory=list)
    dataset_problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def problems(self) -> Iterator[Problem]:
        yield from self.dataset_problems
        for check in self.tables:
            yield from check.problems

    @property
    def problem_count(self) -> int:
        return len(self.dataset_problems) + sum(len(t.problems) for t in self.tables)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def summary(self) -> str:
        rows = sum(t.rows_read for t in self.tables)
        rejected = sum(t.rows_rejected for t in self.tables)
        files = {p.file for p in self.problems()}
        head = (
            f"{len(self.tables)} tables, {rows:,} rows checked, {rejected:,} rows rejected; "
            f"{self.problem_count:,} problems in {len(files)} files"
        )
        if self.ignored:
            head += f"; ignored (not in the contract): {', '.join(sorted(self.ignored))}"
        return head


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _unknown_files(folder: Path) -> list[str]:
    known = {f"{name}.{ext}" for name in TABLES for ext in ("csv", "parquet")}
    found = []
    for sub in (folder, folder / "truth"):
        if sub.is_dir():
            found += [
                _relative(p, folder) for p in sub.iterdir() if p.is_file() and p.name not in known
            ]
    return found


def validate_dataset(folder: Path | str) -> ValidationReport:
    """Check every contract table in ``folder`` (and ``folder/truth``)."""
    folder = Path(folder)
    report = ValidationReport(folder)
    for unknown in _unknown_files(folder):
        if unknown.endswith(".partial"):
            report.dataset_problems.append(
                Problem(unknown, HEADER_LINE, FILE_LEVEL, "left over from an interrupted write")
            )
        else:
            report.ignored.append(unknown)
    for name, files in iter_dataset_tables(folder):
        if len(files) > 1:
            report.dataset_problems.append(
                Problem(
                    _relative(files[1], folder),
                    HEADER_LINE,
                    FILE_LEVEL,
                    f"table {name} is in both {files[0].name} and {files[1].name}: keep one",
                )
            )
        for path in files:
            loaded = read_table(path, name, label=_relative(path, folder))
            report.tables.append(
                TableCheck(
                    name, loaded.path.name, loaded.rows_read, loaded.rows_rejected, loaded.problems
                )
            )
    if not report.tables and not report.dataset_problems:
        report.dataset_problems.append(
            Problem(
                str(folder),
                0,
                FILE_LEVEL,
                "no contract table found (e.g. cells.csv, telecom_records.parquet)",
            )
        )
    return report
