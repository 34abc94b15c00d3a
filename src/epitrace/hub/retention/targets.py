"""The built-in purge targets: whole cases, the parts of a case that expire before it
(the exchange's provider answers and analysis results), and the audit log."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import models
from django.db.models import Count
from django.db.models.functions import TruncDate

from epitrace.hub import crypto
from epitrace.hub.audit.chain import prune_expired
from epitrace.hub.audit.chain import retention as audit_chain_retention
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import BlindIndex, Case, CaseKey
from epitrace.hub.cases.storage import (
    ANSWERS_DIR,
    RESULTS_DIR,
    cases_root,
    delete_folder_for_uid,
    folder_for_uid,
)
from epitrace.hub.disclosure.models import DisclosureEntry
from epitrace.hub.exchange.models import AnalysisResult
from epitrace.hub.retention import aggregates
from epitrace.hub.retention.models import PurgeRecord, RetentionSettings
from epitrace.hub.retention.registry import (
    Due,
    Scheduled,
    Step,
    Target,
    cascade_tables,
    group_schedule,
    open_items,
    register,
)
from epitrace.hub.retention.rules import (
    Kind,
    expiry,
    latest_expired_anchor,
    local_today,
    local_zone,
    retention_rule,
)

# A case's data is dated by the later of its confirmation and its registration: a case
# entered late (or with a mistyped date) is not destroyed the night it is registered.
CASE_ANCHOR = "confirmation (or registration, if later)"
ARRIVAL_ANCHOR = "it arrived (not before the case's confirmation or registration)"


def _lock_case(due: Due) -> Case | None:
    """The case, row-locked until the intent commits (None if gone): two runs at once
    take turns here, and the second sees the first's open record, or that nothing is
    left to destroy — never both miss each other."""
    return Case.objects.select_for_update().filter(uid=due.case_uid).first()


def local_day(moment: dt.datetime) -> dt.date:
    return local_today(moment)


def start_of_local_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(local_zone()))


def case_anchor(case: Case) -> dt.date:
    return max(case.confirmation_date, local_day(case.registered_at))


def expired_cases(cutoff: dt.date) -> models.QuerySet:
    """Cases confirmed and registered on or before ``cutoff`` (local days)."""
    cases = Case.objects.filter(confirmation_date__lte=cutoff)
    if cutoff < dt.date.max:
        cases = cases.filter(registered_at__lt=start_of_local_day(cutoff + dt.timedelta(days=1)))
    return cases.order_by("pk")


def _case_due(
    target: Target,
    policy: RetentionSettings,
    case: Case,
    *,
    anchor: dt.date | None = None,
    anchor_name: str = CASE_ANCHOR,
    rule: str | None = None,
    **extra: Any,
) -> Due:
    day = anchor or case_anchor(case)
    try:
        when = expiry(policy, target.kind, day, anchor_name)
        on, problem = when.on, ""
    except OverflowError:
        # A date out of range (entered before cases/dates.py refused it): reported by
        # the purge, which destroys everything else.
        on, problem = day, "its dates are out of range: correct them, then it is purged"
    return Due(
        target=target.name,
        kind=target.kind,
        item=str(case.uid),
        expires_on=on,
        rule=rule or (problem and "cannot be evaluated") or when.rule,
        problem=problem,
        case_uid=case.uid,
        case_pk=case.pk,
        case_number=case.case_id or "",
        **extra,
    )


# --- whole cases: the identifiers, and with them everything of the case ---


def _forget_at_provider(wrapped: bytes, case_uid: Any) -> None:
    """A key provider that keeps the data keys itself (a KMS with a key per case) may
    offer ``forget(wrapped, context)``: destroying its copy is what reaches database
    backups, which still hold the wrapped key. It must be safe to call twice."""
    forget = getattr(crypto.key_provider(), "forget", None)
    if callable(forget):
        forget(wrapped, f"case:{case_uid}".encode())


def _destroy_key(record: PurgeRecord) -> None:
    # Crypto-shredding first: from here on no ciphertext of the case can be read,
    # in this database or in any copy. The blind-index digests go with the key.
    keys = CaseKey.objects.filter(case__uid=record.case_uid)
    for wrapped in keys.values_list("wrapped", flat=True):
        _forget_at_provider(bytes(wrapped), record.case_uid)
    keys.delete()
    BlindIndex.objects.filter(case__uid=record.case_uid).delete()


def _delete_case_rows(record: PurgeRecord) -> None:
    # Every row that belongs to the case has a ForeignKey with on_delete=CASCADE.
    Case.objects.filter(uid=record.case_uid).delete()


def _delete_case_files(record: PurgeRecord) -> None:
    delete_folder_for_uid(record.case_uid)


def _late_folders(target: Target) -> list[Due]:
    """Folders of cases already destroyed that hold files again: written by a request
    still in flight while the case was purged (unreadable: the key is gone). Only
    folders of cases this purge destroyed, never one it does not know."""
    root = cases_root()
    names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    if not names:
        return []
    gone = (
        PurgeRecord.objects.filter(target=target.name, finished_at__isnull=False)
        .filter(item__in=names)
        .values_list("item", "case_pk", "case_number", "expires_on")
        .distinct()
    )
    return [
        Due(
            target=target.name,
            kind=target.kind,
            item=item,
            expires_on=expired,
            rule="files written after the case was destroyed",
            case_uid=uuid.UUID(item),
            case_pk=case_pk,
            case_number=number,
        )
        for item, case_pk, number, expired in gone
    ]


class CaseTarget:
    """A case whose identifiers expired: its key, every row of it, its folder."""

    name = "cases"
    kind = Kind.IDENTIFIERS
    action = "purge.case"

    def due(self, policy: RetentionSettings, now: dt.datetime) -> list[Due]:
        cutoff = latest_expired_anchor(policy, self.kind, local_today(now))
        skip = open_items(self.name)
        found = [_case_due(self, policy, c) for c in expired_cases(cutoff)]
        # A case whose key is already gone (shredded by hand, or a key provider that lost
        # it) holds nothing readable: its rows and files go too, not kept ambiguous.
        listed = {d.item for d in found}
        keyless = Case.objects.filter(key__isnull=True).order_by("pk")
        found += [
            _case_due(self, policy, c, rule="data key already destroyed")
            for c in keyless
            if str(c.uid) not in listed
        ]
        # A case dated so late that its expiry is past the calendar's end: reported.
        listed = {d.item for d in found}
        last = dt.date.max - dt.timedelta(days=policy.days(self.kind))
        far = Case.objects.filter(confirmation_date__gt=last).order_by("pk")
        unevaluable = [_case_due(self, policy, c) for c in far if str(c.uid) not in listed]
        found += [d for d in unevaluable if d.problem]
        found += _late_folders(self)
        return [d for d in found if d.item not in skip]

    def schedule(self, policy: RetentionSettings) -> list[Scheduled]:
        anchors: dict[dt.date, int] = defaultdict(int)
        for confirmed, registered in Case.objects.values_list("confirmation_date", "registered_at"):
            anchors[max(confirmed, local_day(registered))] += 1
        return group_schedule(policy, self.kind, anchors, CASE_ANCHOR)

    def still_due(self, due: Due, now: dt.datetime) -> bool:
        # Another run may have destroyed it since the list was made.
        return _lock_case(due) is not None or folder_for_uid(due.case_uid).exists()

    def prepare(self, record: PurgeRecord) -> None:
        # In the transaction that writes the intent: the case is counted exactly once.
        case = Case.objects.select_related("region").filter(uid=record.case_uid).first()
        if case is not None:
            aggregates.fold(case)

    def steps(self) -> list[Step]:
        return [
            Step("key", _destroy_key),
            Step("rows", _delete_case_rows),
            Step("files", _delete_case_files, transactional=False),
        ]

    def tables(self) -> list[str]:
        return cascade_tables(Case)


# --- parts of a case that expire before it (provider results, analysis outputs) ---


@dataclass
class CaseDataTarget:
    """Parts of a case that expire before it: rows of ``model`` (a ForeignKey
    ``case_field`` to Case; None for files only) and the files under
    ``case_folder(case) / subfolder``. Each piece expires ``kind``'s retention after it
    arrived (the rows' ``arrival_field``, a file's modification time), and never before
    the case's own anchor; the case itself stays."""

    name: str
    kind: Kind
    model: type[models.Model] | None
    subfolder: str
    arrival_field: str | None = None
    case_field: str = "case"
    action: str = field(default="")

    def __post_init__(self) -> None:
        self.action = self.action or f"purge.{self.kind}"

    def _rows_of(self, case_uid: Any) -> models.QuerySet | None:
        if self.model is None:
            return None
        return self.model._default_manager.filter(**{f"{self.case_field}__uid": case_uid})

    def _folder(self, case_uid: Any) -> Path:
        return folder_for_uid(case_uid) / self.subfolder

    def _arrivals(self) -> dict[str, list[dt.date | None]]:
        """{case uid: each piece's arrival day (None: unknown)}, in one query and one walk
        of the case folders, whatever the number of cases."""
        found: dict[str, list[dt.date | None]] = defaultdict(list)
        if self.model is not None:
            key = f"{self.case_field}__uid"
            rows = self.model._default_manager.all()
            if self.arrival_field is None:
                for uid in rows.values_list(key, flat=True):
                    found[str(uid)].append(None)
            else:
                for uid, moment in rows.values_list(key, self.arrival_field):
                    found[str(uid)].append(local_day(moment))
        root = cases_root()
        if root.is_dir():
            for folder in root.iterdir():
                found[folder.name] += [day for _, day in self._files(folder.name)]
        return found

    def _files(self, case_uid: Any) -> list[tuple[Path, dt.date]]:
        folder = cases_root() / str(case_uid) / self.subfolder
        if not folder.is_dir():
            return []
        return [
            (path, local_day(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)))
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        ]

    def _arrivals_of(self, case_uid: Any) -> list[dt.date | None]:
        arrivals: list[dt.date | None] = []
        rows = self._rows_of(case_uid)
        if rows is not None and self.arrival_field is None:
            arrivals += [None] * rows.count()
        elif rows is not None:
            arrivals += [local_day(t) for t in rows.values_list(self.arrival_field, flat=True)]
        return arrivals + [day for _, day in self._files(case_uid)]

    @staticmethod
    def _pieces(floor: dt.date, arrivals: list[dt.date | None]) -> list[dt.date]:
        """Each piece's anchor: when it arrived, not before its case's anchor."""
        return [max(floor, day or floor) for day in arrivals]

    def due(self, policy: RetentionSettings, now: dt.datetime) -> list[Due]:
        cutoff = latest_expired_anchor(policy, self.kind, local_today(now))
        skip = open_items(self.name)
        arrivals = self._arrivals()
        found = []
        for case in expired_cases(cutoff):
            pieces = self._pieces(case_anchor(case), arrivals.get(str(case.uid), []))
            expired = [day for day in pieces if day <= cutoff]
            if str(case.uid) in skip or not expired:
                continue
            found.append(
                _case_due(
                    self,
                    policy,
                    case,
                    anchor=max(expired),
                    anchor_name=ARRIVAL_ANCHOR,
                    count=len(expired),
                    cutoff=cutoff,
                )
            )
        return found

    def schedule(self, policy: RetentionSettings) -> list[Scheduled]:
        anchors: dict[dt.date, int] = defaultdict(int)
        arrivals = self._arrivals()
        cases = Case.objects.values_list("uid", "confirmation_date", "registered_at")
        for uid, confirmed, registered in cases:
            floor = max(confirmed, local_day(registered))
            for day in self._pieces(floor, arrivals.get(str(uid), [])):
                anchors[day] += 1
        return group_schedule(policy, self.kind, anchors, ARRIVAL_ANCHOR)

    def still_due(self, due: Due, now: dt.datetime) -> bool:
        case = _lock_case(due)
        if case is None or due.cutoff is None:
            return False
        arrivals = self._arrivals_of(case.uid)
        return any(day <= due.cutoff for day in self._pieces(case_anchor(case), arrivals))

    def prepare(self, record: PurgeRecord) -> None:
        return None  # the count was taken with the due list

    def _arrived_by(self, day: dt.date | None) -> dict[str, object]:
        if self.arrival_field is None or day is None or day >= dt.date.max:
            return {}
        return {f"{self.arrival_field}__lt": start_of_local_day(day + dt.timedelta(days=1))}

    def _delete_rows(self, record: PurgeRecord) -> None:
        rows = self._rows_of(record.case_uid)
        if rows is not None:
            rows.filter(**self._arrived_by(record.cutoff)).delete()

    def _delete_files(self, record: PurgeRecord) -> None:
        for path, day in self._files(record.case_uid):
            if record.cutoff is None or day <= record.cutoff:
                path.unlink(missing_ok=True)
        folder = self._folder(record.case_uid)
        if folder.exists() and not any(p.is_file() for p in folder.rglob("*")):
            shutil.rmtree(folder)

    def steps(self) -> list[Step]:
        return [
            Step("rows", self._delete_rows),
            Step("files", self._delete_files, transactional=False),
        ]

    def tables(self) -> list[str]:
        return cascade_tables(self.model) if self.model is not None else []


