"""The exchange under faults, end to end: real agents (threads, and ``epitrace agent``
processes) against the real hub served over HTTP, on SQLite and PostgreSQL
(``DATABASE_URL=postgresql://...``).

Each fault ends with nothing lost, nothing duplicated, and a clear error where one is
due: an agent killed mid-upload and restarted answers each task exactly once; malformed,
oversized, damaged and replayed answer files are refused or recognised; an agent cannot
reach another agency's task, nor anything with a revoked credential; 20 cases requested
at once are all answered, each task once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pytest_django.live_server_helper import LiveServer
from tests.hub.conftest import _plain_http_test_client, make_account, places  # noqa: F401

from epitrace.hub.accounts.models import Role
from epitrace.hub.accounts.regions import region_for
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import CaseDates, register_case
from epitrace.hub.exchange import jobs
from epitrace.hub.exchange.credentials import issue_token, revoke_tokens
from epitrace.hub.exchange.models import AgencyTask, DataRequest, Status, TaskStatus
from epitrace.hub.exchange.provisioning import (
    StoreAgency,
    register_dataset_cases,
    register_store_agencies,
    synthetic_identifiers,
)
from epitrace.hub.exchange.workflow import create_request, decide_request
from epitrace.providers import protocol
from epitrace.providers.agent import Agent, Backoff, CredentialRevoked, HubClient, HubRejected
from epitrace.providers.agent_log import read_entries, verify_log

pytestmark = pytest.mark.slow

FAST = Backoff(base=0.05, cap=0.5)
JUSTIFICATION = "confirmed case: trace the infectious period"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Exchange:
    url: str
    agencies: dict[str, StoreAgency]
    tokens: dict[str, str]
    investigator: Any
    police: Any
    dataset: Path
    folder: Path
    agents: dict[str, Agent] = field(default_factory=dict)
    retries: list[str] = field(default_factory=list)  # why agents had to wait for the hub

    def store(self, code: str) -> Path:
        return self.agencies[code].store

    def log(self, code: str) -> Path:
        return self.folder / "agent-logs" / f"{code}.jsonl"

    def agent(self, code: str) -> Agent:
        if code not in self.agents:
            self.agents[code] = Agent(
                code,
                self.store(code),
                self.url,
                self.tokens[code],
                log_path=self.log(code),
                backoff=FAST,
                on_retry=lambda what, why, _: self.retries.append(f"{code} {what}: {why}"),
                timeout=60.0,
            )
        return self.agents[code]


def hub_server() -> LiveServer:
    """The hub over HTTP on loopback, in a thread of this process.

    On SQLite the test database lives in memory and every request thread shares the
    test's one connection, so requests are served one at a time (as one connection
    can); in service, and on PostgreSQL here, each request has its own connection."""
    server = LiveServer("localhost:0", start=False)
    if server.thread.connections_override:
        wrapped, lock = server.thread.static_handler, threading.Lock()

        def one_at_a_time(app: Any) -> Any:
            handler = wrapped(app)

            def serve(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                with lock:
                    return list(handler(environ, start_response))

            return serve

        server.thread.static_handler = one_at_a_time
    server.start()
    return server


@pytest.fixture
def exchange(
    transactional_db: None,
    stores: Path,
    parquet_city: Path,
    make_account: Any,  # noqa: F811
    settings: Any,
    tmp_path: Path,
) -> Iterator[Exchange]:
    settings.HOME = tmp_path / "hub"
    settings.SECURE_SSL_REDIRECT = False  # plain HTTP on loopback; TLS ends at the proxy
    settings.EPITRACE_ANSWER_SETTLE_SECONDS = 0  # jobs run by the test, right after answers
    agencies = {a.code: a for a in register_store_agencies(stores)}
    tokens = {code: issue_token(a.agency, by="admin") for code, a in agencies.items()}
    server = hub_server()  # after the settings above: its handler reads them
    try:
        yield Exchange(
            url=server.url,
            agencies=agencies,
            tokens=tokens,
            investigator=verified(make_account(Role.NATIONAL_INVESTIGATOR, "inv")),
            police=verified(make_account(Role.POLICE_APPROVER, "cop")),
            dataset=parquet_city,
            folder=tmp_path,
        )
    finally:
        server.stop()


def verified(user: Any) -> Any:
    user.is_verified = lambda: True  # signed in with both factors
    return user


def approved_request(exchange: Exchange, case: Case, kinds: tuple[str, ...]) -> DataRequest:
    request = create_request(exchange.investigator, case, kinds, JUSTIFICATION)
    if request.status == Status.AWAITING_APPROVAL:
        request = decide_request(exchange.police, request, approve=True)
    return request


def ready_tasks(requests: list[DataRequest] | None = None) -> list[AgencyTask]:
    tasks = AgencyTask.objects.select_related("agency").filter(status=TaskStatus.READY)
    if requests is not None:
        tasks = tasks.filter(request__in=requests)
    return list(tasks.order_by("id"))


def answer_in_threads(exchange: Exchange, codes: set[str]) -> None:
    """One agent per agency answers what is pending, all at the same time."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def answer(code: str) -> None:
        try:
            exchange.agent(code).answer_pending(stop)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=answer, args=(code,)) for code in sorted(codes)]
    for thread in threads:
        thread.start()
    deadline = threading.Timer(120, stop.set)  # a hub that keeps failing ends the pass
    deadline.start()
    for thread in threads:
        thread.join()
    deadline.cancel()
    assert not errors, (errors, exchange.retries[-10:])


