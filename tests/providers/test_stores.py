"""Building provider stores: one per agency, partitioned, sorted, restartable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from epitrace.cli import main
from epitrace.providers.store import BUILDING, StoreBuildError, build_stores


def _count(dataset: Path, name: str, where: str = "true") -> int:
    sql = f"SELECT count(*) FROM read_parquet('{dataset / name}.parquet') WHERE {where}"
    return duckdb.sql(sql).fetchall()[0][0]


def _manifest(stores: Path, folder: str) -> dict:
    return json.loads((stores / folder / "store.json").read_text())


def test_one_store_per_agency(parquet_city: Path, stores: Path) -> None:
    kinds = {m["agency"]: m["kind"] for m in map(json.loads, _manifests_text(stores))}
    assert {a for a, k in kinds.items() if k == "carrier"} == {"SKT", "KT", "LGU"}
    issuers = duckdb.sql(
        f"SELECT DISTINCT issuer FROM read_parquet('{parquet_city}/card_holders.parquet')"
    ).fetchall()
    assert {a for a, k in kinds.items() if k == "card_issuer"} == {i for (i,) in issuers}
    assert kinds["credit-finance association"] == "card_association"
    assert kinds["gps"] == "gps"
    assert "entry_operator" in kinds.values()


def _manifests_text(stores: Path) -> list[str]:
    return [p.read_text() for p in sorted(stores.glob("*/store.json"))]


def test_every_record_lands_in_exactly_one_partition(parquet_city: Path, stores: Path) -> None:
    for table, copies in (
        ("telecom_records", ("telecom_records", "telecom_by_subscriber")),
        ("card_transactions", ("card_transactions", "card_transactions_by_card")),
        ("entry_logs", ("entry_logs", "entry_logs_by_visitor")),
    ):
        for copy in copies:
            stored = duckdb.sql(
                f"SELECT count(*) FROM read_parquet('{stores}/*/{copy}/*/*.parquet')"
            ).fetchall()[0][0]
            assert stored == _count(parquet_city, table), copy
    skt = _manifest(stores, "skt")
    assert skt["tables"]["telecom_records"]["rows"] == _count(
        parquet_city, "telecom_records", "carrier = 'SKT'"
    )
    assert skt["first_date"] <= skt["last_date"]


def test_partitions_are_dated_and_sorted_for_their_queries(stores: Path) -> None:
    for partition in sorted((stores / "skt" / "telecom_records").iterdir()):
        assert partition.name.startswith("date=")
        rows = pq.read_table(partition / "part-0.parquet").to_pylist()
        keys = [(r["cell_id"], r["ts"]) for r in rows]
        assert keys == sorted(keys)
        assert {r["ts"].date().isoformat() for r in rows} == {partition.name[5:]}
    partition = next((stores / "skt" / "telecom_by_subscriber").iterdir())
    rows = pq.read_table(partition / "part-0.parquet").to_pylist()
    keys = [(r["subscriber"], r["ts"]) for r in rows]
    assert keys == sorted(keys)


def test_card_directory_names_issuers_not_cards(stores: Path) -> None:
    directory = pq.read_table(stores / "credit-finance-association" / "card_directory.parquet")
    assert directory.column_names == ["person_ref", "issuer", "cards"]


def test_rebuild_skips_complete_partitions_and_recovers_a_crash(
    parquet_city: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stores"
    build_stores(parquet_city, out, ["KT"])
    partitions = sorted((out / "kt" / "telecom_records").iterdir())
    kept = partitions[0] / "part-0.parquet"
    kept_mtime = kept.stat().st_mtime_ns
    # A crash: one partition never renamed into place, a half-written temporary left behind.
    shutil.rmtree(partitions[-1])
    (out / BUILDING / "telecom_records-date=x-1").mkdir(parents=True)
    build_stores(parquet_city, out, ["KT"])
    assert kept.stat().st_mtime_ns == kept_mtime  # skipped, not rewritten
    assert partitions[-1].is_dir()
    assert not (out / BUILDING).exists()
    build_stores(parquet_city, out, ["KT"], force=True)
    assert kept.stat().st_mtime_ns != kept_mtime


def test_unknown_agency_is_refused(parquet_city: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreBuildError, match="no data for agency"):
        build_stores(parquet_city, tmp_path, ["Nokia"])


def test_store_build_command(parquet_city: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["store", "build", str(parquet_city), "--out", str(tmp_path), "--agency", "LGU"]
    )
    assert result.exit_code == 0, result.output
    assert "LGU" in result.output
    assert (tmp_path / "lgu" / "store.json").is_file()
    refused = CliRunner().invoke(
        main, ["store", "build", str(parquet_city), "--out", str(tmp_path), "--agency", "X"]
    )
    assert refused.exit_code == 2
    assert "no data for agency" in refused.output


def test_csv_dataset_builds_the_same_store(csv_city: Path, stores: Path, tmp_path: Path) -> None:
    build_stores(csv_city, tmp_path, ["LGU"])
    built = _manifest(tmp_path, "lgu")["tables"]
    assert built == _manifest(stores, "lgu")["tables"]
