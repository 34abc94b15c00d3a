"""English labels of districts follow the Revised Romanization as the places spell themselves."""

from __future__ import annotations

import pytest

from epitrace.geography import locate, romanise

# Official English names (road signs, the districts' own sites) that exercise each rule.
OFFICIAL = {
    "서울특별시": "Seoul",
    "대구광역시": "Daegu",
    "세종특별자치시": "Sejong",
    "제주특별자치도": "Jeju-do",
    "경기도": "Gyeonggi-do",
    "전라남도": "Jeollanam-do",  # ㄴ before ㄹ: ll
    "종로구": "Jongno-gu",  # ㄹ after ㅇ: n
    "영등포구": "Yeongdeungpo-gu",
    "해운대구": "Haeundae-gu",
    "달성군": "Dalseong-gun",
    "부산진구": "Busanjin-gu",
    "의정부시": "Uijeongbu-si",
    "창원시 의창구": "Changwon-si Uichang-gu",
    "수원시장안구": "Suwon-si Jangan-gu",  # as the NGII data joins a city and its district
    "포항시남구": "Pohang-si Nam-gu",
    "신림동": "Sillim-dong",
    "왕십리동": "Wangsimni-dong",  # ㅂ before ㄹ: m n
    "청량리동": "Cheongnyangni-dong",
    "학익동": "Hagik-dong",  # a final carried to the vowel after it
    "대관령면": "Daegwallyeong-myeon",
    "설악면": "Seorak-myeon",
    "인왕리": "Inwang-ri",
    "동인동1가": "Dongin-dong 1-ga",
    "태평로1가": "Taepyeongno 1-ga",
}


@pytest.mark.parametrize(("korean", "english"), OFFICIAL.items())
def test_district_names_read_as_officially_romanised(korean: str, english: str) -> None:
    assert romanise(korean) == english


@pytest.mark.parametrize(
    ("word", "english"),
    [
        ("독립문", "Dongnimmun"),
        ("묵호", "Mukho"),
        ("같이", "Gachi"),
        ("좋고", "Joko"),
        ("법원", "Beobwon"),
    ],
)
def test_sound_changes_between_syllables_are_written(word: str, english: str) -> None:
    assert romanise(word) == english


def test_no_sound_change_is_written_across_the_unit_hyphen() -> None:
    # 당산동 is pronounced [당산똥]; the unit keeps its own spelling after the hyphen.
    assert romanise("당산동") == "Dangsan-dong"
    assert romanise("구리시") == "Guri-si"


def test_what_is_not_hangul_is_kept() -> None:
    assert romanise("") == ""
    assert romanise("Seoul 2") == "Seoul 2"


def test_every_district_seoul_city_hall_is_in_reads_in_latin_letters() -> None:
    place = locate([37.5663], [126.9779]).to_pylist()[0]
    names = [romanise(place[level]) for level in ("sido", "sigungu", "emd")]
    assert names == ["Seoul", "Jung-gu", "Taepyeongno 1-ga"]
    assert all(name.isascii() for name in names)