def run_to_the_end(exchange: Exchange, requests: list[DataRequest]) -> list[DataRequest]:
    """Jobs ask, agents answer, until every request is analysed (or nothing moves)."""
    for _ in range(20):
        jobs.run_pending()
        pending = ready_tasks(requests)
        if not pending:
            break
        answer_in_threads(exchange, {t.agency.code for t in pending})
    jobs.run_pending()
    for request in requests:
        request.refresh_from_db()
    return requests


def job_outcomes(request: DataRequest) -> list[tuple[str, int, str]]:
    """What the request's jobs did (shown when a request did not end as expected)."""
    return [(j.status, j.attempts, j.outcome) for j in request.jobs.order_by("id")]


def assert_each_task_answered_once(requests: list[DataRequest]) -> None:
    tasks = list(AgencyTask.objects.filter(request__in=requests))
    assert tasks and all(t.status in (TaskStatus.ANSWERED, TaskStatus.REFUSED) for t in tasks)
    receipts = AuditEntry.objects.filter(action="request.answer", detail__has_key="sha256")
    by_task: dict[str, list[str]] = {}
    for entry in receipts:
        by_task.setdefault(entry.object_id, []).append(entry.detail["sha256"])
    for task in tasks:
        if task.status == TaskStatus.ANSWERED:
            assert by_task.get(str(task.pk)) == [task.answer_sha256], f"task {task.pk}"


def first_case(exchange: Exchange) -> Case:
    (case,) = register_dataset_cases(exchange.dataset, ["P000616"])
    return case


# --- an agent killed mid-upload ---


