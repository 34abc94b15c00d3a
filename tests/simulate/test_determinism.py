"""The same seed gives byte-identical files; another seed gives another city."""

from __future__ import annotations

from pathlib import Path

from epitrace.simulate import SimulationConfig, simulate_city

TINY = SimulationConfig(residents=500, days=3, seed=11)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    simulate_city(TINY, tmp_path / "a")
    simulate_city(TINY, tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) >= 15  # 14 tables and the manifest
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"


def test_different_seed_different_city(tmp_path: Path) -> None:
    simulate_city(TINY, tmp_path / "a")
    simulate_city(TINY.replace(seed=12), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("telecom_records.parquet", "truth/visits.parquet", "card_transactions.parquet"):
        assert a[name] != b[name], name


def test_rerun_into_previous_dataset_replaces_it(tmp_path: Path) -> None:
    simulate_city(TINY, tmp_path, fmt="csv")
    simulate_city(TINY, tmp_path, fmt="parquet")
    assert not list(tmp_path.rglob("*.csv"))  # no stale table in the other format
    assert (tmp_path / "telecom_records.parquet").is_file()


def test_config_replace_is_a_copy() -> None:
    changed = TINY.replace(days=5)
    assert (TINY.days, changed.days, changed.residents) == (3, 5, 500)
