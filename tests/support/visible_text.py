"""The English a person reads on a page (issue #19): the detector of
``tests/hub/test_korean_pages.py`` (the hub's pages) and ``tests/test_report.py`` (the
offline report), so both hold Korean pages to the same allowlist.

Visible text is what a person reads: the rendered HTML's text nodes (not scripts nor
styles) and the attributes shown to people (title, placeholder, aria-label, alt, and
the value of buttons). A word is a run of two or more Latin letters; the allowlist
below names the product and format names, and codes are left out where the page shows
them as codes (an auditor types an action's code into a filter).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Names that are not English words to translate: the product, formats and standards,
# units and zone abbreviations people read as they are, carrier brands.
ALLOWED_WORDS = frozenset(
    {
        "epitrace",  # the product
        "CSV", "PDF", "GeoJSON", "JSON", "Parquet", "FHIR", "AuditEvent", "ZIP",  # formats
        "TOTP", "QR", "API", "HTTP", "IP", "GPS",  # standards and technologies
        "KST", "UTC", "Asia", "Seoul",  # time zones (Asia/Seoul is the zone's name)
        "YYYY", "MM", "DD", "HH",  # date formats shown as hints
        "SKT", "KT", "LG", "U+",  # carrier brands
        "English",  # the language switch offers English by its own name
    }
)  # fmt: skip
WORD = re.compile(r"[A-Za-z]{2,}")
# Text of a <code> element without a space is a code (an action's, a seal, a key, an
# address), not prose; so is an address in running text (/api/users).
CODE = re.compile(r"^\S+$|^epitrace( [a-z-]+)+$")
ADDRESS = re.compile(r"(?<![\w.])/[a-z0-9_./-]+")
COMMAND = re.compile(r"\bepitrace(?: (?:audit|purge|verify|demo|agent))+\b")  # the CLI's
USER_VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class VisibleText(HTMLParser):
    """The text a person reads on a page (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0  # inside <script>, <style>, <template>
        self._code: list[str] | None = None
        # Open elements marked lang="en": a deliberate English second label (a district's
        # romanised name beside its Korean one), announced as English to screen readers.
        self._english: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if tag == "code":
            self._code = []
        if (values.get("lang") or "").startswith("en") or self._english:
            self._english.append(tag)
            return
        for name in USER_VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.parts.append(str(values[name]))
        submit = tag == "input" and values.get("type") in ("submit", "button", "reset")
        if submit and values.get("value"):
            self.parts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self._english and self._english[-1] == tag:
            self._english.pop()
        if tag in ("script", "style", "template"):
            self._hidden = max(0, self._hidden - 1)
        if tag == "code" and self._code is not None:
            text = "".join(self._code).strip()
            if not CODE.match(text):
                self.parts.append(text)
            self._code = None

    def handle_data(self, data: str) -> None:
        if self._hidden or self._english:
            return
        if self._code is not None:
            self._code.append(data)
        else:
            self.parts.append(data)


def english_words(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    text = COMMAND.sub(" ", ADDRESS.sub(" ", " ".join(parser.parts)))
    words = WORD.findall(text)
    return sorted({w for w in words if w not in ALLOWED_WORDS})


def english_lines(html: str) -> list[str]:
    """The visible texts holding English words: for a failure's message."""
    parser = VisibleText()
    parser.feed(html)
    return [p.strip() for p in parser.parts if english_words(f"<p>{p}</p>")]
