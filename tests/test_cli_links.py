"""`epitrace links` on a small simulated city, as an analyst runs it."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from epitrace.cli import main
from epitrace.formats.readers import read_table
from epitrace.providers.dataset import DatasetStore
from epitrace.providers.store import build_stores
from epitrace.simulate import SimulationConfig, simulate_city

# The planted church service on day 2 (a Sunday) and ten days for its cases to
# be confirmed: links to find (the small analysis city has none).
LINKED_CITY = SimulationConfig(residents=2000, days=10, seed=1, start=dt.date(2020, 2, 15))


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("linked-city")
    simulate_city(LINKED_CITY, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="module")
def linked(city: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("links-out")
    result = run("links", city, "--cases", city / "cases.parquet", "--out", out)
    return out, result


def test_links_writes_links_chains_and_an_offline_page(
    linked: tuple[Path, Result], city: Path
) -> None:
    out, result = linked
    assert result.exit_code == 0, result.output
    links = read_table(out / "links.csv").raise_for_problems()
    chains = read_table(out / "chains.csv").raise_for_problems()
    case_ids = set(pq.read_table(city / "cases.parquet").column("case_id").to_pylist())
    assert links.num_rows > 0
    scores = links.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True)
    assert set(links.column("source_case").to_pylist()) <= case_ids
    assert set(chains.column("case_id").to_pylist()) <= case_ids
    with (out / "links.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header[:10] == [
        "source_case", "target_case", "place_name", "lat", "lon",
        "start", "end", "overlap_min", "via", "score",
    ]  # fmt: skip
    page = (out / "chains.html").read_text(encoding="utf-8")
    assert "전파 사슬" in page and "Transmission chains" in page
    assert "http://" not in page and "https://" not in page
    assert "proposed link" in result.stdout


def test_every_chain_has_one_earliest_case_at_generation_zero(
    linked: tuple[Path, Result],
) -> None:
    out, _ = linked
    chains = read_table(out / "chains.csv").raise_for_problems().to_pylist()
    roots: dict[int, int] = {}
    for row in chains:
        roots[row["chain_id"]] = roots.get(row["chain_id"], 0) + (row["generation"] == 0)
    assert roots and all(count == 1 for count in roots.values())
    sizes = [sum(r["chain_id"] == c for r in chains) for c in sorted(roots)]
    assert sizes == sorted(sizes, reverse=True)


def test_the_agencies_stores_give_the_same_links_as_the_dataset(
    linked: tuple[Path, Result], city: Path, tmp_path: Path
) -> None:
    out, _ = linked
    stores = tmp_path / "stores"
    build_stores(city, stores)
    result = run("links", stores, "--cases", city / "cases.parquet", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "links.csv").read_bytes() == (out / "links.csv").read_bytes()


def test_many_persons_read_at_once_equal_one_by_one(parquet_city: Path) -> None:
    store = DatasetStore(parquet_city)
    refs = pq.read_table(parquet_city / "cases.parquet").column("person_ref").to_pylist()
    together = {r.person_ref: r for r in store.subjects(refs)}
    assert set(together) == set(refs)
    for ref in refs[:5]:
        alone = store.subject(ref)
        for name in ("telecom_records", "cells", "card_transactions", "merchants",
                     "transit_taps", "entry_logs", "gps_points"):  # fmt: skip
            mine, theirs = getattr(together[ref], name), getattr(alone, name)
            assert sorted(map(str, mine.to_pylist())) == sorted(map(str, theirs.to_pylist()))


def test_a_cases_file_missing_a_column_is_one_line_and_exit_1(
    parquet_city: Path, tmp_path: Path
) -> None:
    cases = pq.read_table(parquet_city / "cases.parquet").drop_columns(["person_ref"])
    pacsv.write_csv(cases, tmp_path / "cases.csv")
    result = run("links", parquet_city, "--cases", tmp_path / "cases.csv", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "person_ref" in result.output and "missing required column" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_cases_without_stays_are_one_line_and_exit_1(parquet_city: Path, tmp_path: Path) -> None:
    cases = pa.table(
        {
            "case_id": ["X1", "X2"],
            "person_ref": ["NOBODY-1", "NOBODY-2"],
            "confirmed_date": ["2020-02-12", "2020-02-13"],
            "onset_date": ["2020-02-10", ""],
            "region": ["r", "r"],
        }
    )
    pacsv.write_csv(cases, tmp_path / "cases.csv")
    result = run("links", parquet_city, "--cases", tmp_path / "cases.csv", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "none of the 2 cases" in result.output and "has a stay" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "links.csv").exists()


def test_to_before_from_is_a_usage_mistake(parquet_city: Path, tmp_path: Path) -> None:
    result = run(
        "links", parquet_city, "--cases", parquet_city / "cases.parquet", "--out", tmp_path,
        "--from", "2020-02-12T00:00:00+09:00", "--to", "2020-02-11T00:00:00+09:00",
    )  # fmt: skip
    assert result.exit_code == 2 and "--to must come after --from" in result.output
