"""The audit log is tamper-evident: an entry altered, removed or moved is found and named."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner
from django.db import connection

from epitrace.cli import main
from epitrace.hub.audit.chain import record, verify_chain
from epitrace.hub.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def write_entries(count: int = 5) -> list[AuditEntry]:
    return [
        record(
            f"investigator{i % 2}",
            "case.view",
            role="investigator",
            object_type="case",
            object_id=f"C{i:05d}",
            detail={"reason": "tracing"},
        )
        for i in range(1, count + 1)
    ]


def verify_command():
    return CliRunner().invoke(main, ["audit", "verify"])


def test_an_untouched_chain_verifies() -> None:
    write_entries()
    check = verify_chain()
    assert check.ok and check.entries == 5
    result = verify_command()
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output


def test_an_altered_entry_is_named() -> None:
    write_entries()
    AuditEntry.objects.filter(seq=3).update(actor="someone-else")
    check = verify_chain()
    assert (check.first_bad, check.reason) == (3, "its content was altered")
    result = verify_command()
    assert result.exit_code == 1
    assert "entry #3" in result.stderr


def test_an_altered_detail_is_named_even_with_its_seal_recomputed_without_the_key() -> None:
    import hashlib

    write_entries()
    entry = AuditEntry.objects.get(seq=2)
    entry.detail = {"reason": "curiosity"}
    # A forger without the key can only guess how to reseal: a plain hash does not verify.
    entry.seal = hashlib.sha256(entry.previous_seal.encode()).hexdigest()
    entry.save()
    assert verify_chain().first_bad == 2


def test_a_removed_entry_is_named() -> None:
    write_entries()
    AuditEntry.objects.filter(seq=2).delete()
    check = verify_chain()
    assert check.first_bad == 2 and "missing" in check.reason


def test_removing_the_last_entries_is_noticed() -> None:
    write_entries()
    AuditEntry.objects.filter(seq__gte=4).delete()
    check = verify_chain()
    assert check.first_bad == 4 and "removed" in check.reason


def test_reordered_entries_are_named() -> None:
    write_entries()
    first, second = AuditEntry.objects.get(seq=2), AuditEntry.objects.get(seq=3)
    # swap their positions in the chain
    AuditEntry.objects.filter(seq=2).update(seq=-2)
    AuditEntry.objects.filter(seq=3).update(seq=2)
    AuditEntry.objects.filter(seq=-2).update(seq=3)
    assert first.seal != second.seal
    check = verify_chain()
    assert check.first_bad == 2 and not check.ok


def test_entries_are_numbered_without_gaps_and_each_follows_the_last() -> None:
    entries = write_entries(4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert all(b.previous_seal == a.seal for a, b in itertools.pairwise(entries))


def test_runs_on_the_configured_database() -> None:
    write_entries(1)
    assert connection.vendor in ("sqlite", "postgresql")
