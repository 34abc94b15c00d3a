"""Appending to and verifying the sealed audit chain.

Seal of entry n = HMAC-SHA256(key, seal of entry n-1 ‖ canonical JSON of entry n),
with the key kept outside the database (settings.AUDIT_KEY). Whoever can write
the database can still delete or edit rows, but cannot make the chain verify
again without the key: ``verify_chain`` names the first entry that fails. The head is
sealed too, and the anchor on the application host (audit/anchor.py) remembers how far
the chain had reached, so a chain cut short or wiped is reported as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from epitrace.hub.audit.anchor import ForgedAnchor, anchor_path, raise_anchor, read_anchor
from epitrace.hub.audit.models import AuditEntry, ChainCheckpoint, ChainHead

GENESIS = "0" * 64
SEALED_FIELDS = ("seq", "at", "actor", "role", "action", "object_type", "object_id", "detail")


def _canonical(entry: AuditEntry) -> bytes:
    values = {name: getattr(entry, name) for name in SEALED_FIELDS}
    values["at"] = entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal_of(entry: AuditEntry, previous_seal: str, key: str | None = None) -> str:
    secret = (key if key is not None else settings.AUDIT_KEY).encode()
    message = previous_seal.encode() + b"\n" + _canonical(entry)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def head_seal_of(seq: int, seal: str) -> str:
    """The head's own seal: its number and last seal, under the audit key."""
    message = f"head\n{seq}\n{seal}".encode()
    return hmac.new(settings.AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()


def _locked_head() -> ChainHead:
    head, _ = ChainHead.objects.select_for_update().get_or_create(
        id=1, defaults={"head_seal": head_seal_of(0, "")}
    )
    return head


def record(
    actor: str,
    action: str,
    *,
    role: str = "",
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, object] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (atomically; concurrent callers queue on the head).
    Once the outermost transaction commits, the anchor on the host moves up to it."""
    with transaction.atomic():
        head = _locked_head()
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor=actor,
            role=role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail or {},
            previous_seal=head.seal or GENESIS,
        )
        entry.seal = seal_of(entry, entry.previous_seal)
        entry.save()
        head.seq, head.seal = entry.seq, entry.seal
        head.head_seal = head_seal_of(head.seq, head.seal)
        head.save()
        # After the commit only: a rolled-back entry must never raise the mark.
        seq, seal = entry.seq, entry.seal
        transaction.on_commit(lambda: raise_anchor(seq, seal), robust=True)
    return entry


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    first_bad: int | None  # seq of the first entry that fails, or where one is missing
    # Why it fails: a message of the catalogue with %(name)s fields filled from ``params``,
    # so the CLI prints it in English and the audit page in the reader's language.
    problem: str = ""
    params: dict[str, object] = field(default_factory=dict)
    # The database holds entries but this host has no anchor: a first run after an
    # upgrade, or a wiped log re-created with its anchor removed. ``epitrace audit
    # verify`` reports it; the next entry writes the anchor.
    anchor_missing: bool = False
    head: tuple[int, str] = (0, "")  # the last entry's number and seal, for the record

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    @property
    def reason(self) -> str:
        """Why the chain fails, in English (empty when it verifies)."""
        return self.problem % self.params if self.params else self.problem


def _entries() -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("seq").iterator(chunk_size=2000)


def _checkpoint_seal(seq: int, seal: str, pruned_at: dt.datetime) -> str:
    message = f"checkpoint\n{seq}\n{seal}\n{pruned_at.astimezone(dt.UTC).isoformat()}"
    return hmac.new(settings.AUDIT_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def _chain_start() -> tuple[str, int] | None:
    """(seal, next seq) the chain starts from; None if the checkpoint is forged."""
    checkpoint = ChainCheckpoint.objects.filter(id=1).first()
    if checkpoint is None:
        return GENESIS, 1
    expected = _checkpoint_seal(checkpoint.seq, checkpoint.seal, checkpoint.pruned_at)
    if not hmac.compare_digest(checkpoint.checkpoint_seal, expected):
        return None
    return checkpoint.seal, checkpoint.seq + 1


def retention() -> dt.timedelta:
    """How long audit entries are kept (``settings.EPITRACE_AUDIT_RETENTION_DAYS``)."""
    return dt.timedelta(days=settings.EPITRACE_AUDIT_RETENTION_DAYS)


@dataclass(frozen=True)
class Pruning:
    removed: int
    first_kept: int | None  # seq the chain now begins at


def prune_expired(now: dt.datetime | None = None, dry_run: bool = False) -> Pruning:
    """Remove the entries older than the retention period from the start of the chain,
    keeping it verifiable through a sealed checkpoint; the pruning is itself recorded."""
    cutoff = (now or timezone.now()) - retention()
    with transaction.atomic():
        _locked_head()
        expired = AuditEntry.objects.filter(at__lt=cutoff).order_by("-seq").first()
        if expired is None:
            return Pruning(0, None)
        removed = AuditEntry.objects.filter(seq__lte=expired.seq).count()
        if dry_run:
            return Pruning(removed, expired.seq + 1)
        pruned_at = timezone.now()
        ChainCheckpoint.objects.update_or_create(
            id=1,
            defaults={
                "seq": expired.seq,
                "seal": expired.seal,
                "pruned_at": pruned_at,
                "checkpoint_seal": _checkpoint_seal(expired.seq, expired.seal, pruned_at),
            },
        )
        AuditEntry.objects.filter(seq__lte=expired.seq).delete()
    record(
        "system",
        "audit.prune",
        detail={"removed": removed, "through_seq": expired.seq, "retention_days": retention().days},
    )
    return Pruning(removed, expired.seq + 1)


def verify_chain() -> ChainCheck:
    """Walk the chain in order; the first entry altered, removed or moved is named, and
    so is a chain that ends before its sealed head or before the anchor on this host."""
    start = _chain_start()
    if start is None:
        return ChainCheck(0, 0, gettext_noop("the retention checkpoint was forged or altered"))
    try:
        anchor = read_anchor()
    except ForgedAnchor as error:
        problem = gettext_noop("the anchor on this host is not valid: %(error)s (%(path)s)")
        return ChainCheck(0, 0, problem, {"error": str(error), "path": anchor_path()})
    previous, expected_seq = start
    count = 0
    for entry in _entries():
        count += 1
        if entry.seq != expected_seq:
            problem = gettext_noop("entry #%(seq)d is missing")
            return ChainCheck(count, expected_seq, problem, {"seq": expected_seq})
        if entry.previous_seal != previous:
            return ChainCheck(
                count,
                entry.seq,
                gettext_noop(
                    "does not follow the entry before it (an entry was removed, inserted or moved)"
                ),
            )
        if not hmac.compare_digest(entry.seal, seal_of(entry, previous)):
            return ChainCheck(count, entry.seq, gettext_noop("its content was altered"))
        if anchor is not None and entry.seq == anchor.seq and entry.seal != anchor.seal:
            return ChainCheck(
                count,
                entry.seq,
                gettext_noop(
                    "it is not the entry the anchor on this host recorded under its number "
                    "(the log was replaced or rewritten from here)"
                ),
            )
        previous, expected_seq = entry.seal, entry.seq + 1
    last = expected_seq - 1
    head = ChainHead.objects.filter(id=1).first()
    if head is None and (count or last):
        return ChainCheck(count, expected_seq, gettext_noop("the chain head is missing"))
    if head is not None:
        if not hmac.compare_digest(head.head_seal, head_seal_of(head.seq, head.seal)):
            problem = gettext_noop("the chain head was altered (its seal)")
            return ChainCheck(count, expected_seq, problem)
        if head.seq != last or (last and head.seal != previous):
            problem = gettext_noop(
                "the chain ends at #%(last)d but %(written)d entries were written: "
                "the last ones were removed"
            )
            return ChainCheck(count, expected_seq, problem, {"last": last, "written": head.seq})
    if anchor is not None and anchor.seq > last:
        problem = gettext_noop(
            "the chain ends at #%(last)d but the anchor on this host shows #%(anchor)d was "
            "written: entries were removed (or the database was wiped or restored)"
        )
        return ChainCheck(count, last + 1, problem, {"last": last, "anchor": anchor.seq})
    missing = anchor is None and last > 0
    return ChainCheck(count, None, anchor_missing=missing, head=(last, previous))
