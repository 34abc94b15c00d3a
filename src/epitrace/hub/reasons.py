"""What counts as a written purpose, justification or reason: one rule for every form and API.

A purpose is what the audit log and the purge are for: "." or "x" tells an auditor
nothing. A text counts when it holds at least ``MIN_WEIGHT`` letters or digits, at least
one of them a letter and at least ``MIN_DISTINCT`` different ones. A Hangul syllable or
a CJK character counts as two letters (one syllable carries about what two Latin letters
do: "역학조사" passes, as does "tracing"; "확인", "test", "..." and "aaaaaa" do not).
"""

from __future__ import annotations

import unicodedata

from epitrace.errors import UserInputError

MIN_WEIGHT = 6
MIN_DISTINCT = 3


class NotAReason(UserInputError, ValueError):
    """The text does not say why; the message names the field and the rule."""


def _weight(char: str) -> int:
    name = unicodedata.name(char, "")
    return 2 if name.startswith(("HANGUL SYLLABLE", "CJK UNIFIED IDEOGRAPH")) else 1


def is_meaningful(text: str) -> bool:
    """Does ``text`` say something (the rule above)?"""
    signs = [c for c in text.casefold() if c.isalnum()]
    return (
        sum(_weight(c) for c in signs) >= MIN_WEIGHT
        and any(c.isalpha() for c in signs)
        and len(set(signs)) >= MIN_DISTINCT
    )


def rule(name: str) -> str:
    return f"{name} must say why, in words (at least {MIN_WEIGHT} letters or digits)"


def checked(text: str, name: str) -> str:
    """``text`` stripped, or ``NotAReason`` naming the field (never echoing the text)."""
    if not is_meaningful(text or ""):
        raise NotAReason(rule(name))
    return text.strip()
