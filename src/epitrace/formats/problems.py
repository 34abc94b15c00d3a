"""Problems found in input files, reported as ``FILE:LINE: column: reason``."""

from __future__ import annotations

from dataclasses import dataclass

from epitrace.errors import EpitraceError

# Where a problem concerns the whole file or a column rather than one row.
FILE_LEVEL = "-"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one file.

    ``line`` counts as in a CSV file: line 1 is the header, row k is line k+1.
    For Parquet the same numbering is used (row k of the file is "line" k+1),
    so a problem points at the same record whichever format it came in.
    """

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


class ContractError(EpitraceError, ValueError):
    """Input that cannot be used at all; carries the problems that say why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(shown + more)
