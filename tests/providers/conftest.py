"""A small Parquet city, its provider stores, and one local Spark session per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from epitrace.providers.store import build_stores
from epitrace.simulate import SimulationConfig, simulate_city

# The analysis city of tests/conftest.py (csv_city), here as Parquet.
PARQUET_CITY = SimulationConfig(residents=800, days=4, seed=3, imported_seeds_per_1000=15.0)


@pytest.fixture(scope="session")
def parquet_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city written as Parquet, one file per table."""
    folder = tmp_path_factory.mktemp("parquet-city")
    simulate_city(PARQUET_CITY, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="session")
def stores(parquet_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provider store per agency, built from the Parquet city."""
    out = tmp_path_factory.mktemp("stores")
    build_stores(parquet_city, out)
    return out


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for the whole run (starting one takes 6-10 s)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed: pip install -e '.[spark]' to run Spark tests")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from epitrace.providers.queries import local_spark_session

    session = local_spark_session(cores=2, memory="1g")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
