"""Progress bars for long work: shown on a terminal, silent otherwise (CLI contract)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Counting:
    """The two callbacks a workflow reports through: how many items there will be
    (``on_start(total)``) and that one more is done (``on_item()``)."""

    on_start: Callable[[int], None]
    on_item: Callable[[], None]


@contextmanager
def counting_bar(desc: str, unit: str = "it") -> Iterator[Counting]:
    """A bar whose total a workflow learns as it starts; closed however the work ends."""
    bar = progress_bar(None, desc, unit=unit)

    def on_start(total: int) -> None:
        bar.total = total
        bar.refresh()

    try:
        yield Counting(on_start, lambda: bar.update(1))
    finally:
        bar.close()
