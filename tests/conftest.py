"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from epitrace.simulate import SimulationConfig, simulate_city

# Small but complete: a weekday and the weekend, enough seeds for confirmed cases.
ANALYSIS_CITY = SimulationConfig(residents=800, days=4, seed=3, imported_seeds_per_1000=15.0)


@pytest.fixture(scope="session")
def csv_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated city written as CSV, as an analyst would receive it."""
    folder = tmp_path_factory.mktemp("csv-city")
    simulate_city(ANALYSIS_CITY, folder, fmt="csv")
    return folder
