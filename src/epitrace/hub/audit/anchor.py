"""The audit chain's anchor outside the database: its high-water mark on the application host.

Whoever can write the database can delete the last entries (or all of them, with the
head and the checkpoint) and put back an older head row, sealed as it was then. The
anchor is a small file next to the audit key (``settings.EPITRACE_AUDIT_ANCHOR``)
holding the number and seal of the last entry known to be committed, sealed with the
audit key: ``verify_chain`` reports a chain that ends before it or that holds another
entry under its number. The file only moves forward; it is replaced atomically (write,
fsync, rename, fsync of the folder), mode 0600, and concurrent appends take turns on a
lock file, so the mark never goes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from epitrace.errors import EpitraceError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process, the thread lock below
    fcntl = None  # type: ignore[assignment]

_in_process = threading.Lock()


@dataclass(frozen=True)
class Anchor:
    seq: int
    seal: str


class ForgedAnchor(EpitraceError, ValueError):
    """The anchor file is not one the hub wrote (its seal does not match)."""


def anchor_path() -> Path:
    return Path(settings.EPITRACE_AUDIT_ANCHOR)


def _mac(seq: int, seal: str) -> str:
    message = f"anchor\n{seq}\n{seal}".encode()
    return hmac.new(settings.AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()


def read_anchor() -> Anchor | None:
    """The anchor, or None if there is none; ForgedAnchor if it was altered."""
    try:
        data = json.loads(anchor_path().read_text())
        seq, seal, mac = int(data["seq"]), str(data["seal"]), str(data["mac"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise ForgedAnchor("the anchor file is not readable") from error
    if not hmac.compare_digest(mac, _mac(seq, seal)):
        raise ForgedAnchor("the anchor's seal does not match")
    return Anchor(seq, seal)


@contextlib.contextmanager
def _turn(path: Path) -> Iterator[None]:
    """One writer at a time: threads of this process, and other processes (flock)."""
    with _in_process:
        if fcntl is None:
            yield
            return
        descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def raise_anchor(seq: int, seal: str) -> None:
    """Move the mark to entry ``seq`` (committed), unless it is already there or beyond."""
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _turn(path):
        try:
            current = read_anchor()
        except ForgedAnchor:
            return  # left for verify_chain to report, never silently replaced
        if current is not None and current.seq >= seq:
            return
        body = json.dumps({"seq": seq, "seal": seal, "mac": _mac(seq, seal)}).encode()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, body)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
