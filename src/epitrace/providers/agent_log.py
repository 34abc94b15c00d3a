"""The provider agent's own append-only log: what the agency disclosed, to whom, and why.

Each agency must account for every request it answered, whatever the hub says later.
The agent writes one JSON object per line (``agent-log.jsonl`` in its store by default):

- ``prepared`` before an upload: the task, the request and case numbers, who asked
  and who approved, the justification, the questions, and what is about to be sent
  (SHA-256, bytes, tables and row counts per question);
- ``sent`` once the hub acknowledged it, with the hub's reply;
- ``refused`` when the agency declined a task (and why), ``rejected`` when the hub
  would not take an answer (and its reason).

A crash between ``prepared`` and ``sent`` leaves a trace. Every entry is chained to the
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
EVENTS = ("prepared", "sent", "refused", "rejected")


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


class AgentLog:
    """Appends chained entries to one log file; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stream: IO[bytes] | None = None
        self.prev, self.seq = GENESIS, 0

    def open(self) -> AgentLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            for entry in read_entries(self.path):
                self.prev, self.seq = entry["hash"], entry["seq"]
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        stream = os.fdopen(fd, "ab")
        if fcntl is not None:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                stream.close()
                raise AgentLogError(f"{self.path} is in use by another agent") from None
        self._stream = stream
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
