"""The provider agent: runs inside an agency, answers the hub's approved questions from
the agency's own store, and keeps the agency's own account of what it disclosed.

The agent only ever calls out (the hub never reaches into an agency):

1. ``POST /api/agent/hello`` with the store's manifest (agency, kind, dates, the limits
   it answers within);
2. ``GET /api/agent/tasks``: the approved tasks of its own agency;
3. for each task, every question answered with ``protocol.answer`` from the store, the
   answers packed with ``protocol.pack_answers`` and sent with
   ``PUT /api/agent/tasks/<id>/answer`` and its SHA-256; a question the store will not
   answer (``QueryRefused``, ``ProtocolError``) declines the task with
   ``POST /api/agent/tasks/<id>/refuse`` and the reason.

Each step is written to the agent's own log (``agent_log.py``) before and after the
upload. While the hub is down or answers 5xx, 408 or 429 the agent retries with
exponential backoff and jitter (capped at a minute); resending an answer is always safe,
because packing is deterministic and the hub deduplicates by checksum. Other 4xx answers
are not retried but logged with the hub's reason; 401 (credential revoked or unknown)
stops the agent. The bearer token is never logged, printed or sent anywhere but the hub
(redirects are refused, so it cannot follow one to another host).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import json
import logging
import random
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epitrace import __version__
from epitrace.errors import EpitraceError, UsageMistake, UserInputError
from epitrace.providers import protocol, queries
from epitrace.providers.agent_log import AgentLog, AgentLogError, unconfirmed
from epitrace.providers.queries import DuckDBEngine, ProviderStore, QueryRefused

LOG = logging.getLogger("epitrace.agent")
LOG_NAME = "agent-log.jsonl"
TOKEN_ENV = "EPITRACE_AGENT_TOKEN"
MAX_REPLY_BYTES = 32 * 1024 * 1024  # a task list, never an answer file
RETRIED_STATUSES = frozenset({408, 429})
CHECKSUM_RESENDS = 3  # a 400 on upload means the body arrived damaged: send it again


class AgentError(UserInputError, RuntimeError):
    """The agent cannot go on (wrong agency, misconfigured hub): stop with this message."""


class CredentialRevoked(AgentError):
    """The hub answered 401: the token is revoked or unknown."""


class HubRejected(EpitraceError):
    """A 4xx (other than 401, 408, 429) or 3xx answer: not retried."""

    def __init__(self, status: int, reason: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status, self.reason, self.body = status, reason, body


class HubUnavailable(EpitraceError):
    """The hub is unreachable or answered 5xx, 408 or 429: retry later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class Stopped(EpitraceError):
    """The stop event was set while waiting to retry."""


# --- talking to the hub ---


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or None


