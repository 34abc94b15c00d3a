"""PDF files read as readers read them, with poppler (Debian's poppler-utils, installed by
scripts/install-browser.sh): the text (``pdftotext``), the fonts (``pdffonts``) and the
pages as images (``pdftoppm``). Tests that need them skip when poppler is missing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} (poppler-utils) is missing: run scripts/install-browser.sh")
    return found


def pdf_text(body: bytes, layout: bool = False) -> str:
    """The text of every page, as ``pdftotext`` extracts it (reading order, or ``layout``)."""
    command = [_poppler("pdftotext"), *(["-layout"] if layout else []), "-", "-"]
    return subprocess.run(command, input=body, capture_output=True, check=True).stdout.decode()


@dataclass(frozen=True)
class PdfFont:
    name: str  # as the file names it: ABCDEF+NanumGothic for an embedded subset
    type: str
    embedded: bool


def pdf_fonts(body: bytes) -> list[PdfFont]:
    """The fonts ``pdffonts`` lists for the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.pdf"
        path.write_bytes(body)
        out = subprocess.run(
            [_poppler("pdffonts"), str(path)], capture_output=True, check=True, text=True
        ).stdout
    lines = out.splitlines()[2:]  # a header and a rule
    fonts = []
    for line in lines:
        # name type encoding emb sub uni object ID: the name has no spaces; the type may.
        parts = line.split()
        emb = parts[-5]
        fonts.append(PdfFont(parts[0], " ".join(parts[1:-6]), emb == "yes"))
    return fonts


def pdf_pages(body: bytes, dpi: int = 40) -> int:
    """How many pages ``pdftoppm`` draws (each page rendered, so a broken page fails)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.pdf"
        path.write_bytes(body)
        subprocess.run(
            [_poppler("pdftoppm"), "-r", str(dpi), "-png", str(path), str(Path(folder) / "p")],
            check=True,
            capture_output=True,
        )
        return len(list(Path(folder).glob("p*.png")))
