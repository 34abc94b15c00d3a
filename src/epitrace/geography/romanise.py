"""English labels for Korean district names: the Revised Romanization of Korean.

``romanise("종로구")`` gives ``"Jongno-gu"``: the 2000 Revised Romanization
(국어의 로마자 표기법, Ministry of Culture and Tourism notice 2000-8), with the
rules that matter for place names:

- the sound changes between syllables are written (제3장 제1항): a final
  consonant carried to a following vowel (해운대 Haeundae, 법원 Beobwon),
  nasalisation (독립문 Dongnimmun, 왕십리 Wangsimni), ㄹ after ㄴ or ㄹ as
  ``ll`` (신림 Sillim, 전라 Jeolla), ㄹ after ㅁ or ㅇ as ``n`` (종로 Jongno,
  청량리 Cheongnyangni), palatalisation (같이 gachi); in nouns ㄱ, ㄷ, ㅂ before
  ㅎ keep their ``h`` (묵호 Mukho, 집현 Jiphyeon);
- administrative units (도, 시, 군, 구, 읍, 면, 동, 리, 가) follow a hyphen, and
  no sound change is written across it (제3장 제5항: 당산동 Dangsan-dong,
  종로2가 Jongno 2-ga);
- a metropolitan or special city drops its unit (서울특별시 Seoul, 대구광역시
  Daegu), a special self-governing province is a ``-do`` (제주특별자치도
  Jeju-do), as the cities and provinces name themselves in English.

Every word starts with a capital letter; characters that are not Hangul
(digits, spaces, Latin letters) are kept as they are. Exceptions the notation
rule cannot know (a name's own traditional spelling, an inserted ㄴ as in
색연필) are not handled: the result is the regular romanisation.
"""

from __future__ import annotations

import re

__all__ = ["romanise"]

_FIRST, _LAST = 0xAC00, 0xD7A3  # the precomposed Hangul syllables

# Initial consonants in Unicode order (ㄱ ㄲ ㄴ ... ㅎ), as written before a vowel; ㅇ is silent.
_INITIALS = tuple(
    [
        "g",
        "kk",
        "n",
        "d",
        "tt",
        "r",
        "m",
        "b",
        "pp",
        "s",
        "ss",
        "",
        "j",
        "jj",
        "ch",
        "k",
        "t",
        "p",
        "h",
    ]
)
_VOWELS = tuple(
    [
        "a",
        "ae",
        "ya",
        "yae",
        "eo",
        "e",
        "yeo",
        "ye",
        "o",
        "wa",
        "wae",
        "oe",
        "yo",
        "u",
        "wo",
        "we",
        "wi",
        "yu",
        "eu",
        "ui",
        "i",
    ]
)
# Final consonants in Unicode order; index 0 is a syllable without one.
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
# The sound a final has before a consonant or at the end of a word (7 representatives).
_SOUND = {"": ""} | {
    final: sound
    for sound, finals in (
        ("k", "ㄱㄲㅋㄳㄺ"),
        ("n", "ㄴㄵㄶ"),
        ("t", "ㄷㅅㅆㅈㅊㅌㅎ"),
        ("l", "ㄹㄼㄽㄾㅀ"),
        ("m", "ㅁㄻ"),
        ("p", "ㅂㅍㅄㄿ"),
        ("ng", "ㅇ"),
    )
    for final in finals
}
# Before a vowel a single final starts the next syllable (ㅇ stays, ㅎ falls silent) and
# a double final splits: (what stays, what starts the next syllable).
_CARRIED = (
    {"": ("", ""), "ㅇ": ("ng", ""), "ㅎ": ("", "")}
    | {
        final: ("", onset)
        for final, onset in zip(
            "ㄱㄲㄴㄷㄹㅁㅂㅅㅆㅈㅊㅋㅌㅍ",
            ["g", "kk", "n", "d", "r", "m", "b", "s", "ss", "j", "ch", "k", "t", "p"],
            strict=True,
        )
    }
    | {
        final: (coda, onset)
        for final, coda, onset in (
            ("ㄳ", "k", "s"),
            ("ㄵ", "n", "j"),
            ("ㄶ", "", "n"),
            ("ㄺ", "l", "g"),
            ("ㄻ", "l", "m"),
            ("ㄼ", "l", "b"),
            ("ㄽ", "l", "s"),
            ("ㄾ", "l", "t"),
            ("ㄿ", "l", "p"),
            ("ㅀ", "", "r"),
            ("ㅄ", "p", "s"),
        )
    }
)
_NASAL = {"k": "ng", "t": "n", "p": "m"}
_ASPIRATED = {"g": "k", "d": "t", "j": "ch"}  # after a final ㅎ
_I_VOWEL = 20  # ㅣ: ㄷ and ㅌ carried onto it palatalise

