"""`epitrace validate DIR`: every problem as FILE:LINE: column: reason, exit 1 if any."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from epitrace.cli import main
from epitrace.formats.schemas import table
from epitrace.formats.writers import write_table


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def make_broken_dataset(folder: Path) -> None:
    (folder / "truth").mkdir(parents=True)
    (folder / "cells.csv").write_text(
        "carrier,cell_id,lat,lon,radius_m\nSKT,C1,35.8,128.6,300\nSKT,C2,135.8,128.6,300\n"
    )
    (folder / "telecom_records.csv").write_text(
        "carrier,subscriber,ts,cell_id,event\nSKT,010-1,2020-03-02 08:15:00,C1,call\n"
    )
    (folder / "subscribers.csv").write_text("carrier,subscriber\nSKT,010-1\n")
    (folder / "merchants.csv").write_bytes(b"")
    (folder / "entry_logs.csv").write_bytes(
        b"operator,venue_id,venue_name,category,lat,lon,visitor,ts\n"
        b"op,V1,Club \xff,club,35.8,128.6,010-1,2020-03-02T23:00:00+09:00\n"
    )
    (folder / "truth" / "visits.csv").write_text(
        "person_ref,place_id,start,end\nP1,H1,2020-03-02T10:00:00+09:00,2020-03-02T09:00:00+09:00\n"
    )
    good = write_table(table("cases").arrow_schema.empty_table(), folder, "cases", "parquet")
    data = good.read_bytes()
    (folder / "gps_points.parquet").write_bytes(data[:-20])
    (folder / "README.txt").write_text("not a table")


def test_broken_dataset_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    make_broken_dataset(tmp_path)
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "cells.csv:3: lat: 135.8 out of range (must be ≤ 90)" in lines
    assert "telecom_records.csv:2: ts: timestamp without UTC offset: '2020-03-02 08:15:00'" in lines
    assert "subscribers.csv:1: person_ref: missing required column" in lines
    assert "merchants.csv:1: -: empty file: no header row" in lines
    assert "entry_logs.csv:2: venue_name: not valid UTF-8" in lines
    assert "truth/visits.csv:2: end: end before start" in lines
    assert any(
        line.startswith("gps_points.parquet:1: -: not a readable Parquet file") for line in lines
    )
    assert len(lines) == 7
    assert "Traceback" not in result.output
    assert "README.txt" in result.stderr  # ignored files are named, not errors


def test_clean_dataset_exits_0(tmp_path: Path) -> None:
    (tmp_path / "cells.csv").write_text("carrier,cell_id,lat,lon,radius_m\nSKT,C1,35.8,128.6,300\n")
    result = run("validate", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 rows checked, 0 rows rejected; 0 problems" in result.stderr


def test_folder_without_tables_is_a_problem(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "no contract table found" in result.stdout


def test_missing_folder_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_max_problems_limits_printing_but_not_counting(tmp_path: Path) -> None:
    rows = "".join(f"SKT,C{i},95,128.6,300\n" for i in range(30))
    (tmp_path / "cells.csv").write_text("carrier,cell_id,lat,lon,radius_m\n" + rows)
    result = run("validate", str(tmp_path), "--max-problems", "5")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "... 25 more problems not shown"
    assert "30 problems" in result.stderr
