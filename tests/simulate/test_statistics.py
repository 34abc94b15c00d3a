"""The output statistics fall in the ranges docs/simulation.md states."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
import pytest

from epitrace.simulate import SimulationConfig, simulate_city

KST = "interval 9 hour"  # Asia/Seoul has no daylight saving time


def test_records_per_subscriber_day(city) -> None:
    per_day = city.value(
        "select count(*) / (select count(*) from {subscribers}) / 7.0 from {telecom_records}"
    )
    assert 60 <= per_day <= 130


def test_more_records_by_day_than_at_night(city) -> None:
    rows = city.sql(
        f"select extract(hour from ts + {KST}) as h, count(*) from {{telecom_records}} group by 1"
    )
    by_hour = np.zeros(24)
    for hour, count in rows:
        by_hour[hour] = count
    per_person_hour = by_hour / city.summary.rows["subscribers"] / 7
    assert np.all(per_person_hour[1:5] < 0.6)  # 01-05: sparse
    assert np.all(per_person_hour[9:21] > 3.5)  # 09-21: often minutes apart
    assert per_person_hour[9:21].mean() > 5 * per_person_hour[1:5].mean()


def test_some_subscribers_fall_silent_for_hours(city) -> None:
    longest_daytime_gap_h = city.sql(
        f"""
        with r as (select subscriber, ts, lead(ts) over (partition by subscriber order by ts) nxt
                   from {{telecom_records}})
        select subscriber, max(epoch(nxt) - epoch(ts)) / 3600 from r
        where extract(hour from ts + {KST}) between 8 and 16 group by 1
        """
    )
    gaps = np.array([g for _, g in longest_daytime_gap_h if g is not None])
    assert np.mean(gaps > 2.0) > 0.05  # phone off or out of coverage, now and then


def test_cell_radius_grows_with_distance_from_centre(city) -> None:
    lat0, lon0 = city.config.centre_lat, city.config.centre_lon
    rows = city.sql(
        f"""select sqrt(pow((lat - {lat0}) * 110540, 2) + pow((lon - {lon0}) * 90200, 2)) d,
                   radius_m from {{cells}}"""
    )
    distance, radius = np.array(rows).T
    assert radius.min() >= 50 and radius.max() <= 10_000
    downtown = radius[distance < 3_000]
    suburban = radius[(distance > 5_000) & (distance < 10_000)]
    rural = radius[distance > 14_000]
    assert 100 <= np.median(downtown) <= 500
    assert 500 <= np.median(suburban) <= 2_000
    assert 2_000 <= np.median(rural) <= 10_000
    assert np.corrcoef(distance, np.log(radius))[0, 1] > 0.9


def test_three_carriers_with_their_shares(city) -> None:
    shares = dict(city.sql("select carrier, count(*) / (select count(*) from {subscribers}) "
                           "from {subscribers} group by 1"))  # fmt: skip
    assert set(shares) == {"SKT", "KT", "LGU"}
    assert shares["SKT"] > shares["KT"] > shares["LGU"] > 0.15


def test_share_of_online_transactions(city) -> None:
    online = city.value("select avg((channel = 'online')::int) from {card_transactions}")
    assert 0.2 <= online <= 0.45


def test_cards_per_person_and_issuers(city) -> None:
    per_person = city.sql("select person_ref, count(*) from {card_holders} group by 1")
    counts = np.array([c for _, c in per_person])
    assert counts.max() <= 4
    assert city.value("select count(distinct issuer) from {card_holders}") >= 15
    assert 1.5 <= counts.sum() / city.config.residents <= 2.5


def test_gps_for_a_few_people_every_few_seconds_to_minutes(city) -> None:
    people = city.value("select count(distinct person_ref) from {gps_points}")
    assert 0.005 <= people / city.config.residents <= 0.03
    median_gap = city.value(
        """with g as (select epoch(ts) - epoch(lag(ts) over (partition by person_ref order by ts))
                             as gap from {gps_points})
           select median(gap) from g where gap is not null"""
    )
    assert 5 <= median_gap <= 180


def test_attack_rate_and_clusters(city) -> None:
    infections = city.summary.rows["infections"]
    attack_rate = infections / city.config.residents
    assert 0.005 <= attack_rate <= 0.10
    # At least one superspreading cluster: one infector, one place, many infectees.
    largest = city.value(
        "select max(n) from (select count(*) n from {infections} "
        "where place_id is not null group by place_id, infector)"
    )
    assert largest >= 8


def test_planted_event_can_be_read_from_truth(city) -> None:
    planted = city.manifest["outbreak"]["planted_event"]
    assert planted["kind"] == "church"
    at_event = city.sql(
        f"""select count(*), min(ts), max(ts) from {{infections}}
            where place_id = '{planted["place_id"]}' and infector = '{planted["index_case"]}'"""
    )[0]
    assert at_event[0] == planted["infections"] >= 8
    kind = city.value(f"select kind from {{places}} where place_id = '{planted['place_id']}'")
    assert kind == "church"
    # Infections at the event happen during the service, on a Sunday.
    assert at_event[1].astimezone().weekday() in (6, 0)


def test_cases_have_regions_and_some_have_no_onset(city) -> None:
    rows = city.sql("select region, onset_date, confirmed_date from {cases}")
    assert rows
    # Daegu's 시군구 (code 27...), and a few from the neighbouring 경상북도 (47...) the
    # city's edge reaches.
    assert {r[:2] for r, _, _ in rows} <= {"27", "47"}
    assert all(onset is None or onset <= confirmed for _, onset, confirmed in rows)


def test_null_outbreak_has_no_places_and_spreads_over_time(tmp_path) -> None:
    config = SimulationConfig(
        residents=2_000, days=6, seed=3, outbreak="null", null_attack_rate=0.05
    )
    summary = simulate_city(config, tmp_path)
    infections = pq.read_table(summary.files["infections"]).to_pydict()
    assert len(infections["infectee"]) == 100
    assert all(p is None for p in infections["place_id"])
    assert all(p is None for p in infections["infector"])
    days = {ts.date() for ts in infections["ts"]}
    assert len(days) >= 5  # uniform over the period, not bunched
    assert summary.planted is None


def test_planted_outbreak_is_the_null_background_plus_the_event_alone(tmp_path) -> None:
    """outbreak="planted": every infection is either uniform background (no
    infector, no place) or at the planted event (its place, its day, infected
    by its index case): no onward spread, no households."""
    config = SimulationConfig(
        residents=2_000, days=16, seed=4, start=dt.date(2020, 2, 15), outbreak="planted",
        null_attack_rate=0.05, superspreading_from_day=1, superspreader_infectiousness=60.0,
    )  # fmt: skip
    summary = simulate_city(config, tmp_path)
    event = summary.planted
    assert event is not None and event["start"][:10] == "2020-02-16"
    places = pq.read_table(summary.files["places"]).to_pydict()
    assert event["place_id"] in places["place_id"]
    infections = pq.read_table(summary.files["infections"]).to_pylist()
    background = [i for i in infections if i["infector"] is None]
    at_event = [i for i in infections if i["infector"] is not None]
    # The background and the index case (an imported infection, three days before).
    assert len(background) == 100 + 1
    assert all(i["place_id"] is None for i in background)
    assert len(at_event) == event["infections"] >= 5
    assert {i["infector"] for i in at_event} == {event["index_case"]}
    assert {i["place_id"] for i in at_event} == {event["place_id"]}
    assert {str(i["ts"].astimezone(dt.timezone(dt.timedelta(hours=9))).date())
            for i in at_event} == {"2020-02-16"}  # fmt: skip
    with pytest.raises(ValueError, match="outbreak must be"):
        SimulationConfig(outbreak="epidemic")  # type: ignore[arg-type]


def test_planted_event_can_be_put_into_an_epidemic_under_way(tmp_path) -> None:
    """superspreading_from_day: the first Sunday from that day on (2020-02-15 is a Saturday)."""
    config = SimulationConfig(
        residents=1_500, days=16, seed=2, start=dt.date(2020, 2, 15), superspreading_from_day=9
    )
    summary = simulate_city(config, tmp_path)
    assert summary.planted is not None
    assert summary.planted["start"][:10] == "2020-03-01"  # day 15, the Sunday after day 9
    with pytest.raises(ValueError, match="superspreading_from_day"):
        SimulationConfig(days=7, superspreading_from_day=-1)
