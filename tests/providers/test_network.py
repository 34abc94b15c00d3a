"""Gathering one subject's records from every agency's store, as the exchange routes them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from epitrace.cli import main
from epitrace.formats.readers import read_dataset_table, read_table
from epitrace.providers.dataset import DatasetStore, UnknownSubject
from epitrace.providers.network import StoreNetwork, is_store_network

RECORDS = ("telecom_records", "card_transactions", "transit_taps", "entry_logs", "gps_points")


def sorted_rows(data: pa.Table) -> list[tuple]:
    return sorted(tuple(str(v) for v in row.values()) for row in data.to_pylist())


def people_with_everything(city: Path) -> list[str]:
    """Residents holding both a phone and a card, plus one with a GPS history."""
    subscribers = read_dataset_table(city, "subscribers").table
    holders = read_dataset_table(city, "card_holders").table
    both = sorted(
        set(subscribers.column("person_ref").to_pylist())
        & set(holders.column("person_ref").to_pylist())
    )
    gps = read_dataset_table(city, "gps_points").table
    return [*both[:3], gps.column("person_ref")[0].as_py()]


def test_the_stores_answer_exactly_what_the_files_hold(parquet_city: Path, stores: Path) -> None:
    network = StoreNetwork(stores)
    files = DatasetStore(parquet_city)
    for person in people_with_everything(parquet_city):
        from_stores, from_files = network.subject(person), files.subject(person)
        for name in RECORDS:
            assert sorted_rows(getattr(from_stores, name)) == sorted_rows(
                getattr(from_files, name)
            ), (person, name)
        assert from_stores.record_count > 0


def test_only_the_issuers_holding_the_persons_cards_are_asked(
    stores: Path, parquet_city: Path, monkeypatch
) -> None:
    network = StoreNetwork(stores)
    person = people_with_everything(parquet_city)[0]
    asked: list[str] = []
    for store in network.stores:
        original = store.subject_extract

        def spy(query, tables=None, store=store, original=original):
            asked.append(store.agency)
            return original(query, tables)

        monkeypatch.setattr(store, "subject_extract", spy)
    network.subject(person)
    holders = read_dataset_table(parquet_city, "card_holders").table.to_pylist()
    issuers = {h["issuer"] for h in holders if h["person_ref"] == person}
    card_issuers = {s.agency for s in network.stores if s.kind == "card_issuer"}
    assert set(asked) & card_issuers == issuers


def test_unknown_person_is_refused_clearly(stores: Path) -> None:
    with pytest.raises(UnknownSubject, match="P999999"):
        StoreNetwork(stores).subject("P999999")


def test_analyze_reads_from_the_stores(parquet_city: Path, stores: Path, tmp_path: Path) -> None:
    assert is_store_network(stores) and not is_store_network(parquet_city)
    person = people_with_everything(parquet_city)[0]
    from_stores = CliRunner().invoke(
        main, ["analyze", str(stores), "--person", person, "--out", str(tmp_path / "s")]
    )
    from_files = CliRunner().invoke(
        main, ["analyze", str(parquet_city), "--person", person, "--out", str(tmp_path / "f")]
    )
    assert from_stores.exit_code == 0, from_stores.output
    assert from_files.exit_code == 0, from_files.output
    a = read_table(tmp_path / "s" / "stays.csv").raise_for_problems()
    b = read_table(tmp_path / "f" / "stays.csv").raise_for_problems()
    assert a.num_rows > 0 and a.equals(b)
