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


def age_entries(days: int, through_seq: int) -> None:
    """Move the first entries into the past, as if written ``days`` ago (and reseal them,
    as the system would have sealed them then)."""
    import datetime as dt

    from epitrace.hub.audit.chain import GENESIS, seal_of

    previous = GENESIS
    for entry in AuditEntry.objects.order_by("seq"):
        if entry.seq <= through_seq:
            entry.at = entry.at - dt.timedelta(days=days)
        entry.previous_seal = previous
        entry.seal = seal_of(entry, previous)
        entry.save()
        previous = entry.seal
    from epitrace.hub.audit.chain import head_seal_of
    from epitrace.hub.audit.models import ChainHead

    head = ChainHead.objects.get(id=1)
    ChainHead.objects.filter(id=1).update(seal=previous, head_seal=head_seal_of(head.seq, previous))


def test_entries_past_retention_are_pruned_and_the_rest_still_verifies() -> None:
    from epitrace.hub.audit.chain import prune_expired

    write_entries(6)
    age_entries(800, through_seq=4)
    assert prune_expired(dry_run=True).removed == 4
    assert AuditEntry.objects.count() == 6
    pruning = prune_expired()
    assert (pruning.removed, pruning.first_kept) == (4, 5)
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [5, 6, 7]
    assert AuditEntry.objects.get(seq=7).action == "audit.prune"
    check = verify_chain()
    assert check.ok, check
    assert verify_command().exit_code == 0


def test_deleting_recent_entries_behind_a_forged_checkpoint_is_caught() -> None:
    from epitrace.hub.audit.chain import prune_expired
    from epitrace.hub.audit.models import ChainCheckpoint

    write_entries(6)
    age_entries(800, through_seq=2)
    prune_expired()
    # A forger deletes #3-#4 and moves the checkpoint forward without the key.
    fourth = AuditEntry.objects.get(seq=4)
    AuditEntry.objects.filter(seq__in=[3, 4]).delete()
    ChainCheckpoint.objects.filter(id=1).update(seq=4, seal=fourth.seal)
    check = verify_chain()
    assert not check.ok and "checkpoint" in check.reason


def test_prune_command_reports_what_it_removes() -> None:
    write_entries(3)
    age_entries(800, through_seq=1)
    result = CliRunner().invoke(main, ["audit", "prune", "--dry-run"])
    assert result.exit_code == 0 and "would remove 1 entries" in result.output
    result = CliRunner().invoke(main, ["audit", "prune"])
    assert result.exit_code == 0 and "begins at #2" in result.output


# --- issue #17, finding 1: the chain cut short or wiped, with its head put back ---


def test_finding_1_truncated_audit_chain_is_detected() -> None:
    from epitrace.hub.audit.models import ChainHead

    write_entries(10)
    # The probe: delete the entries after #5 and set the head to #5 and its seal.
    fifth = AuditEntry.objects.get(seq=5)
    AuditEntry.objects.filter(seq__gt=5).delete()
    ChainHead.objects.filter(id=1).update(seq=5, seal=fifth.seal)
    check = verify_chain()
    assert not check.ok and "head" in check.reason
    assert verify_command().exit_code == 1


def test_finding_1_truncation_behind_a_replayed_sealed_head_is_detected() -> None:
    from epitrace.hub.audit.models import ChainHead

    write_entries(5)
    old_head = ChainHead.objects.values("seq", "seal", "head_seal").get(id=1)  # a backup
    write_entries(5)
    AuditEntry.objects.filter(seq__gt=5).delete()
    ChainHead.objects.filter(id=1).update(**old_head)  # sealed by the hub, but old
    check = verify_chain()
    assert (check.first_bad, check.ok) == (6, False)
    assert "anchor" in check.reason and "#10" in check.reason


def test_finding_1_wiped_audit_log_is_detected() -> None:
    from epitrace.hub.audit.chain import prune_expired
    from epitrace.hub.audit.models import ChainCheckpoint, ChainHead

    write_entries(6)
    age_entries(800, through_seq=2)
    prune_expired()
    assert ChainCheckpoint.objects.exists()
    AuditEntry.objects.all().delete()
    ChainHead.objects.all().delete()
    ChainCheckpoint.objects.all().delete()
    check = verify_chain()
    assert not check.ok and "anchor" in check.reason
    result = verify_command()
    assert result.exit_code == 1 and "intact" not in result.output


def test_finding_1_a_log_rewritten_from_an_older_copy_is_detected() -> None:
    from epitrace.hub.audit.models import ChainHead

    write_entries(3)
    copy = list(AuditEntry.objects.order_by("seq"))
    head = ChainHead.objects.values("seq", "seal", "head_seal").get(id=1)
    write_entries(2)
    # Restored from the copy, then written on: as long as before, but other entries.
    AuditEntry.objects.all().delete()
    AuditEntry.objects.bulk_create(copy)
    ChainHead.objects.filter(id=1).update(**head)
    from epitrace.hub.audit.chain import record as append

    with pytest.MonkeyPatch.context() as patch:
        # The restored log's own appends do not move the anchor (a host without it).
        patch.setattr("epitrace.hub.audit.chain.raise_anchor", lambda seq, seal: None)
        append("someone", "case.view", object_type="case", object_id="C1")
        append("someone", "case.view", object_type="case", object_id="C2")
    check = verify_chain()
    assert (check.first_bad, check.ok) == (5, False) and "anchor" in check.reason


def test_finding_1_the_anchor_is_private_atomic_and_only_moves_forward(settings) -> None:
    import json
    import os
    import stat
    from pathlib import Path

    from epitrace.hub.audit.anchor import raise_anchor, read_anchor

    write_entries(4)
    path = Path(settings.EPITRACE_AUDIT_ANCHOR)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_anchor().seq == 4
    raise_anchor(2, "older")  # a late writer never moves it back
    assert read_anchor().seq == 4
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    # Moved by hand (without the key): reported, never silently replaced.
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "seq": 99}))
    check = verify_chain()
    assert not check.ok and "anchor" in check.reason


def test_finding_1_a_rolled_back_entry_does_not_move_the_anchor() -> None:
    from django.db import transaction

    from epitrace.hub.audit.anchor import read_anchor

    write_entries(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        write_entries(1)
        raise RuntimeError("the request failed after its audit entry")
    assert read_anchor().seq == 2
    write_entries(1)
    assert read_anchor().seq == 3 and verify_chain().ok


def test_finding_1_missing_anchor_fine_when_fresh_reported_when_entries_exist(settings) -> None:
    from pathlib import Path

    assert verify_chain().ok and verify_command().exit_code == 0  # a fresh install
    write_entries(2)
    Path(settings.EPITRACE_AUDIT_ANCHOR).unlink()
    check = verify_chain()
    assert check.ok and check.anchor_missing
    result = verify_command()
    assert result.exit_code == 1 and "NOT ANCHORED" in result.stderr
    write_entries(1)  # the next entry anchors the chain again
    assert not verify_chain().anchor_missing and verify_command().exit_code == 0


def test_finding_1_pruning_still_verifies_with_the_anchor() -> None:
    from epitrace.hub.audit.chain import prune_expired

    write_entries(6)
    age_entries(800, through_seq=5)
    prune_expired()
    check = verify_chain()
    assert check.ok and not check.anchor_missing, check
    result = verify_command()
    assert result.exit_code == 0 and f"head: #{check.head[0]}" in result.output
