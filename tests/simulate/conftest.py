"""A small simulated city shared by the simulator's tests (built once per session)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from epitrace.simulate import SimulationConfig, SimulationSummary, simulate_city

# Monday to Sunday: a full week, so the Sunday service (the planted event) is in it.
# More imported seeds than the default so that a week already has confirmed cases to interview.
SMALL_CITY = SimulationConfig(residents=1_500, days=7, seed=7, imported_seeds_per_1000=10.0)


@dataclass
class Dataset:
    folder: Path
    config: SimulationConfig
    summary: SimulationSummary

    def sql(self, query: str) -> list[tuple]:
        """Run DuckDB SQL in which {name} stands for the table file of that name."""
        files = {name: f"read_parquet('{path}')" for name, path in self.summary.files.items()}
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(query.format(**files)).fetchall()

    def value(self, query: str) -> float:
        return self.sql(query)[0][0]

    @property
    def manifest(self) -> dict:
        return json.loads((self.folder / "manifest.json").read_text())


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder = tmp_path_factory.mktemp("small-city")
    summary = simulate_city(SMALL_CITY, folder, fmt="parquet")
    return Dataset(folder, SMALL_CITY, summary)