# Metropolitan and special cities drop their unit; special provinces are provinces.
_CITY_SUFFIXES = ("특별자치시", "특별시", "광역시")
_PROVINCE_SUFFIXES = ("특별자치도",)
_UNITS = dict(
    zip(
        "도시군구읍면동리가",
        ["do", "si", "gun", "gu", "eup", "myeon", "dong", "ri", "ga"],
        strict=True,
    )
)
# A city's district written as one word, as the NGII data does: 수원시장안구.
_CITY_DISTRICT = re.compile(r"^(?P<city>..+시)(?P<district>.+구)$")
# A word that ends in a number and a unit: 동인동1가, 봉천1동.
_NUMBERED = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)(?P<unit>[가동로길])$")


def romanise(name: str) -> str:
    """The English (Revised Romanization) form of a Korean place name.

    Parameters: ``name``, a district name as the NGII data spells it, one or
    more words (``"대구광역시"``, ``"창원시 의창구"``, ``"동인동1가"``).
    Returns the romanised name, each word capitalised (``"Daegu"``,
    ``"Changwon-si Uichang-gu"``, ``"Dongin-dong 1-ga"``; a city's district
    written as one word, ``"수원시장안구"``, reads ``"Suwon-si Jangan-gu"``); an empty string for
    an empty name. Never raises.
    """
    return " ".join(_word(word) for word in name.split())


def _word(word: str) -> str:
    joined = _CITY_DISTRICT.match(word)
    if joined:
        return f"{_word(joined['city'])} {_word(joined['district'])}"
    numbered = _NUMBERED.match(word)
    if numbered and numbered["stem"]:
        unit = _UNITS.get(numbered["unit"], _syllables(numbered["unit"]))
        return f"{_word(numbered['stem'])} {numbered['number']}-{unit}"
    for suffix in _CITY_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return _capitalised(_syllables(word[: -len(suffix)]))
    for suffix in _PROVINCE_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return _capitalised(_syllables(word[: -len(suffix)])) + "-do"
    if len(word) > 1 and word[-1] in _UNITS and _is_hangul(word[-2]):
        return _capitalised(_syllables(word[:-1])) + "-" + _UNITS[word[-1]]
    return _capitalised(_syllables(word))


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_hangul(char: str) -> bool:
    return _FIRST <= ord(char) <= _LAST


def _syllables(text: str) -> str:
    """Hangul romanised with the sound changes between adjacent syllables."""
    out: list[str] = []
    carried: str | None = None  # the next syllable's initial, when the boundary set it
    for i, char in enumerate(text):
        if not _is_hangul(char):
            out.append(char)
            carried = None
            continue
        code = ord(char) - _FIRST
        initial, vowel, final = code // 588, (code % 588) // 28, _FINALS[code % 28]
        out.append((_INITIALS[initial] if carried is None else carried) + _VOWELS[vowel])
        following = text[i + 1] if i + 1 < len(text) else ""
        if following and _is_hangul(following):
            next_code = ord(following) - _FIRST
            coda, carried = _boundary(final, next_code // 588, (next_code % 588) // 28)
        else:
            coda, carried = ("l" if final and _SOUND[final] == "l" else _SOUND[final]), None
        out.append(coda)
    return "".join(out)


def _boundary(final: str, next_initial: int, next_vowel: int) -> tuple[str, str]:
    """How a final and the next syllable's initial are written: (coda, initial)."""
    letter = _INITIALS[next_initial]
    if letter == "":  # the next syllable starts with a vowel: the final is carried over
        coda, onset = _CARRIED[final]
        if next_vowel == _I_VOWEL and onset in ("d", "t"):
            onset = "j" if onset == "d" else "ch"
        return coda, onset
    if final in ("ㅎ", "ㄶ", "ㅀ"):  # ㅎ aspirates the consonant after it
        remaining = {"ㅎ": "", "ㄶ": "n", "ㅀ": "l"}[final]
        if letter in _ASPIRATED:
            return remaining, _ASPIRATED[letter]
        if letter == "n":  # 놓는 non-neun, 끓는 kkeul-leun
            return (remaining or "n"), ("l" if remaining == "l" else "n")
        return remaining, letter
    sound = _SOUND[final]
    if letter == "h":
        return sound, "h"  # nouns keep the h after ㄱ, ㄷ, ㅂ (묵호 Mukho)
    if letter in ("n", "m"):
        if sound == "l" and letter == "n":
            return "l", "l"
        return _NASAL.get(sound, sound), letter
    if letter == "r":
        if sound in ("l", "n"):
            return "l", "l"
        if sound in ("m", "ng"):
            return sound, "n"
        if sound in _NASAL:
            return _NASAL[sound], "n"
        return "", "r"
    return sound, letter