def _reason(body: Any, text: str) -> str:
    """The hub's one-line reason for an error answer."""
    if isinstance(body, dict):
        for key in ("error", "reason", "detail", "message"):
            if isinstance(body.get(key), str):
                text = body[key]
                break
    line = " ".join(text.split())
    return line[:300] or "no reason given"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the bearer token would go along to wherever it points."""

    def redirect_request(  # type: ignore[override]
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        raise HubRejected(code, f"the hub redirects to {newurl}: give its URL exactly")


def _plain_http_elsewhere(hub: str) -> bool:
    """Whether ``hub`` is plain HTTP to anything but loopback (127.0.0.0/8, ::1, localhost)."""
    parsed = urllib.parse.urlsplit(hub)
    if parsed.scheme != "http" or parsed.hostname == "localhost":
        return False
    try:
        return not ipaddress.ip_address(parsed.hostname or "").is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return True


class HubClient:
    """The agent endpoints of one hub, over HTTPS (certificates verified) or local HTTP."""

    def __init__(
        self, hub: str, token: str, *, ca_file: Path | None = None, timeout: float = 120.0
    ) -> None:
        parsed = urllib.parse.urlsplit(hub)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise AgentError(f"the hub URL must be http(s)://host[:port], not {hub!r}")
        if not token or any(c.isspace() for c in token):
            raise AgentError("the agent token is empty or holds spaces")
        if _plain_http_elsewhere(hub):
            raise AgentError(
                f"the hub URL {hub!r} is plain HTTP to another machine: the token and the "
                "answers would travel unencrypted; give its https:// URL (plain HTTP only "
                "to this machine: 127.0.0.1, ::1 or localhost)"
            )
        self.base = hub.rstrip("/")
        self.timeout = timeout
        self._token = token
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._opener = urllib.request.build_opener(
            _NoRedirects(), urllib.request.HTTPSHandler(context=context)
        )

    def __repr__(self) -> str:  # never the token
        return f"HubClient({self.base!r})"

    def call(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request. 2xx: the reply; raises HubUnavailable, CredentialRevoked or
        HubRejected otherwise."""
        sent = {"Accept": "application/json", "User-Agent": f"epitrace-agent/{__version__}"}
        if payload is not None:
            data = json.dumps(payload).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        sent["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Reply(response.status, _json(response.read(MAX_REPLY_BYTES)))
        except urllib.error.HTTPError as error:
            with error:
                body = _json(error.read(MAX_REPLY_BYTES))
            raise _failure(error.code, body, error.headers.get("Retry-After")) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                # Not a passing outage: someone else may be answering for the hub.
                raise AgentError(
                    f"the hub's certificate could not be verified ({error.reason.verify_message});"
                    " for a private CA give --ca-file"
                ) from None
            raise HubUnavailable(f"hub unreachable ({error.reason})") from None
        except (OSError, http.client.HTTPException) as error:  # reset, timeout, bad reply
            raise HubUnavailable(f"hub unreachable ({type(error).__name__}: {error})") from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"error": raw[:300].decode(errors="replace")}


def _failure(status: int, body: Any, retry_after: str | None) -> Exception:
    reason = _reason(body, http.client.responses.get(status, ""))
    if status == 401:
        return CredentialRevoked(
            f"the hub refused the agent's credential (revoked or unknown): {reason}; "
            "ask the hub's administrator for a new token"
        )
    if status >= 500 or status in RETRIED_STATUSES:
        return HubUnavailable(f"hub answered {status} ({reason})", _retry_after(retry_after))
    return HubRejected(status, reason, body)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: half the step fixed, half random (never a herd)."""

    base: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        step = min(self.cap, self.base * 2 ** min(attempt, 32))
        wait = step / 2 + random.uniform(0, step / 2)
        return min(self.cap, max(wait, retry_after or 0.0))


# --- the agent ---


@dataclass
class Summary:
    """What one pass over the pending tasks did (counts only: nothing personal)."""

    tasks: int = 0
    answered: int = 0  # the hub took the answer (201)
    already: int = 0  # the hub already held this very answer (200)
    refused: int = 0  # declined: a question the store will not answer
    rejected: int = 0  # the hub would not take the answer or refusal (reason in the log)
    skipped: int = 0  # sent before (the log says so): never uploaded twice
    failed: int = 0  # could not be answered this time (store error): tried again next pass

    def add(self, other: Summary) -> None:
        for name in (f.name for f in dataclasses.fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        parts = [f"{self.tasks} tasks"] + [
            f"{getattr(self, name)} {name}"
            for name in ("answered", "already", "refused", "rejected", "skipped", "failed")
            if getattr(self, name)
        ]
        return ", ".join(parts)


RetryNotice = Callable[[str, str, float], None]  # (what, why, seconds until the next try)


def _log_retry(what: str, why: str, seconds: float) -> None:
    LOG.warning("%s: %s; retrying in %.1f s", what, why, seconds)


def store_policy() -> dict[str, Any]:
    """The limits this agent answers within (told to the hub in hello)."""
    return {
        "methods": list(protocol.METHODS),
        "max_window_days": queries.MAX_WINDOW_DAYS,
        "max_radius_m": queries.MAX_RADIUS_M,
        "max_places": queries.MAX_PLACES,
        "max_merchants": queries.MAX_MERCHANTS,
        "max_margin_min": queries.MAX_MARGIN_MIN,
        "max_lookup_values": protocol.MAX_LOOKUP_VALUES,
    }


@dataclass(frozen=True)
class Task:
    """One approved task as the hub lists it, checked."""

    id: int
    questions: list[dict[str, Any]]
    fingerprints: list[str]
    raw: dict[str, Any] = field(repr=False)

    def record(self) -> dict[str, Any]:
        """What the agent log keeps about the task: who asked, who approved, why, what."""
        raw = self.raw
        return {
            "task": self.id,
            "request": raw.get("request"),
            "case": raw.get("case"),
            "round": raw.get("round"),
            "requested_by": raw.get("requested_by"),
            "approved_by": raw.get("approved_by"),
            "justification": raw.get("justification"),
            "deadline": raw.get("deadline"),
            "questions": self.questions,
            "fingerprints": self.fingerprints,
        }


def parse_task(raw: object) -> Task:
    """A task from the hub's list; ProtocolError when it is not one this agent can answer."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
        raise protocol.ProtocolError("a task must be an object with an integer id")
    questions, fingerprints = raw.get("questions"), raw.get("fingerprints")
    if not isinstance(questions, list) or not questions:
        raise protocol.ProtocolError("the task asks no questions")
    if not isinstance(fingerprints, list) or len(fingerprints) != len(questions):
        raise protocol.ProtocolError("the task needs one fingerprint per question")
    for index, (asked, name) in enumerate(zip(questions, fingerprints, strict=True)):
        if not isinstance(asked, dict) or protocol.fingerprint(asked) != name:
            raise protocol.ProtocolError(f"question {index}: its fingerprint does not match it")
    return Task(raw["id"], questions, fingerprints, raw)