class CuttingProxy:
    """Relays TCP to the hub; holds the first PUT it sees and signals ``cut``:
    ``before`` the hub has the whole body, or ``after`` the hub answered (the reply
    is never passed on). The test then kills the agent."""

    def __init__(self, upstream: str, mode: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.mode = mode
        self.cut = threading.Event()
        self.armed = True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hub_reply = b""
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as hub:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            if head.startswith(b"PUT ") and self.armed:
                self.armed = False
                self._hold(client, hub, head)
                return
            hub.sendall(head)
            threading.Thread(target=_pipe, args=(client, hub), daemon=True).start()
            _pipe(hub, client)

    def _hold(self, client: socket.socket, hub: socket.socket, head: bytes) -> None:
        headers, _, body = head.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            body += client.recv(65536)
        if self.mode == "before":
            hub.sendall(headers + b"\r\n\r\n" + body[: length // 2])
            hub.shutdown(socket.SHUT_WR)  # the hub sees half a body, then the end
        else:
            hub.sendall(headers + b"\r\n\r\n" + body)
            while chunk := hub.recv(65536):
                self.hub_reply += chunk
        self.cut.set()
        client.recv(1)  # until the agent dies


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def agent_process(exchange: Exchange, code: str, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "EPITRACE_AGENT_TOKEN": exchange.tokens[code]}
    command = [sys.executable, "-m", "epitrace.cli", "agent", "--agency", code]
    command += ["--store", str(exchange.store(code)), "--hub", url]
    command += ["--log", str(exchange.log(code)), "--interval", "0.2", *extra]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_agent_killed_mid_upload_answers_each_task_exactly_once(
    exchange: Exchange, when: str
) -> None:
    request = approved_request(exchange, first_case(exchange), ("telecom",))
    jobs.run_pending()
    task = ready_tasks([request])[0]
    code = task.agency.code
    proxy = CuttingProxy(exchange.url, when)
    try:
        process = agent_process(exchange, code, proxy.url)
        assert proxy.cut.wait(timeout=120), process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        proxy.close()
    (prepared,) = [e for e in read_entries(exchange.log(code)) if e["task"] == task.pk]
    assert prepared["event"] == "prepared", "killed mid-upload: prepared, never sent"
    task.refresh_from_db()
    if when == "before":
        assert task.status == TaskStatus.READY, "half a body is never taken"
    else:
        assert task.status == TaskStatus.ANSWERED and b"201 Created" in proxy.hub_reply

    restarted = agent_process(exchange, code, exchange.url, "--once")
    out, err = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, err
    assert exchange.tokens[code] not in out + err
    task.refresh_from_db()
    assert task.status == TaskStatus.ANSWERED
    assert task.answer_sha256 == prepared["sent"]["sha256"], "the resend is the same file"
    events = [e["event"] for e in read_entries(exchange.log(code)) if e["task"] == task.pk]
    # Reopening the log closes the killed upload as "unconfirmed" (issue #17, finding 18).
    assert events == (
        ["prepared", "unconfirmed", "prepared", "sent"]
        if when == "before"
        else ["prepared", "unconfirmed"]
    )

    (request,) = run_to_the_end(exchange, [request])
    assert request.status == Status.ANALYSED, job_outcomes(request)
    assert_each_task_answered_once([request])
    assert verify_log(exchange.log(code)).ok and verify_chain().ok


# --- answer files the hub must refuse, and replays ---


def test_malformed_oversized_damaged_and_replayed_answer_files(
    exchange: Exchange, settings: Any
) -> None:
    request = approved_request(exchange, first_case(exchange), ("telecom",))
    jobs.run_pending()
    first, *others = ready_tasks([request])
    code = first.agency.code
    client = HubClient(exchange.url, exchange.tokens[code], timeout=60.0)
    (listed,) = [
        t for t in client.call("GET", "/api/agent/tasks").body["tasks"] if t["id"] == first.pk
    ]

    def put(task_id: int, blob: bytes, sha: str | None = None) -> tuple[int, Any]:
        headers = {
            "Content-Type": "application/zip",
            "X-Answer-SHA256": sha or protocol.sha256_of(blob),
        }
        try:
            reply = client.call(
                "PUT", f"/api/agent/tasks/{task_id}/answer", data=blob, headers=headers
            )
        except HubRejected as refused:
            return refused.status, refused.reason
        return reply.status, reply.body

    status, reason = put(first.pk, b"PK\x03\x04 not really a zip")
    assert (status, reason) == (422, "malformed answer file: answer file is not a zip archive")
    wrong_order = protocol.pack_answers(
        ["0" * 64] * len(listed["fingerprints"]), [{}] * len(listed["fingerprints"])
    )
    status, reason = put(first.pk, wrong_order)
    assert status == 422 and "does not answer this task's questions" in reason

    store = exchange.agent(code).store
    good = protocol.pack_answers(
        listed["fingerprints"], [protocol.answer(store, q) for q in listed["questions"]]
    )
    status, reason = put(first.pk, good, sha="0" * 64)
    assert status == 400 and "send again" in reason
    limit = settings.EPITRACE_MAX_ANSWER_BYTES
    settings.EPITRACE_MAX_ANSWER_BYTES = len(good) - 1
    status, reason = put(first.pk, good)
    assert status == 413 and ("too large" in reason or "larger than" in reason)
    settings.EPITRACE_MAX_ANSWER_BYTES = limit
    first.refresh_from_db()
    assert first.status == TaskStatus.READY, "nothing refused was taken"

    assert put(first.pk, good)[0] == 201
    status, body = put(first.pk, good)  # replayed: recognised, nothing changes
    assert status == 200 and body["status"] == "already received"
    other = protocol.pack_answers(listed["fingerprints"], [{} for _ in listed["questions"]])
    status, reason = put(first.pk, other)
    assert status == 409 and "already answered with other content" in reason
    for task in others:  # the same file replayed for another task of the request
        if task.agency.code == code:
            assert put(task.pk, good)[0] == 422
    assert_each_task_answered_once_so_far(first)


def assert_each_task_answered_once_so_far(task: AgencyTask) -> None:
    receipts = AuditEntry.objects.filter(
        action="request.answer", object_id=str(task.pk), detail__has_key="sha256"
    )
    assert receipts.count() == 1


# --- another agency's task, a revoked credential ---


def test_another_agencys_task_is_not_found_and_a_revoked_credential_stops_the_agent(
    exchange: Exchange,
) -> None:
    request = approved_request(exchange, first_case(exchange), ("telecom",))
    jobs.run_pending()
    task = ready_tasks([request])[0]
    owner = task.agency.code
    stranger = next(c for c in exchange.tokens if c != owner and c.startswith("carrier-"))
    client = HubClient(exchange.url, exchange.tokens[stranger], timeout=60.0)
    assert all(t["id"] != task.pk for t in client.call("GET", "/api/agent/tasks").body["tasks"])
    blob = b"anything"
    for method, path, data in (
        ("PUT", f"/api/agent/tasks/{task.pk}/answer", blob),
        ("POST", f"/api/agent/tasks/{task.pk}/refuse", json.dumps({"reason": "x"}).encode()),
        ("PUT", "/api/agent/tasks/999999/answer", blob),
    ):
        headers = {"X-Answer-SHA256": protocol.sha256_of(blob), "Content-Type": "application/json"}
        with pytest.raises(HubRejected) as refused:
            client.call(method, path, data=data, headers=headers)
        assert refused.value.status == 404
    with pytest.raises(HubRejected, match="another agency"):
        client.call(
            "POST",
            "/api/agent/hello",
            payload={"agency": owner, "store": {"agency": "SKT", "kind": "carrier"}},
        )
    task.refresh_from_db()
    assert task.status == TaskStatus.READY

    revoke_tokens(exchange.agencies[owner].agency, by="admin")
    with pytest.raises(CredentialRevoked, match="revoked or unknown"):
        exchange.agent(owner).answer_pending()
    process = agent_process(exchange, owner, exchange.url)  # loop mode: stops by itself
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "revoked or unknown" in err
    assert exchange.tokens[owner] not in out + err
    task.refresh_from_db()
    assert task.status == TaskStatus.READY and not verify_log_has_task(exchange, owner, task.pk)
    fresh = issue_token(exchange.agencies[owner].agency, by="admin")
    exchange.tokens[owner] = fresh
    exchange.agents.pop(owner)
    assert exchange.agent(owner).answer_pending().answered >= 1


def verify_log_has_task(exchange: Exchange, code: str, task_id: int) -> bool:
    path = exchange.log(code)
    return path.exists() and any(e.get("task") == task_id for e in read_entries(path))


# --- many cases at once ---


def twenty_cases(exchange: Exchange) -> list[Case]:
    subscribers = pq.read_table(exchange.dataset / "subscribers.parquet").column("person_ref")
    people = sorted(set(subscribers.to_pylist()))[:20]
    region = region_for("27200")  # 대구광역시 남구
    dates = CaseDates(
        specimen_date=dt.date(2020, 2, 11),
        confirmation_date=dt.date(2020, 2, 12),
        isolation_date=dt.date(2020, 2, 12),
        onset_date=dt.date(2020, 2, 11),
    )
    return [
        register_case(region, dates, synthetic_identifiers(exchange.dataset, person, n), by="test")
        for n, person in enumerate(people, start=1)
    ]


def test_twenty_cases_requested_at_once_are_all_answered_none_twice(exchange: Exchange) -> None:
    cases = twenty_cases(exchange)
    requests = [approved_request(exchange, case, ("telecom", "cards")) for case in cases]
    requests = run_to_the_end(exchange, requests)
    for request in requests:
        assert request.status == Status.ANALYSED, job_outcomes(request)
    assert_each_task_answered_once(requests)
    for code, agent in exchange.agents.items():
        entries = read_entries(agent.log.path)
        sent = [e["task"] for e in entries if e["event"] == "sent"]
        assert len(sent) == len(set(sent)), f"{code} sent a task twice"
    assert verify_chain().ok
