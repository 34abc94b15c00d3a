"""One local Spark session per test run (the Parquet city and its stores: tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


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