# --- the audit log ---


def _pruning_clock(policy: RetentionSettings, now: dt.datetime) -> dt.datetime:
    # audit.chain.prune_expired cuts at now - EPITRACE_AUDIT_RETENTION_DAYS; shifting its
    # clock makes it cut at now - the administrator's audit_log_days instead.
    return now - dt.timedelta(days=policy.audit_log_days) + audit_chain_retention()


class AuditLogTarget:
    """Audit entries past their retention, removed behind the chain's sealed checkpoint."""

    name = "audit_log"
    kind = Kind.AUDIT_LOG
    action = "purge.audit_log"

    def due(self, policy: RetentionSettings, now: dt.datetime) -> list[Due]:
        # One pruning at a time: an unfinished one is resumed, not doubled.
        if PurgeRecord.objects.filter(target=self.name, finished_at__isnull=True).exists():
            return []
        pruning = prune_expired(now=_pruning_clock(policy, now), dry_run=True)
        if pruning.removed == 0:
            return []
        oldest = AuditEntry.objects.order_by("seq").values_list("at", flat=True).first()
        assert oldest is not None  # something is due, so an entry exists
        days = policy.audit_log_days
        return [
            Due(
                target=self.name,
                kind=self.kind,
                item=f"through #{(pruning.first_kept or 1) - 1}",
                expires_on=oldest.date() + dt.timedelta(days=days),
                rule=retention_rule(self.kind, days, "the entry was written"),
                count=pruning.removed,
            )
        ]

    def schedule(self, policy: RetentionSettings) -> list[Scheduled]:
        rows = (
            AuditEntry.objects.annotate(day=TruncDate("at")).values("day").annotate(n=Count("id"))
        )
        anchors = {row["day"]: row["n"] for row in rows.order_by()}
        return group_schedule(policy, self.kind, anchors, "the entry was written")

    def still_due(self, due: Due, now: dt.datetime) -> bool:
        # The dry run locks the chain's head until the intent commits: one pruning at once.
        policy = RetentionSettings.current()
        return prune_expired(now=_pruning_clock(policy, now), dry_run=True).removed > 0

    def prepare(self, record: PurgeRecord) -> None:
        return None

    def _prune(self, record: PurgeRecord) -> None:
        prune_expired(now=_pruning_clock(RetentionSettings.current(), record.started_at))

    def steps(self) -> list[Step]:
        # prune_expired is atomic and appends its own audit.prune entry.
        return [Step("prune", self._prune, transactional=False)]

    def tables(self) -> list[str]:
        return [AuditEntry._meta.db_table]


def register_exchange_targets() -> None:
    """The exchange's provider answers (files) and analysis results (rows), each with
    its own retention, shorter than the case's."""
    register(CaseDataTarget("provider_answers", Kind.RAW_RESULTS, None, ANSWERS_DIR))
    register(
        CaseDataTarget(
            "analysis_results",
            Kind.ANALYSIS_RESULTS,
            AnalysisResult,
            RESULTS_DIR,
            arrival_field="computed_at",
        )
    )


def register_disclosure_targets() -> None:
    """Public disclosure entries: withdrawn from the list 14 days after the last exposure,
    destroyed after their own retention (they name places and times a case was at)."""
    register(
        CaseDataTarget(
            "disclosure_entries",
            Kind.DISCLOSURES,
            DisclosureEntry,
            "disclosures",
            arrival_field="end",
        )
    )


def register_builtin() -> None:
    register(CaseTarget())
    register(AuditLogTarget())
    register_exchange_targets()
    register_disclosure_targets()
