"""Every table of the data contract is written, with the contract's schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from epitrace.formats.schemas import TABLES, table
from epitrace.formats.writers import table_path
from epitrace.simulate import SimulationConfig, simulate_city

SIMULATED = (
    "cells", "subscribers", "telecom_records", "merchants", "card_holders", "card_transactions",
    "transit_taps", "gps_points", "entry_logs", "interview_visits", "cases",
    "places", "visits", "infections",
)  # fmt: skip


def test_every_input_and_truth_table_is_written(city) -> None:
    expected = {name for name, spec in TABLES.items() if spec.group != "output"}
    assert expected == set(SIMULATED)
    for name in SIMULATED:
        assert table_path(city.folder, name, "parquet").is_file(), name
    assert (city.folder / "truth" / "visits.parquet").is_file()
    assert not list(city.folder.rglob("*.partial"))


@pytest.mark.parametrize("name", SIMULATED)
def test_parquet_schema_is_the_contract(city, name: str) -> None:
    written = pq.read_schema(table_path(city.folder, name, "parquet"))
    assert written.remove_metadata().equals(table(name).arrow_schema), name


@pytest.mark.parametrize("name", SIMULATED)
def test_tables_have_rows(city, name: str) -> None:
    assert city.summary.rows[name] > 0, name
    assert (
        pq.read_metadata(table_path(city.folder, name, "parquet")).num_rows
        == city.summary.rows[name]
    )


def test_manifest_names_every_table_and_the_config(city) -> None:
    manifest = city.manifest
    assert manifest["generator"] == "epitrace simulate"
    assert manifest["seed"] == city.config.seed
    assert manifest["config"]["residents"] == city.config.residents
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == city.summary.rows
    assert not (city.folder / ".epitrace-simulation-in-progress").exists()


def test_validate_dataset_finds_no_problem(city) -> None:
    validate = pytest.importorskip("epitrace.formats.validate")
    report = validate.validate_dataset(city.folder)
    assert report.ok, [str(p) for p in report.problems()][:10]


def test_csv_dataset_validates(tmp_path: Path) -> None:
    validate = pytest.importorskip("epitrace.formats.validate")
    simulate_city(SimulationConfig(residents=400, days=2, seed=5), tmp_path, fmt="csv")
    assert (tmp_path / "telecom_records.csv").is_file()
    assert (tmp_path / "truth" / "infections.csv").is_file()
    first = (tmp_path / "telecom_records.csv").read_text().splitlines()[1]
    assert "+09:00" in first  # local offset, as people read it
    report = validate.validate_dataset(tmp_path)
    assert report.ok, [str(p) for p in report.problems()][:10]
