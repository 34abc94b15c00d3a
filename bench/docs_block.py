"""Write a benchmark's figures into a doc without touching the text around them.

The figures sit between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``;
re-running a benchmark with ``--record`` replaces only that block, so the
prose and the other sections stay as written. Without the markers yet, the
block is added under ``heading`` (a new section at the end when the heading
is absent too).
"""

from __future__ import annotations

from pathlib import Path


def write_block(doc: Path, name: str, text: str, heading: str) -> None:
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    current = doc.read_text()
    if begin in current and end in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        doc.write_text(head + block + tail)
        return
    if heading in current:
        head, _, rest = current.partition(heading)
        following = rest.find("\n## ")
        section, tail = (rest, "") if following < 0 else (rest[:following], rest[following:])
        doc.write_text(f"{head}{heading}{section.rstrip()}\n\n{block}\n{tail}")
        return
    doc.write_text(f"{current.rstrip()}\n\n{heading}\n\n{block}\n")
