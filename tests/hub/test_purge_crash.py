"""A purge interrupted at any step is safe: nothing readable is left beside a destroyed
key, statistics never count the case twice or lose it, and the next run finishes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from purge_cases import NOW, OLD, PERSON, RECENT, plant_case

from epitrace.hub import crypto
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases import storage
from epitrace.hub.cases.models import BlindIndex, Case, CaseKey
from epitrace.hub.cases.records import destroy_case_key, identifiers_of
from epitrace.hub.cases.storage import case_folder
from epitrace.hub.retention import aggregates, purge
from epitrace.hub.retention.models import PurgedCaseCount, PurgeRecord
from epitrace.hub.retention.purge import run_purge

pytestmark = pytest.mark.django_db

# Every point a case's destruction can stop at: inside each step's transaction (rolled
# back) and just after it committed.
CRASH_POINTS = [
    f"{when}:{step}"
    for step in ("intent", "key", "rows", "files", "done")
    for when in ("during", "after")
] + ["before:vacuum"]


class ForgetfulProvider(crypto.LocalKeyProvider):
    """A stand-in for a KMS that keeps each case's key and can destroy it."""

    name = "forgetful"
    forgotten: ClassVar[list[bytes]] = []

    def forget(self, wrapped: bytes, context: bytes = b"") -> None:
        self.unwrap(wrapped, context)  # it is the key of that case
        ForgetfulProvider.forgotten.append(context)


class SimulatedCrash(BaseException):
    """Not an Exception: the purge does not catch it, as it could not catch a power cut."""


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path / "home"
    return settings.HOME


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> list[str]:
    reached: list[str] = []

    def maybe_crash(name: str) -> None:
        reached.append(name)
        if name == point:
            raise SimulatedCrash(point)

    monkeypatch.setattr(purge, "crash_point", maybe_crash)
    return reached


def assert_consistent(case: Case, cases: int = 1) -> None:
    """What must hold at every moment, crashed or not."""
    row = Case.objects.filter(pk=case.pk).first()
    has_key = CaseKey.objects.filter(case_id=case.pk).exists()
    if not has_key:
        # Key gone: the digests are gone with it and no ciphertext left reads.
        assert not BlindIndex.objects.filter(case_id=case.pk).exists()
        if row is not None:
            with pytest.raises(crypto.KeyDestroyed):
                identifiers_of(row)
    else:
        assert row is not None and identifiers_of(row) == PERSON
    assert aggregates.total_cases() == cases, "the case counted twice or lost"


def assert_fully_purged(case: Case) -> None:
    assert not Case.objects.filter(pk=case.pk).exists()
    assert not CaseKey.objects.filter(case_id=case.pk).exists()
    assert not BlindIndex.objects.filter(case_id=case.pk).exists()
    assert not case_folder(case).exists()
    record = PurgeRecord.objects.get(case_uid=case.uid)
    assert record.done
    assert AuditEntry.objects.filter(action="purge.case").count() == 1
    assert PurgedCaseCount.objects.get().cases == 1
    assert aggregates.total_cases() == 1
    assert verify_chain().ok


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_purge_interrupted_anywhere_completes_on_the_next_run(
    point: str, home: Path, places: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = plant_case(places["seoul"], PERSON, OLD)
    reached = crash_at(monkeypatch, point)
    with pytest.raises(SimulatedCrash):
        run_purge(now=NOW)
    assert reached[-1] == point
    assert_consistent(planted.case)
    # From the committed intent until the audit entry, the purge log holds it open.
    left_open = point not in ("during:intent", "after:done", "before:vacuum")
    assert PurgeRecord.objects.filter(finished_at__isnull=True).count() == int(left_open)

    monkeypatch.setattr(purge, "crash_point", lambda name: None)
    report = run_purge(now=NOW)
    assert report.ok
    assert_fully_purged(planted.case)
    # An open destruction is finished from where it stopped, not started again.
    assert len(report.resumed) == int(left_open)


def test_a_failing_step_is_reported_and_finished_by_the_next_run(
    home: Path, places: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = plant_case(places["seoul"], PERSON, OLD)
    kept = plant_case(places["busan"], PERSON, RECENT)
    real_rmtree = storage.shutil.rmtree

    def half_then_fail(path: Any, *args: Any, **kwargs: Any) -> None:
        next(Path(path).rglob("*.txt")).unlink()  # a disk error half-way through
        raise OSError("simulated I/O error")

    monkeypatch.setattr(storage.shutil, "rmtree", half_then_fail)
    report = run_purge(now=NOW)
    assert not report.ok and report.failed == [f"identifiers {planted.case.case_id}: OSError"]
    assert_consistent(planted.case, cases=2)
    assert "FAILED" in report.describe()

    monkeypatch.setattr(storage.shutil, "rmtree", real_rmtree)
    again = run_purge(now=NOW)
    assert again.ok and len(again.resumed) == 1
    assert not case_folder(planted.case).exists()
    assert identifiers_of(Case.objects.get(pk=kept.case.pk)) == PERSON


def test_a_case_whose_key_is_already_gone_is_not_left_half_there(
    home: Path, places: dict[str, Any]
) -> None:
    """Shredded by hand (or a key provider that lost the key) before its retention
    ended: rows and files that nothing can read any more go at the next purge."""
    planted = plant_case(places["seoul"], PERSON, RECENT)
    destroy_case_key(planted.case)
    report = run_purge(now=NOW)
    assert [d.rule for d in report.destroyed] == ["data key already destroyed"]
    assert not Case.objects.filter(pk=planted.case.pk).exists()
    assert not case_folder(planted.case).exists()


@pytest.mark.parametrize("point", ["during:key", "after:key"])
def test_a_key_provider_that_keeps_keys_is_told_to_forget_the_case(
    point: str,
    home: Path,
    places: dict[str, Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.EPITRACE_KEY_PROVIDER = "tests.hub.test_purge_crash.ForgetfulProvider"
    ForgetfulProvider.forgotten = []
    planted = plant_case(places["seoul"], PERSON, OLD)
    crash_at(monkeypatch, point)
    with pytest.raises(SimulatedCrash):
        run_purge(now=NOW)
    monkeypatch.setattr(purge, "crash_point", lambda name: None)
    run_purge(now=NOW)
    assert set(ForgetfulProvider.forgotten) == {f"case:{planted.case.uid}".encode()}
    assert_fully_purged(planted.case)


def test_files_written_after_the_case_was_destroyed_go_at_the_next_run(
    home: Path, places: dict[str, Any]
) -> None:
    """An agent's upload in flight while the case was purged may land in a fresh folder
    (unreadable: the key is gone); the next purge removes it and says so."""
    planted = plant_case(places["seoul"], PERSON, OLD)
    run_purge(now=NOW)
    late = case_folder(planted.case) / "answers" / "task-9.bin"
    late.parent.mkdir(parents=True)
    late.write_bytes(b"ciphertext under a destroyed key")
    stranger = home / "cases" / "00000000-0000-4000-8000-000000000000"
    stranger.mkdir()  # a folder the purge knows nothing of: not its to delete

    report = run_purge(now=NOW)
    assert [d.rule for d in report.destroyed] == ["files written after the case was destroyed"]
    assert not case_folder(planted.case).exists() and stranger.exists()
    assert AuditEntry.objects.filter(action="purge.case").count() == 2
    assert PurgedCaseCount.objects.get().cases == 1  # counted once
    assert run_purge(now=NOW).destroyed == []
