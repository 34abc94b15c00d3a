"""One query, two engines: every query kind gives the same answer on DuckDB and on Spark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from epitrace.providers.queries import (
    Circle,
    DailyWindow,
    DuckDBEngine,
    MerchantTime,
    PlaceTimePresence,
    ProviderStore,
    Query,
    SparkEngine,
    SubjectExtract,
)

pytestmark = pytest.mark.spark

KST = dt.timezone(dt.timedelta(hours=9))
START = dt.datetime(2020, 2, 10, tzinfo=KST)
END = dt.datetime(2020, 2, 14, tzinfo=KST)
# Daegu city centre: cells, merchants and venues all around.
CENTRE = Circle(35.8714, 128.6014, 2_000.0)


@pytest.fixture(scope="module")
def spark(spark_session: Any) -> SparkEngine:
    return SparkEngine(spark_session)


def _first(store: ProviderStore, table: str, column: str) -> str:
    t = store._table(table)
    return store._run(t.select(column).order_by(column).limit(1)).column(0)[0].as_py()


def _both(folder: Path, spark: SparkEngine, query: Query) -> tuple[Any, Any]:
    on_duckdb = ProviderStore(folder, DuckDBEngine()).run(query)
    on_spark = ProviderStore(folder, spark).run(query)
    return on_duckdb, on_spark


def _assert_same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema
    assert a.to_pylist() == b.to_pylist()


def test_subject_extract_on_both_engines(stores: Path, spark: SparkEngine) -> None:
    for folder, table, key in (
        ("skt", "subscribers", "subscriber"),
        ("kb-kookmin", "card_holders", "card_id"),
        ("gps", "gps_points", "person_ref"),
    ):
        identifier = _first(ProviderStore(stores / folder), table, key)
        duck, sparked = _both(stores / folder, spark, SubjectExtract(identifier, START, END))
        assert duck.keys() == sparked.keys()
        assert any(t.num_rows for t in duck.values()), folder
        for name in duck:
            _assert_same(duck[name], sparked[name])


@pytest.mark.parametrize(
    ("daily", "dwell"), [(None, 30.0), (DailyWindow(dt.time(22), dt.time(5)), 0.0)]
)
def test_place_time_presence_on_both_engines(
    stores: Path, spark: SparkEngine, daily: DailyWindow | None, dwell: float
) -> None:
    query = PlaceTimePresence((CENTRE,), START, END, daily=daily, min_dwell_min=dwell)
    duck, sparked = _both(stores / "kt", spark, query)
    assert duck.num_rows > 0
    _assert_same(duck, sparked)


def test_check_ins_on_both_engines(stores: Path, spark: SparkEngine) -> None:
    query = PlaceTimePresence((CENTRE,), START, END, daily=DailyWindow(dt.time(18), dt.time(2)))
    duck, sparked = _both(stores / "naver", spark, query)
    assert duck.num_rows > 0
    _assert_same(duck, sparked)


def test_merchant_time_on_both_engines(stores: Path, spark: SparkEngine) -> None:
    query = MerchantTime(START, END, near=CENTRE, margin_min=30.0)
    duck, sparked = _both(stores / "shinhan", spark, query)
    assert duck.num_rows > 0
    _assert_same(duck, sparked)
