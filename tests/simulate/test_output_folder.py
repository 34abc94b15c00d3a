"""The simulator never writes into a folder that is not its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from epitrace.simulate import OutputFolderError, SimulationConfig, simulate_city
from epitrace.simulate.dataset import IN_PROGRESS, read_manifest

TINY = SimulationConfig(residents=300, days=1, seed=2)


def test_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "thesis.docx").write_text("precious")
    with pytest.raises(OutputFolderError, match="not empty"):
        simulate_city(TINY, tmp_path)
    assert (tmp_path / "thesis.docx").read_text() == "precious"
    assert list(tmp_path.iterdir()) == [tmp_path / "thesis.docx"]


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(OutputFolderError):
        simulate_city(TINY, target)


def test_interrupted_run_is_not_complete_and_can_be_redone(tmp_path: Path, monkeypatch) -> None:
    import epitrace.simulate.run as run

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(run, "interviews_table", crash)
    with pytest.raises(RuntimeError):
        simulate_city(TINY, tmp_path)
    assert read_manifest(tmp_path) is None  # not recognisable as complete
    assert (tmp_path / IN_PROGRESS).exists()
    assert not list(tmp_path.rglob("*.partial"))
    monkeypatch.undo()
    simulate_city(TINY, tmp_path)  # an interrupted run's folder can be written again
    assert read_manifest(tmp_path) is not None
    assert not (tmp_path / IN_PROGRESS).exists()
