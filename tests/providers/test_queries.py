"""The three query kinds: right answers against brute force on the raw tables, and refusals."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from epitrace.formats.schemas import table
from epitrace.providers.queries import (
    CHECKIN_SCHEMA,
    MERCHANT_TIME_SCHEMA,
    PRESENCE_SCHEMA,
    Circle,
    DailyWindow,
    MerchantTime,
    PlaceTimePresence,
    ProviderStore,
    QueryRefused,
    SubjectExtract,
    conform_answer,
)

KST = dt.timezone(dt.timedelta(hours=9))
START = dt.datetime(2020, 2, 10, tzinfo=KST)
END = dt.datetime(2020, 2, 14, tzinfo=KST)


def _raw(dataset: Path, sql: str, **params: object) -> pa.Table:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for name in (
        "telecom_records",
        "cells",
        "subscribers",
        "card_transactions",
        "card_holders",
        "merchants",
        "entry_logs",
        "transit_taps",
    ):
        db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{dataset}/{name}.parquet')")
    return db.sql(sql, params=params).to_arrow_table()


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def busy_place(dataset: Path) -> Circle:
    """The merchant with the most card payments: somewhere people certainly were."""
    row = _raw(
        dataset,
        "SELECT m.lat, m.lon FROM card_transactions t JOIN merchants m USING (merchant_id) "
        "WHERE channel = 'offline' GROUP BY ALL ORDER BY count(*) DESC, 1, 2 LIMIT 1",
    ).to_pylist()[0]
    return Circle(row["lat"], row["lon"], 800.0)


def test_subject_extract_of_a_subscriber(parquet_city: Path, stores: Path) -> None:
    subscriber = (
        _raw(
            parquet_city,
            "SELECT subscriber FROM subscribers WHERE carrier = 'KT' ORDER BY 1 LIMIT 1",
        )
        .column(0)[0]
        .as_py()
    )
    start, end = START + dt.timedelta(hours=7), END - dt.timedelta(hours=30)
    got = ProviderStore(stores / "kt").subject_extract(SubjectExtract(subscriber, start, end))
    expected = _raw(
        parquet_city,
        "SELECT * FROM telecom_records WHERE subscriber = $s AND ts >= $a AND ts < $b",
        s=subscriber,
        a=start,
        b=end,
    )
    spec = table("telecom_records").arrow_schema
    assert got["telecom_records"].num_rows > 10
    assert got["telecom_records"].equals(
        conform_answer(expected, spec, ["subscriber", "ts", "carrier", "cell_id", "event"])
    )
    assert set(got["cells"].column("cell_id").to_pylist()) == set(
        expected.column("cell_id").to_pylist()
    )


def test_subject_extract_of_a_card(parquet_city: Path, stores: Path) -> None:
    card, issuer = (
        _raw(
            parquet_city,
            "SELECT card_id, issuer FROM card_transactions GROUP BY ALL ORDER BY count(*) DESC, 1 "
            "LIMIT 1",
        )
        .to_pylist()[0]
        .values()
    )
    store = ProviderStore(stores / issuer.lower().replace(" ", "-"))
    got = store.subject_extract(SubjectExtract(card, START, END))
    expected = _raw(
        parquet_city,
        "SELECT * FROM card_transactions WHERE card_id = $c AND ts >= $a AND ts < $b",
        c=card,
        a=START,
        b=END,
    )
    assert got["card_transactions"].num_rows == expected.num_rows > 0
    assert sorted(got["card_transactions"].column("ts").to_pylist()) == sorted(
        expected.column("ts").to_pylist()
    )
    assert set(got["merchants"].column("merchant_id").to_pylist()) == set(
        expected.column("merchant_id").to_pylist()
    )


def test_card_directory_answers_which_issuers(parquet_city: Path, stores: Path) -> None:
    person = (
        _raw(
            parquet_city, "SELECT person_ref FROM card_holders GROUP BY 1 ORDER BY count(*) DESC, 1"
        )
        .column(0)[0]
        .as_py()
    )
    expected = _raw(
        parquet_city, "SELECT DISTINCT issuer FROM card_holders WHERE person_ref = $p", p=person
    )
    association = ProviderStore(stores / "credit-finance-association")
    assert association.issuers_holding(person) == sorted(expected.column(0).to_pylist())


def expected_presence(
    dataset: Path,
    carrier: str,
    place: Circle,
    windows: list[tuple[dt.datetime, dt.datetime]],
    min_dwell_min: float,
) -> pa.Table:
    """Brute force: cells by Python haversine, each window in plain SQL on the raw table."""
    cells = _raw(dataset, "SELECT * FROM cells WHERE carrier = $c", c=carrier).to_pylist()
    near = [
        c["cell_id"]
        for c in cells
        if _haversine_m(c["lat"], c["lon"], place.lat, place.lon) <= c["radius_m"] + place.radius_m
    ]
    parts = []
    for lo, hi in windows:
        part = _raw(
            dataset,
            "SELECT t.carrier, t.subscriber, s.person_ref, $lo AS window_start, "
            "$hi AS window_end, min(ts) AS first_seen, max(ts) AS last_seen, "
            "count(*) AS records, count(DISTINCT cell_id) AS cells, "
            "(epoch_us(max(ts)) - epoch_us(min(ts))) / 60e6 AS dwell_min "
            "FROM telecom_records t LEFT JOIN subscribers s USING (carrier, subscriber) "
            "WHERE t.carrier = $c AND list_contains($near, cell_id) AND ts >= $lo AND ts < $hi "
            "GROUP BY ALL HAVING dwell_min >= $d",
            c=carrier,
            near=near,
            lo=lo,
            hi=hi,
            d=min_dwell_min,
        )
        parts.append(conform_answer(part, PRESENCE_SCHEMA, ["subscriber"]))
    return conform_answer(
        pa.concat_tables(parts), PRESENCE_SCHEMA, ["window_start", "carrier", "subscriber"]
    )


def test_daily_window_crossing_midnight_in_local_time() -> None:
    nights = DailyWindow(dt.time(22), dt.time(5)).intervals(START, END)
    assert nights[0] == (
        dt.datetime(2020, 2, 9, 15, tzinfo=dt.UTC),  # 00:00 KST on the 10th: clipped to START
        dt.datetime(2020, 2, 9, 20, tzinfo=dt.UTC),  # 05:00 KST
    )
    assert nights[1] == (
        dt.datetime(2020, 2, 10, 13, tzinfo=dt.UTC),  # 22:00 KST
        dt.datetime(2020, 2, 10, 20, tzinfo=dt.UTC),  # 05:00 KST next morning
    )
    assert len(nights) == 5  # the last night starts 22:00 on the 13th, clipped at END


@pytest.mark.parametrize("daily", [None, DailyWindow(dt.time(22), dt.time(5))])
def test_place_time_presence(parquet_city: Path, stores: Path, daily: DailyWindow | None) -> None:
    place = busy_place(parquet_city)
    query = PlaceTimePresence((place,), START, END, daily=daily, min_dwell_min=20.0)
    got = ProviderStore(stores / "skt").presence(query)
    expected = expected_presence(parquet_city, "SKT", place, query.windows(), 20.0)
    assert got.num_rows > 0
    assert got.equals(expected)
    assert min(got.column("dwell_min").to_pylist()) >= 20.0


def test_a_longer_dwell_keeps_fewer_subscribers(parquet_city: Path, stores: Path) -> None:
    place = busy_place(parquet_city)
    store = ProviderStore(stores / "skt")
    short = store.presence(PlaceTimePresence((place,), START, END, min_dwell_min=0.0))
    long = store.presence(PlaceTimePresence((place,), START, END, min_dwell_min=240.0))
    assert 0 < long.num_rows < short.num_rows


def test_check_ins_at_venues_inside_a_place(parquet_city: Path, stores: Path) -> None:
    venue = _raw(
        parquet_city,
        "SELECT operator, lat, lon FROM entry_logs GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1",
    ).to_pylist()[0]
    place = Circle(venue["lat"], venue["lon"], 300.0)
    store = ProviderStore(stores / venue["operator"].lower())
    got = store.presence(PlaceTimePresence((place,), START, END, min_dwell_min=60))
    rows = _raw(
        parquet_city,
        "SELECT * FROM entry_logs WHERE operator = $o AND ts >= $a AND ts < $b",
        o=venue["operator"],
        a=START,
        b=END,
    ).to_pylist()
    inside = [r for r in rows if _haversine_m(r["lat"], r["lon"], place.lat, place.lon) <= 300.0]
    assert got.num_rows > 0
    assert got.schema == CHECKIN_SCHEMA
    assert sum(got.column("checkins").to_pylist()) == len(inside)
    assert set(got.column("visitor").to_pylist()) == {r["visitor"] for r in inside}


@pytest.mark.parametrize("by", ["near", "ids"])
def test_merchant_time(parquet_city: Path, stores: Path, by: str) -> None:
    place = busy_place(parquet_city)
    merchants = _raw(parquet_city, "SELECT merchant_id, lat, lon FROM merchants").to_pylist()
    near = sorted(
        m["merchant_id"]
        for m in merchants
        if _haversine_m(m["lat"], m["lon"], place.lat, place.lon) <= place.radius_m
    )[:10]
    start, end = START + dt.timedelta(hours=11), START + dt.timedelta(hours=14)
    query = (
        MerchantTime(start, end, near=place, margin_min=30)
        if by == "near"
        else MerchantTime(start, end, merchant_ids=tuple(near), margin_min=30)
    )
    issuer = "Shinhan"
    got = ProviderStore(stores / "shinhan").merchant_time(query)
    expected = _raw(
        parquet_city,
        "SELECT t.*, h.person_ref FROM card_transactions t LEFT JOIN card_holders h "
        "USING (issuer, card_id) WHERE t.issuer = $i AND list_contains($m, merchant_id) "
        "AND channel = 'offline' AND ts >= $a AND ts < $b",
        i=issuer,
        m=near,
        a=start - dt.timedelta(minutes=30),
        b=end + dt.timedelta(minutes=30),
    )
    assert got.num_rows > 0
    assert got.equals(
        conform_answer(expected, MERCHANT_TIME_SCHEMA, ["ts", "card_id", "merchant_id", "amount"])
    )


REFUSALS = [
    (lambda: SubjectExtract("", START, END), "non-empty"),
    (lambda: SubjectExtract("x" * 65, START, END), "at most 64"),
    (lambda: SubjectExtract("010-1", END, START), "after start"),
    (lambda: SubjectExtract("010-1", START, START + dt.timedelta(days=32)), "31 days"),
    (lambda: SubjectExtract("010-1", dt.datetime(2020, 2, 10), END), "UTC offset"),
    (lambda: Circle(35.0, 128.0, 2_001.0), "radius_m"),
    (lambda: Circle(95.0, 128.0, 100.0), "lat"),
    (lambda: Circle(35.0, 128.0, float("nan")), "radius_m"),
    (lambda: PlaceTimePresence((), START, END), "between 1 and 10 places"),
    (lambda: PlaceTimePresence((Circle(35, 128, 10),) * 11, START, END), "between 1 and 10"),
    (lambda: PlaceTimePresence((Circle(35, 128, 10),), START, END, min_dwell_min=-1), "dwell"),
    (lambda: DailyWindow(dt.time(5), dt.time(5)), "must differ"),
    (lambda: DailyWindow(dt.time(0), dt.time(5), "Mars/Olympus"), "time zone"),
    (lambda: DailyWindow(dt.time(0, tzinfo=dt.UTC), dt.time(5)), "without a zone"),
    (
        lambda: PlaceTimePresence(
            (Circle(35, 128, 10),),
            START + dt.timedelta(hours=6),  # 06:00-07:00 KST holds no 00:00-05:00
            START + dt.timedelta(hours=7),
            daily=DailyWindow(dt.time(0), dt.time(5)),
        ),
        "never falls inside",
    ),
    (lambda: MerchantTime(START, END), "either merchant_ids or near"),
    (
        lambda: MerchantTime(START, END, merchant_ids=("M1",), near=Circle(35, 128, 10)),
        "not both",
    ),
    (lambda: MerchantTime(START, END, merchant_ids=tuple(f"M{i}" for i in range(11))), "at most"),
    (lambda: MerchantTime(START, END, merchant_ids=("",)), "merchant_id"),
    (lambda: MerchantTime(START, END, merchant_ids=("M1",), margin_min=600), "margin_min"),
]


@pytest.mark.parametrize(("build", "reason"), REFUSALS)
def test_out_of_bounds_or_malformed_queries_are_refused(
    build: Callable[[], object], reason: str
) -> None:
    with pytest.raises(QueryRefused, match=reason) as refused:
        build()
    assert reason in refused.value.reason


def test_a_store_refuses_queries_it_cannot_answer(stores: Path) -> None:
    query = MerchantTime(START, END, merchant_ids=("M1",))
    with pytest.raises(QueryRefused, match="does not answer merchant-time"):
        ProviderStore(stores / "skt").merchant_time(query)
    presence = PlaceTimePresence((Circle(35.87, 128.6, 100),), START, END)
    with pytest.raises(QueryRefused, match="does not answer place-time"):
        ProviderStore(stores / "shinhan").presence(presence)
