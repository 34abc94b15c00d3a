"""``epitrace simulate`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from epitrace.cli import main


def test_simulate_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "city"
    result = CliRunner().invoke(
        main, ["simulate", "--residents", "300", "--days", "2", "--seed", "4", "--out", str(out),
               "--start", "2020-03-02", "--format", "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "telecom_records.csv").is_file()
    assert (out / "truth" / "visits.csv").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["start"] == "2020-03-02"
    assert "epitrace validate" in result.output
    assert "telecom_records.csv" in result.output


@pytest.mark.parametrize("outbreak", ["null", "planted"])
def test_simulate_other_outbreaks(tmp_path: Path, outbreak: str) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--residents", "300", "--days", "2", "--out", str(tmp_path / "n"),
               "--outbreak", outbreak],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert manifest["config"]["outbreak"] == outbreak


def test_simulate_refuses_a_foreign_folder_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["simulate", "--residents", "300", "--days", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "Error:" in result.output
    assert "not empty" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
