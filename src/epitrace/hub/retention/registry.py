"""The kinds of data the purge destroys: a small registry of targets.

A target knows, for one kind of data, what has expired (``due``), what will expire
and when (``schedule``, counts only), and how to destroy one item in steps
(``steps``), each step safe to repeat. The purge (``purge.run_purge``) writes its
intent before the first step and its completion, with an audit entry, after the
last, so an interrupted destruction is finished by the next run.

The built-in targets are in ``targets``. Another app plugs in with ``register(...)``
in its ``AppConfig.ready``; ``targets.CaseDataTarget`` covers the usual case: rows
with a ForeignKey to ``Case`` and files in a sub-folder of the case's folder that
expire before the case itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.db import models

from epitrace.hub.retention.models import PurgeRecord, RetentionSettings
from epitrace.hub.retention.rules import Kind, expiry


@dataclass(frozen=True)
class Due:
    """One item whose retention has ended: what the purge destroys (or would)."""

    target: str
    kind: Kind
    item: str
    expires_on: dt.date
    rule: str
    case_uid: uuid.UUID | None = None
    case_pk: int | None = None
    case_number: str = ""
    count: int = 1  # rows it stands for (cases: 1; the audit log: entries)
    cutoff: dt.date | None = None  # parts of a case: what arrived up to this day goes
    # Set when the item cannot be evaluated (its dates are out of range): the purge
    # reports it and goes on with the others; nothing of it is destroyed.
    problem: str = ""


@dataclass(frozen=True)
class Scheduled:
    """How many items of a kind expire on a day, and by which rule (no personal data)."""

    kind: Kind
    on: dt.date
    count: int
    rule: str


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[PurgeRecord], None]
    # Database steps commit together with the purge log's progress; file steps cannot,
    # and are written to be repeated instead.
    transactional: bool = True


class Target(Protocol):
    name: str
    kind: Kind
    action: str  # the audit log's action for one destruction, e.g. "purge.case"

    def due(self, policy: RetentionSettings, now: dt.datetime) -> list[Due]: ...

    def schedule(self, policy: RetentionSettings) -> list[Scheduled]: ...

    def still_due(self, due: Due, now: dt.datetime) -> bool: ...

    def prepare(self, record: PurgeRecord) -> None: ...

    def steps(self) -> list[Step]: ...

    def tables(self) -> list[str]: ...


_TARGETS: dict[str, Target] = {}


def register(target: Target) -> None:
    """Add (or replace, by name) a target; destruction follows the order of ``Kind``."""
    _TARGETS[target.name] = target


def targets() -> list[Target]:
    order = list(Kind)
    return sorted(_TARGETS.values(), key=lambda t: (order.index(t.kind), t.name))


def target_named(name: str) -> Target:
    return _TARGETS[name]


def cascade_tables(model: type[models.Model]) -> list[str]:
    """The tables whose rows go when a row of ``model`` is deleted (on_delete=CASCADE):
    the ones the purge must vacuum. Read at call time, so apps added later count."""
    found: list[str] = []

    def walk(current: type[models.Model]) -> None:
        table = current._meta.db_table
        if table in found:
            return
        found.append(table)
        for relation in current._meta.related_objects:
            if getattr(relation, "on_delete", None) is models.CASCADE:
                walk(relation.related_model)
        for many in current._meta.many_to_many:
            through = many.remote_field.through
            if through is not None and through._meta.db_table not in found:
                found.append(through._meta.db_table)

    walk(model)
    return found


def group_schedule(
    policy: RetentionSettings, kind: Kind, anchors: dict[dt.date, int], anchor_name: str
) -> list[Scheduled]:
    grouped: dict[tuple[dt.date, str], int] = defaultdict(int)
    for anchor, count in anchors.items():
        try:
            when = expiry(policy, kind, anchor, anchor_name)
        except OverflowError:
            continue  # a date out of range: the purge reports its row (Due.problem)
        grouped[(when.on, when.rule)] += count
    return [Scheduled(kind, on, count, rule) for (on, rule), count in sorted(grouped.items())]


def open_items(target: str) -> set[str]:
    return set(
        PurgeRecord.objects.filter(target=target, finished_at__isnull=True).values_list(
            "item", flat=True
        )
    )
