"""Progress bars for long work: shown on a terminal, silent otherwise (CLI contract)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def progress_bar(total: float | None, desc: str, unit: str = "it") -> tqdm:
    """A bar on stderr when it is a terminal; a silent no-op object otherwise."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not _on_terminal(), leave=False)


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` with a progress bar when on a terminal."""
    yield from tqdm(
        items, desc=desc, total=total, unit=unit, disable=not _on_terminal(), leave=False
    )
