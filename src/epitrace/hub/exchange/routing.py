"""Which agency is asked what, in which order — worked out by asking stand-ins.

The hub holds no agency's data. To know what to ask, it runs the same code that
would query the stores (the subject's lines, cards and check-ins; the contact
search around each stay) against ``RemoteStore`` stand-ins: a question already
answered gets its answer; a new one is noted and gets an empty answer for now.
When a pass notes new questions, they go out as the next round of tasks; when a
pass notes none, every answer it needed is in, and its result is final. The order
of a real investigation falls out of it: the card association is asked which
issuers hold the person's cards, and only those issuers are then asked; a
carrier's lines are looked up before their records are extracted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from epitrace.analysis.subject import SubjectRecords
from epitrace.formats.problems import Problem
from epitrace.providers.network import Subject, gather
from epitrace.providers.protocol import ANSWER_SCHEMAS, fingerprint, question
from epitrace.providers.queries import MerchantTime, PlaceTimePresence, SubjectExtract

# (agency code, question fingerprint) -> that question's answer tables.
Answers = dict[tuple[str, str], dict[str, pa.Table]]


@dataclass
class Asked:
    """Questions a pass needed that have no answer yet, per agency code, in order."""

    by_agency: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, agency: str, asked: dict[str, Any], name: str) -> None:
        self.by_agency.setdefault(agency, {})[name] = asked

    def __bool__(self) -> bool:
        return any(self.by_agency.values())

    def count(self) -> int:
        return sum(len(q) for q in self.by_agency.values())


@dataclass(frozen=True)
class StoreProfile:
    """What the hub knows of one agency's store (from the agent's hello)."""

    code: str  # the hub's agency code
    agency: str  # the agency's name in its store, as other stores name it
    kind: str
    manifest: dict[str, Any]


def _empty(name: str, columns: Sequence[str] | None = None) -> pa.Table:
    schema = ANSWER_SCHEMAS[name]
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
    return schema.empty_table()


SUBJECT_TABLES = {
    "carrier": ("telecom_records", "cells"),
    "card_issuer": ("card_transactions", "transit_taps", "merchants"),
    "entry_operator": ("entry_logs",),
    "gps": ("gps_points",),
    "card_association": ("card_directory",),
}


# What a store of each kind holds when its manifest does not list its tables.
KIND_TABLES = {
    "carrier": ("cells", "subscribers", "telecom_records"),
    "card_issuer": ("card_holders", "card_transactions", "transit_taps"),
    "card_association": ("merchants", "card_directory"),
    "entry_operator": ("entry_logs",),
    "gps": ("gps_points",),
}


class RemoteStore:
    """Stands in for an agency's store: answers from what the agency sent, notes the rest."""

    def __init__(self, profile: StoreProfile, answers: Answers, asked: Asked) -> None:
        self.profile = profile
        self.agency = profile.agency
        self.kind = profile.kind
        self.manifest = profile.manifest
        self._answers = answers
        self._asked = asked

    def has(self, name: str) -> bool:
        """Does the store hold ``name``? From its manifest; else what its kind holds."""
        tables = self.manifest.get("tables")
        if isinstance(tables, dict | list):
            return name in tables
        return name in KIND_TABLES.get(self.kind, ())

    def _ask(self, asked: dict[str, Any]) -> dict[str, pa.Table] | None:
        name = fingerprint(asked)
        found = self._answers.get((self.profile.code, name))
        if found is None:
            self._asked.add(self.profile.code, asked, name)
        return found

    def lookup(self, registry: str, column: str, values: list[str]) -> pa.Table:
        if not values:
            return _empty(registry)
        found = self._ask(question("lookup", registry=registry, column=column, values=values))
        return found.get(registry, _empty(registry)) if found else _empty(registry)

    def whole_registry(self, registry: str, columns: list[str]) -> pa.Table:
        found = self._ask(question("whole_registry", registry=registry, columns=columns))
        empty = _empty(registry, columns)
        return found.get(registry, empty) if found else empty

    def subject_extract(
        self, query: SubjectExtract, tables: Iterable[str] | None = None
    ) -> dict[str, pa.Table]:
        wanted = sorted(tables) if tables else list(SUBJECT_TABLES[self.kind])
        found = self._ask(question("subject_extract", query=query, tables=wanted)) or {}
        return {name: found.get(name, _empty(name)) for name in wanted}

    def issuers_holding(self, person_ref: str) -> list[str]:
        found = self._ask(question("issuers_holding", person_ref=person_ref))
        return found["issuers"].column("issuer").to_pylist() if found else []

    def presence(self, query: PlaceTimePresence) -> pa.Table:
        name = "checkins" if self.kind == "entry_operator" else "presence"
        found = self._ask(question("presence", query=query))
        return found.get(name, _empty(name)) if found else _empty(name)

    def merchant_time(self, query: MerchantTime) -> pa.Table:
        found = self._ask(question("merchant_time", query=query))
        return found.get("payments", _empty("payments")) if found else _empty("payments")


class RemoteSource:
    """Every agency's stand-in as a ``SubjectSource``: the exchange's side of
    ``workflows.investigation.investigate``. Questions without an answer yet are
    noted in ``asked`` (and answered empty for now); ``unanswered`` says so."""

    def __init__(self, profiles: Sequence[StoreProfile], answers: Answers) -> None:
        self.asked = Asked()
        self.problems: list[Problem] = []  # agents answer in the contract's schemas
        self.stores = [RemoteStore(p, answers, self.asked) for p in profiles]

    def records(self, subject: Subject) -> SubjectRecords:
        """The subject's records from every agency the request's kinds route to,
        asked exactly as ``epitrace analyze`` asks built stores
        (``providers.network.gather``)."""
        return gather(self.stores, subject).records(subject.person_ref)

    def contact_stores(self) -> list[RemoteStore]:
        return self.stores

    def unanswered(self) -> bool:
        return bool(self.asked)
