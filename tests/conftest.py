"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from epitrace.providers.store import build_stores
from epitrace.simulate import SimulationConfig, simulate_city

# Small but complete: a weekday and the weekend, enough seeds for confirmed cases.
ANALYSIS_CITY = SimulationConfig(residents=800, days=4, seed=3, imported_seeds_per_1000=15.0)


@pytest.fixture(autouse=True)
def _own_audit_anchor(tmp_path_factory: pytest.TempPathFactory, settings) -> None:
    """Each test its own audit anchor (hub/audit/anchor.py): it only moves forward, and
    the database starts afresh for every test."""
    settings.EPITRACE_AUDIT_ANCHOR = str(tmp_path_factory.mktemp("anchor") / "audit_anchor")


@pytest.fixture(scope="session")
def csv_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated city written as CSV, as an analyst would receive it."""
    folder = tmp_path_factory.mktemp("csv-city")
    simulate_city(ANALYSIS_CITY, folder, fmt="csv")
    return folder


# The analysis city (csv_city), here as Parquet.
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