class Agent:
    """One agency's agent: its store, its hub, its credential, its log."""

    def __init__(
        self,
        agency: str,
        store: Path | str,
        hub: str,
        token: str,
        *,
        log_path: Path | str | None = None,
        ca_file: Path | None = None,
        interval: float = 30.0,
        backoff: Backoff | None = None,
        on_retry: RetryNotice = _log_retry,
        timeout: float = 120.0,
    ) -> None:
        self.agency = agency
        # Its own DuckDB: agents of several agencies may run as threads of one process.
        self.store = ProviderStore(store, engine=DuckDBEngine(threads=2))
        self.client = HubClient(hub, token, ca_file=ca_file, timeout=timeout)
        self.log = AgentLog(log_path if log_path is not None else Path(store) / LOG_NAME)
        self.interval = interval
        self.backoff = backoff or Backoff()
        self.on_retry = on_retry
        self._stop = threading.Event()
        self._log_open = False
        self._greeted = False
        # Tasks the hub acknowledged in this run. Not carried over from the log: a task
        # the hub lists is one it has no answer for (its database may be new), and a
        # resend of the same file is acknowledged without being stored twice.
        self._sent: set[int] = set()

    def __repr__(self) -> str:
        return f"Agent({self.agency!r}, hub={self.client.base!r})"

    # the two ways to run

    def run(
        self, stop: threading.Event, on_pass: Callable[[Summary], None] | None = None
    ) -> Summary:
        """Answer pending tasks every ``interval`` seconds until ``stop`` is set.

        Raises CredentialRevoked (401) or AgentError (misconfiguration) to stop."""
        self._stop = stop
        total = Summary()
        with self._open_log():
            try:
                while not stop.is_set():
                    done = self.answer_pending()
                    total.add(done)
                    if on_pass is not None:
                        on_pass(done)
                    if not (done.answered or done.already or done.refused):
                        stop.wait(self.interval)  # else look again now: the list may be capped
            except Stopped:
                pass
        return total

    def answer_pending(self, stop: threading.Event | None = None) -> Summary:
        """One pass: say hello if not yet done, answer every ready task, return counts.

        Retries while the hub is down until it answers or ``stop`` is set (then raises
        Stopped)."""
        if stop is not None:
            self._stop = stop
        with self._open_log():
            if not self._greeted:
                self.hello()
            summary = Summary()
            for raw in self._pending():
                summary.tasks += 1
                summary.add(self._handle(raw))
            return summary

    # the steps

    def hello(self) -> dict[str, Any]:
        manifest = self.store.manifest
        payload = {
            "agency": self.agency,
            "store": {
                "agency": manifest.get("agency"),
                "kind": manifest.get("kind"),
                "first_date": manifest.get("first_date"),
                "last_date": manifest.get("last_date"),
                "tables": sorted(manifest.get("tables", {})),  # names only: what it can answer
                "policy": store_policy(),
            },
        }
        try:
            reply = self._retrying(
                "hello", lambda: self.client.call("POST", "/api/agent/hello", payload=payload)
            )
        except HubRejected as refused:
            raise AgentError(f"the hub refused agency {self.agency!r}: {refused}") from None
        self._greeted = True
        return reply.body if isinstance(reply.body, dict) else {}

    def _pending(self) -> list[Any]:
        try:
            reply = self._retrying("tasks", lambda: self.client.call("GET", "/api/agent/tasks"))
        except HubRejected as refused:
            raise AgentError(f"the hub refused the task list: {refused}") from None
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
            raise AgentError("the hub's task list is not {agency, tasks: [...]}")
        if body.get("agency") not in (None, self.agency):
            raise AgentError(f"the hub listed tasks of {body.get('agency')!r}, not {self.agency!r}")
        return body["tasks"]

    def _handle(self, raw: Any) -> Summary:
        done = Summary()
        try:
            task = parse_task(raw)
        except protocol.ProtocolError as error:
            if isinstance(raw, dict) and isinstance(raw.get("id"), int):
                return self._decline(raw["id"], str(error), {"task": raw["id"]})
            LOG.warning("skipped a task the hub listed without an id")
            done.failed += 1
            return done
        if task.id in self._sent:
            done.skipped += 1  # the hub took it: never sent twice, whatever the list says
            return done
        answers: list[dict[str, Any]] = []
        for index, asked in enumerate(task.questions):
            try:
                answers.append(protocol.answer(self.store, asked))
            except (QueryRefused, protocol.ProtocolError) as refusal:
                reason = refusal.reason if isinstance(refusal, QueryRefused) else str(refusal)
                return self._decline(task.id, f"question {index}: {reason}", task.record())
            except Exception as error:  # the store's own trouble: no refusal, try again later
                LOG.warning(
                    "task %s: could not be answered (%s); trying again next pass",
                    task.id,
                    type(error).__name__,
                )
                done.failed += 1
                return done
        return self._send(task, answers)

    def _send(self, task: Task, answers: list[dict[str, Any]]) -> Summary:
        done = Summary()
        blob = protocol.pack_answers(task.fingerprints, answers)
        sha = protocol.sha256_of(blob)
        record = task.record()
        record["sent"] = {
            "sha256": sha,
            "bytes": len(blob),
            "answers": [
                {"question": name, "tables": {t: rows.num_rows for t, rows in sorted(a.items())}}
                for name, a in zip(task.fingerprints, answers, strict=True)
            ],
        }
        prepared = self.log.append("prepared", record)  # on disk before a byte leaves
        try:
            reply = self._upload(task.id, blob, sha)
        except HubRejected as refused:
            self.log.append("rejected", {**record, "hub_reply": _reply_record(refused)})
            LOG.warning(
                "task %s: the hub did not take the answer (HTTP %s)", task.id, refused.status
            )
            done.rejected += 1
            return done
        except BaseException as stopped:  # stopped, revoked, killed: it may have left
            why = str(stopped) or "the agent was stopped"
            with contextlib.suppress(AgentLogError, OSError):  # else the next open logs it
                self.log.append(
                    "unconfirmed",
                    unconfirmed(
                        prepared,
                        f"the upload ended without the hub's reply ({why}): "
                        "it may have reached the hub",
                    ),
                )
            raise
        self.log.append(
            "sent", {**record, "hub_reply": {"status": reply.status, "body": reply.body}}
        )
        self._sent.add(task.id)
        if reply.status == 201:
            done.answered += 1
        else:
            done.already += 1
        return done

    def _upload(self, task_id: int, blob: bytes, sha: str) -> Reply:
        headers = {"Content-Type": "application/zip", "X-Answer-SHA256": sha}
        path = f"/api/agent/tasks/{task_id}/answer"
        for resend in range(CHECKSUM_RESENDS + 1):
            try:
                return self._retrying(
                    f"upload of task {task_id}",
                    lambda: self.client.call("PUT", path, data=blob, headers=headers),
                )
            except HubRejected as refused:
                if refused.status != 400 or resend == CHECKSUM_RESENDS:
                    raise
                LOG.warning("task %s: the hub got a damaged upload; sending it again", task_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _decline(self, task_id: int, reason: str, record: dict[str, Any]) -> Summary:
        done = Summary()
        path = f"/api/agent/tasks/{task_id}/refuse"
        try:
            reply = self._retrying(
                f"refusal of task {task_id}",
                lambda: self.client.call("POST", path, payload={"reason": reason}),
            )
        except HubRejected as refused:
            entry = {**record, "reason": reason, "hub_reply": _reply_record(refused)}
            self.log.append("rejected", entry)
            done.rejected += 1
            return done
        entry = {
            **record,
            "reason": reason,
            "hub_reply": {"status": reply.status, "body": reply.body},
        }
        self.log.append("refused", entry)
        done.refused += 1
        return done

    # plumbing

    def _retrying(self, what: str, call: Callable[[], Reply]) -> Reply:
        """``call`` until it does not raise HubUnavailable, backing off between tries."""
        attempt = 0
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                return call()
            except HubUnavailable as down:
                delay = self.backoff.delay(attempt, down.retry_after)
                self.on_retry(what, down.reason, delay)
                if self._stop.wait(delay):
                    raise Stopped from None
                attempt += 1

    @contextlib.contextmanager
    def _open_log(self) -> Iterator[None]:
        if self._log_open:
            yield
            return
        try:
            self.log.open()
        except AgentLogError as error:  # broken, or held by another agent: stop, say why
            raise AgentError(str(error)) from None
        for entry in self.log.reconciled:
            LOG.warning(
                "task %s: an earlier run stopped between preparing its answer and the hub's "
                "reply; logged as unconfirmed (it may have reached the hub)",
                entry.get("task"),
            )
        self._log_open = True
        try:
            yield
        finally:
            self.log.close()
            self._log_open = False


def _reply_record(refused: HubRejected) -> dict[str, Any]:
    return {"status": refused.status, "reason": refused.reason}


def read_token(token_file: Path | None, environ: Mapping[str, str]) -> str:
    """The agency's credential: from a file, else from EPITRACE_AGENT_TOKEN."""
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as error:
            raise AgentError(f"cannot read the token file {token_file}: {error.strerror}") from None
        if not token:
            raise AgentError(f"the token file {token_file} is empty")
        return token
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise AgentError(
            f"no credential: give --token-file FILE or set {TOKEN_ENV} "
            "(the token the hub's administrator issued for this agency)"
        )
    return token


# --- the command line (epitrace agent) ---


def run_from_cli(
    agency: str,
    store_dir: Path,
    hub: str,
    token_file: Path | None,
    interval: float,
    once: bool,
    log_file: Path | None,
    ca_file: Path | None,
) -> None:
    """``epitrace agent``: counts on stdout, one line per retry on stderr, never the token
    nor anything from the log."""
    import os
    import signal

    import click

    def echo_retry(what: str, why: str, seconds: float) -> None:
        click.echo(f"{what}: {why}; retrying in {seconds:.0f} s", err=True)

    try:
        token = read_token(token_file, os.environ)
        agent = Agent(
            agency,
            store_dir,
            hub,
            token,
            log_path=log_file,
            ca_file=ca_file,
            interval=interval,
            on_retry=echo_retry,
        )
    except (FileNotFoundError, NotADirectoryError, KeyError, ValueError) as error:
        raise UsageMistake(f"{store_dir}: {error}") from None
    except (AgentError, ssl.SSLError) as error:
        raise UsageMistake(str(error)) from None
    if token_file is not None and token_file.stat().st_mode & 0o077:
        click.echo(f"warning: {token_file} is readable by others: chmod 600 it", err=True)
    click.echo(
        f"agent for {agency}: store {agent.store.agency} ({agent.store.kind}), "
        f"hub {agent.client.base}, log {agent.log.path}"
    )

    def report(done: Summary) -> None:
        if done.tasks:
            click.echo(f"{agency}: {done.line()}")

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        if once:
            done = agent.answer_pending(stop)
            click.echo(f"{agency}: {done.line()}")
        else:
            agent.run(stop, on_pass=report)
    except Stopped:  # --once, interrupted while waiting for the hub: the pass is not done
        click.echo("stopped before every pending task was answered", err=True)
        raise SystemExit(1) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
