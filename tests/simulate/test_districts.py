"""The simulated city lies on real districts: every place in the 시군구 and 읍면동 it is given."""

from __future__ import annotations

import numpy as np
import pytest

from epitrace.errors import UserInputError
from epitrace.geography import district, locate
from epitrace.simulate import SimulationConfig
from epitrace.simulate.city import build_city
from epitrace.simulate.geography import CentreNotOnLand, CityFrame, on_land, points_around_centre

# City halls: Busan's and Incheon's lie a few kilometres from the sea, so an 18 km
# city around them would put many places at sea if they were not drawn again.
BUSAN = {"centre_lat": 35.1798, "centre_lon": 129.0750, "city_name": "Busan"}
INCHEON = {"centre_lat": 37.4563, "centre_lon": 126.7052, "city_name": "Incheon"}


def given_and_located(config: SimulationConfig) -> tuple[list[str], list[dict]]:
    city = build_city(config, households=1_500)
    given = [city.district_codes[i] for i in city.district.tolist()]
    return given, locate(city.lat, city.lon).to_pylist()


def test_every_place_lies_in_the_district_it_is_given() -> None:
    given, located = given_and_located(SimulationConfig(residents=3_000))
    assert given == [row["sigungu_code"] for row in located]
    assert all(row["emd_code"] for row in located)  # in a real 읍면동, none at sea
    assert {code[:2] for code in given} <= {"27", "47"}  # Daegu, and 경상북도 at its edge
    assert len({code for code in given if code.startswith("27")}) == 8  # its 7 gu and 1 gun


@pytest.mark.parametrize("centre", [BUSAN, INCHEON], ids=["Busan", "Incheon"])
def test_a_coastal_city_puts_nothing_at_sea(centre: dict) -> None:
    config = SimulationConfig(residents=3_000, **centre)
    # Drawn as the simulator draws, many places would be at sea...
    frame = CityFrame.of(config)
    x, y = points_around_centre(np.random.default_rng(1), 2_000, 3_000.0, 18_000.0, 0.08)
    assert (~on_land(frame, x, y)).mean() > 0.05
    # ...but each is drawn again until it is on land, in the district it is given.
    given, located = given_and_located(config)
    assert all(row["emd_code"] for row in located)
    assert given == [row["sigungu_code"] for row in located]
    sido = {"Busan": "부산광역시", "Incheon": "인천광역시"}[config.city_name]
    assert np.mean([row["sido"] == sido for row in located]) > 0.8


def test_a_city_is_built_the_same_from_the_same_seed() -> None:
    config = SimulationConfig(residents=1_000, **BUSAN)
    first, second = build_city(config, 500), build_city(config, 500)
    assert np.array_equal(first.lat, second.lat) and first.addresses == second.addresses


def test_a_centre_at_sea_is_refused() -> None:
    with pytest.raises(CentreNotOnLand, match="not on Korean land") as refused:
        build_city(SimulationConfig(centre_lat=35.0, centre_lon=125.0), households=100)
    assert isinstance(refused.value, UserInputError)


def test_a_case_region_is_the_sigungu_of_its_home(city) -> None:
    rows = city.sql(
        """select c.region, c.region_name, p.lat, p.lon from {cases} c
           join (select distinct person_ref, place_id from {visits}) v using (person_ref)
           join {places} p on p.place_id = v.place_id and p.kind = 'home'"""
    )
    assert len(rows) == city.value("select count(*) from {cases}") > 0
    homes = locate([r[2] for r in rows], [r[3] for r in rows])
    assert [r[0] for r in rows] == homes.column("sigungu_code").to_pylist()
    assert [r[1] for r in rows] == [district(r[0]).korean for r in rows]


def test_addresses_and_names_use_the_real_districts() -> None:
    config = SimulationConfig(residents=1_000)
    city = build_city(config, households=400)
    where = locate(city.lat, city.lon).to_pylist()
    for address, name, row in zip(city.addresses, city.names, where, strict=True):
        assert address.startswith(f"{row['sido']} {row['sigungu']} {row['emd']} ")
        assert row["emd"] in name or name.endswith("Station")
