"""The provider agent's own append-only log: what the agency disclosed, to whom, and why.

Each agency must account for every request it answered, whatever the hub says later.
The agent writes one JSON object per line (``agent-log.jsonl`` in its store by default):

- ``prepared`` before an upload: the task, the request and case numbers, who asked
  and who approved, the justification, the questions, and what is about to be sent
  (SHA-256, bytes, tables and row counts per question);
- ``sent`` once the hub acknowledged it, with the hub's reply;
- ``refused`` when the agency declined a task (and why), ``rejected`` when the hub
  would not take an answer (and its reason);
- ``unconfirmed`` when an upload ended without the hub's reply (the agent was stopped,
  or killed: then the next ``open`` writes it): the answer may have left the agency.

So every ``prepared`` entry gets an outcome, and the log never lacks a record of
something that may have left. Every entry is chained to the
previous one: ``hash = SHA-256(prev + canonical JSON of the entry without hash)``, so
editing, removing or reordering a line breaks the chain at that line (``verify_log``).
Each line is flushed and fsynced before the agent goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from epitrace.errors import EpitraceError

try:  # POSIX: one agent per log file
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock is advisory anyway
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64
EVENTS = ("prepared", "sent", "refused", "rejected", "unconfirmed")
OUTCOMES = ("sent", "rejected", "unconfirmed")  # what closes a ``prepared`` entry
KILLED = (
    "the agent stopped after preparing this answer and before logging the hub's reply: "
    "it may have reached the hub"
)


class AgentLogError(EpitraceError, RuntimeError):
    """The log cannot be opened for appending (broken chain, held by another agent)."""


def canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev: str, body: Mapping[str, Any]) -> str:
    """The hash sealing one entry: its predecessor's hash and its own canonical JSON."""
    return hashlib.sha256((prev + canonical(body)).encode()).hexdigest()


@dataclass(frozen=True)
class LogCheck:
    """The result of checking a log: entries read, and the first bad line (1-based)."""

    entries: int
    first_bad: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as stream:
        yield from enumerate(stream, start=1)


def _check_line(raw: bytes, prev: str, seq: int) -> tuple[dict[str, Any] | None, str]:
    """(the entry, "") when the line is sound, else (None, why not)."""
    if not raw.endswith(b"\n"):
        return None, "incomplete line (the agent stopped while writing it?)"
    try:
        entry = json.loads(raw)
    except ValueError:
        return None, "not a JSON object"
    if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
        return None, "not a log entry (no hash)"
    body = {k: v for k, v in entry.items() if k != "hash"}
    if body.get("prev") != prev:
        return None, "does not follow the line before it (removed, inserted or reordered)"
    if body.get("seq") != seq:
        return None, f"sequence number {body.get('seq')!r}, expected {seq}"
    if entry_hash(prev, body) != entry["hash"]:
        return None, "content does not match its hash (edited)"
    return entry, ""


def verify_log(path: Path | str) -> LogCheck:
    """Check every line's chain and seal; name the first bad line."""
    prev, count = GENESIS, 0
    for number, raw in _lines(Path(path)):
        entry, reason = _check_line(raw, prev, count + 1)
        if entry is None:
            return LogCheck(count, number, reason)
        prev, count = entry["hash"], count + 1
    return LogCheck(count)


def read_entries(path: Path | str) -> list[dict[str, Any]]:
    """Every entry of a log that verifies (raises AgentLogError naming the bad line)."""
    path = Path(path)
    check = verify_log(path)
    if not check.ok:
        raise AgentLogError(f"{path} is broken at line {check.first_bad}: {check.reason}")
    return [json.loads(raw) for _, raw in _lines(path)]


def _upload_key(entry: Mapping[str, Any]) -> tuple[Any, Any]:
    sent = entry.get("sent")
    return entry.get("task"), sent.get("sha256") if isinstance(sent, dict) else None


def open_uploads(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``prepared`` entries no outcome followed (same task and SHA-256): uploads that
    may have left without the log saying how they ended."""
    pending: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("event") == "prepared":
            pending.setdefault(_upload_key(entry), []).append(entry)
        elif entry.get("event") in OUTCOMES:
            pending.pop(_upload_key(entry), None)
    return sorted((e for group in pending.values() for e in group), key=lambda e: e["seq"])


def unconfirmed(prepared: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The fields of the ``unconfirmed`` entry that closes ``prepared``."""
    fields = {k: v for k, v in prepared.items() if k not in ("event", "at", "seq", "prev", "hash")}
    return {**fields, "prepared_seq": prepared.get("seq"), "reason": reason}


class AgentLog:
    """Appends chained entries to one log file; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stream: IO[bytes] | None = None
        self.prev, self.seq = GENESIS, 0
        self.reconciled: list[dict[str, Any]] = []  # ``unconfirmed`` entries open wrote

    def open(self) -> AgentLog:
        """Lock the log and check it; an upload an earlier agent left without an outcome
        (killed mid-upload) is closed with an ``unconfirmed`` entry (``reconciled``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        stream = os.fdopen(fd, "ab")
        if fcntl is not None:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                stream.close()
                raise AgentLogError(f"{self.path} is in use by another agent") from None
        try:  # read under the lock: no other agent appends meanwhile
            entries = read_entries(self.path)
        except AgentLogError:
            stream.close()
            raise
        self.prev, self.seq = GENESIS, 0
        for entry in entries:
            self.prev, self.seq = entry["hash"], entry["seq"]
        self._stream = stream
        self.reconciled = [
            self.append("unconfirmed", unconfirmed(prepared, KILLED))
            for prepared in open_uploads(entries)
        ]
        return self

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()  # closing releases the lock
            self._stream = None

    def __enter__(self) -> AgentLog:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Seal and write one entry; it is on disk (fsync) when this returns."""
        if event not in EVENTS:
            raise ValueError(f"unknown log event {event!r}")
        with self._lock:
            if self._stream is None:
                raise AgentLogError("the agent log is not open")
            body = {
                **fields,
                "event": event,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "seq": self.seq + 1,
                "prev": self.prev,
            }
            entry = {**body, "hash": entry_hash(self.prev, body)}
            self._stream.write((canonical(entry) + "\n").encode())
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self.prev, self.seq = entry["hash"], entry["seq"]
            return entry
