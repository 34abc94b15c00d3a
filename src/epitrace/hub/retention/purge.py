"""The purge: destroy what has passed its retention, in steps that survive a crash.

``run_purge(now=None, dry_run=False) -> PurgeReport`` is what ``epitrace purge``, the
``purge`` management command and the hub's daily job call. For each item a target
says is due:

1. **intent**: a ``PurgeRecord`` row is committed (with the case folded into the
   anonymous aggregates, in the same transaction, so it is counted exactly once);
2. the target's **steps**, each committed with the record's progress (for a case:
   destroy the wrapped key and the blind-index digests, delete the rows, delete the
   folder);
3. **completion**: the record is closed and ``purge.<kind>`` is appended to the audit
   log in one transaction — what, when and by which rule, never the data.

A run first finishes every destruction an earlier run left open, from the step it
reached; every step is safe to repeat. Last, the tables touched are vacuumed so the
deleted rows do not linger in free pages (SQLite ``VACUUM``, PostgreSQL ``VACUUM
FULL``); a run that cannot (inside a transaction) leaves that to the next.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from epitrace.hub.audit.chain import record as audit_record
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.retention import registry
from epitrace.hub.retention.models import PurgeRecord, RetentionSettings
from epitrace.hub.retention.registry import Due, Scheduled, Target
from epitrace.hub.retention.rules import Kind, local_today, local_zone

log = logging.getLogger("epitrace.purge")  # case numbers and counts only, never identifiers
SYSTEM = "system"


def crash_point(name: str) -> None:
    """A seam for the crash tests: called inside each step's transaction
    (``during:<step>``) and after it committed (``after:<step>``). Does nothing."""


@dataclass
class PurgeReport:
    now: dt.datetime
    today: dt.date
    dry_run: bool
    destroyed: list[Due] = field(default_factory=list)  # or, in a dry run, would be
    resumed: list[PurgeRecord] = field(default_factory=list)  # interrupted ones finished
    failed: list[str] = field(default_factory=list)  # "kind item: error class"
    vacuumed: list[str] = field(default_factory=list)
    upcoming: list[Scheduled] = field(default_factory=list)
    # A dry run also previews the next day something expires: what would go then.
    preview: list[Due] = field(default_factory=list)

    def counts(self) -> dict[Kind, int]:
        totals: Counter[Kind] = Counter()
        for due in self.destroyed:
            totals[due.kind] += due.count
        return dict(totals)

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        """The listing ``epitrace purge`` prints: kinds, counts, case numbers, dates, rules."""
        verb = "would destroy" if self.dry_run else "destroyed"
        head = f"Purge{' (dry run, nothing destroyed)' if self.dry_run else ''}"
        out = [f"{head} as of {self.today.isoformat()}:"]
        finish = "would finish" if self.dry_run else "finished"
        for record in self.resumed:
            out.append(
                f"  {finish} an interrupted destruction: {record.kind} "
                f"{record.case_number or record.item} (steps done: {record.steps_done})"
            )
        if not self.destroyed:
            out.append(f"  nothing has passed its retention: {verb} nothing")
        for kind, count in self.counts().items():
            out.append(f"  {kind.label}: {verb} {count:,}")
            for due in (d for d in self.destroyed if d.kind == kind):
                what = due.case_number or due.item
                unit = f" ({due.count:,} rows)" if due.count != 1 else ""
                out.append(
                    f"    {what}{unit}  expired {due.expires_on.isoformat()}  rule: {due.rule}"
                )
        for failure in self.failed:
            out.append(f"  FAILED {failure} (left open: the next run finishes it)")
        if self.vacuumed:
            out.append(f"  vacuumed: {', '.join(self.vacuumed)}")
        if self.dry_run:
            out.append(
                "  (destroy with: epitrace purge; the settings and the whole schedule are on "
                "the administrator's /retention page)"
            )
        if self.upcoming:
            out.append("  next to expire:")
            for item in self.upcoming:
                out.append(
                    f"    {item.on.isoformat()}  {item.kind.label}: {item.count:,}  ({item.rule})"
                )
        if self.preview:
            day = self.upcoming[0].on.isoformat() if self.upcoming else "later"
            out.append(f"  a purge on {day} would destroy:")
            for kind in Kind:
                names = [d.case_number or d.item for d in self.preview if d.kind == kind]
                if names:
                    out.append(f"    {kind.label}: {', '.join(names)}")
        return out

    def describe(self) -> str:
        return "\n".join(self.lines())

    def summary(self) -> dict[str, object]:
        """Counts only (for the daily job's log and the run's audit entry)."""
        return {
            "dry_run": self.dry_run,
            "as_of": self.today.isoformat(),
            "destroyed": {str(kind): count for kind, count in self.counts().items()},
            "finished_interrupted": len(self.resumed),
            "failed": len(self.failed),
            "vacuumed": len(self.vacuumed),
        }


def _start(target: Target, due: Due, now: dt.datetime) -> PurgeRecord | None:
    """Commit the intent (and the target's preparation, e.g. folding the aggregates);
    None if another run destroyed it since the list was made."""
    with transaction.atomic():
        if not target.still_due(due, now):  # takes the lock on the case (or the chain)
            return None
        # Under that lock: another run may have started this very destruction after our
        # list was made and not finished it yet; it finishes it, not us.
        already = PurgeRecord.objects.filter(
            target=target.name, item=due.item, case_uid=due.case_uid, finished_at__isnull=True
        )
        if already.exists():
            return None
        record = PurgeRecord.objects.create(
            target=target.name,
            kind=str(due.kind),
            item=due.item,
            case_uid=due.case_uid,
            case_pk=due.case_pk,
            case_number=due.case_number,
            count=due.count,
            expires_on=due.expires_on,
            rule=due.rule[:200],
            cutoff=due.cutoff,
            started_at=now,
        )
        target.prepare(record)
        crash_point("during:intent")
    crash_point("after:intent")
    return record


def _detail(record: PurgeRecord, target: Target) -> dict[str, object]:
    # What, when, by which rule: never the data (the case number names no one).
    return {
        "kind": record.kind,
        "case": record.case_number,
        "item": record.item if not record.case_number else "",
        "rows": record.count,
        "rule": record.rule,
        "expired_on": record.expires_on.isoformat(),
        "started_at": record.started_at.isoformat(),
        "steps": [step.name for step in target.steps()],
        "purge_record": record.pk,
    }


def _finish(target: Target, record: PurgeRecord) -> None:
    """Run the steps not yet done, then close the record with its audit entry."""
    for index, step in enumerate(target.steps()):
        if index < record.steps_done:
            continue
        with transaction.atomic() if step.transactional else nullcontext():
            step.run(record)
            crash_point(f"during:{step.name}")
            record.steps_done = index + 1
            record.save(update_fields=["steps_done"])
        crash_point(f"after:{step.name}")
    with transaction.atomic():
        current = PurgeRecord.objects.select_for_update().get(pk=record.pk)
        if current.done:  # another run closed it meanwhile
            return
        current.finished_at = timezone.now()
        current.save(update_fields=["finished_at"])
        audit_record(
            SYSTEM,
            target.action,
            object_type="case" if record.case_pk is not None else record.kind,
            # The case by its number, as every entry about a case (Case.audit_name).
            object_id=record.case_number or str(record.case_pk or ""),
            detail=_detail(record, target),
        )
        crash_point("during:done")
    record.finished_at = current.finished_at
    crash_point("after:done")


def _open_records() -> list[PurgeRecord]:
    return list(PurgeRecord.objects.filter(finished_at__isnull=True).order_by("id"))


def _resume_open(report: PurgeReport) -> None:
    for record in _open_records():
        what = f"{record.kind} {record.case_number or record.item}"
        try:
            _finish(registry.target_named(record.target), record)
        except Exception as error:  # reported; the next run tries again
            report.failed.append(f"{what}: {type(error).__name__}")
            log.error("purge: finishing %s failed: %s", what, type(error).__name__)
            continue
        report.resumed.append(record)
        log.info("purge: finished the interrupted destruction of %s", what)


def _destroy(target: Target, due: Due, report: PurgeReport) -> None:
    try:
        record = _start(target, due, report.now)
    except IntegrityError:
        return  # another run started this one: it (or the next run) finishes it
    if record is None:
        return
    _finish(target, record)
    report.destroyed.append(due)
    log.info("purge: destroyed %s %s (%s)", due.kind, due.case_number or due.item, due.rule)


def vacuum(tables: list[str]) -> list[str]:
    """Rewrite ``tables`` so deleted rows leave no trace in free pages; [] if impossible
    here (VACUUM cannot run inside a transaction)."""
    if connection.in_atomic_block or not tables:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("VACUUM")  # the whole file: SQLite has no per-table vacuum
            # In WAL mode the old pages also sit in the -wal file until a checkpoint.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return ["(whole database)"]
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            for table in tables:
                cursor.execute(f"VACUUM FULL {quote(table)}")
            return list(tables)
    return []


def _vacuum_pending(report: PurgeReport) -> None:
    pending = PurgeRecord.objects.filter(finished_at__isnull=False, vacuumed_at__isnull=True)
    names = set(pending.values_list("target", flat=True))
    if not names:
        return
    tables: list[str] = []
    for name in sorted(names):
        for table in registry.target_named(name).tables():
            if table not in tables:
                tables.append(table)
    if not tables:  # files only: nothing lingers in the database
        pending.update(vacuumed_at=timezone.now())
        return
    crash_point("before:vacuum")
    report.vacuumed = vacuum(tables)
    if report.vacuumed:
        pending.update(vacuumed_at=timezone.now())


def upcoming(policy: RetentionSettings, today: dt.date, limit: int = 10) -> list[Scheduled]:
    later = [s for t in registry.targets() for s in t.schedule(policy) if s.on > today]
    return sorted(later, key=lambda s: (s.on, list(Kind).index(s.kind)))[:limit]


def _overwrite_deleted_rows() -> None:
    # SQLite zeroes deleted content in place only with secure_delete, a per-connection
    # setting whose default depends on how SQLite was built; the VACUUM at the end
    # rewrites the file anyway, this covers the time until then.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def run_purge(now: dt.datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """Destroy everything whose retention has ended at ``now`` (default: now); in a dry
    run, list it and destroy nothing. An error on one item is reported and the rest
    go on; that item stays open and the next run finishes it."""
    now = now or timezone.now()
    if not dry_run:
        _overwrite_deleted_rows()
    policy = RetentionSettings.current()
    report = PurgeReport(now=now, today=local_today(now), dry_run=dry_run)
    if dry_run:
        report.resumed = _open_records()
    else:
        _resume_open(report)
    for target in registry.targets():
        for due in target.due(policy, now):
            if due.problem:  # one row that cannot be evaluated never stops the others
                what = f"{due.kind} {due.case_number or due.item}"
                report.failed.append(f"{what}: {due.problem}")
                log.error("purge: %s not evaluated: %s", what, due.problem)
                continue
            if dry_run:
                report.destroyed.append(due)
                continue
            try:
                _destroy(target, due, report)
            except Exception as error:  # one bad item must not stop the others
                what = f"{due.kind} {due.case_number or due.item}"
                report.failed.append(f"{what}: {type(error).__name__}")
                log.error("purge: %s failed: %s", what, type(error).__name__)
    if not dry_run:
        _vacuum_pending(report)
        # One entry per run, even an idle one: the auditor sees the daily purge is alive.
        audit_record(SYSTEM, "purge.run", object_type="retention", detail=report.summary())
    report.upcoming = upcoming(policy, report.today)
    if dry_run and report.upcoming:
        report.preview = _due_on(policy, report.upcoming[0].on)
    return report


def _due_on(policy: RetentionSettings, day: dt.date) -> list[Due]:
    """What would be due at noon (local) on ``day``; lists only, destroys nothing."""
    zone = zoneinfo.ZoneInfo(local_zone())
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=zone)
    return [due for target in registry.targets() for due in target.due(policy, noon)]


DAILY_HOUR = 3  # local time: the purge's VACUUM FULL locks the case tables briefly


def last_run_day() -> dt.date | None:
    """The local day the last completed purge ran as of (its ``purge.run`` audit entry)."""
    last = AuditEntry.objects.filter(action="purge.run").order_by("-seq").first()
    as_of = last.detail.get("as_of") if last else None
    return dt.date.fromisoformat(as_of) if isinstance(as_of, str) else None


def run_daily_purge(now: dt.datetime | None = None, hour: int = DAILY_HOUR) -> PurgeReport | None:
    """For a worker that wakes up now and then: purge once a local day, from ``hour``
    on; None if it is too early or today's purge already ran. Durable across restarts
    (it reads the audit log), and harmless if two workers both run it."""
    now = now or timezone.now()
    zone = zoneinfo.ZoneInfo(local_zone())
    if timezone.localtime(now, zone).hour < hour or last_run_day() == local_today(now):
        return None
    return run_purge(now=now)
