"""The provider agent against a stand-in hub: it answers its agency's tasks from its store,
retries while the hub is down, never sends twice, declines what its store will not
answer, stops on a revoked credential, and keeps a chained log of what it disclosed."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from agent_hub import Failure, FakeHub, private_ca, serving
from click.testing import CliRunner

from epitrace.cli import main
from epitrace.providers import protocol
from epitrace.providers.agent import (
    Agent,
    AgentError,
    Backoff,
    CredentialRevoked,
    HubClient,
    HubRejected,
    Stopped,
    read_token,
)
from epitrace.providers.agent_log import AgentLog, AgentLogError, read_entries, verify_log
from epitrace.providers.queries import Circle, PlaceTimePresence

AGENCY = "carrier-skt"
TOKEN = "skt-token-0123456789abcdef"
FAST = Backoff(base=0.01, cap=0.08)


@pytest.fixture
def skt(stores: Path, tmp_path: Path) -> Path:
    """The SKT store, with its agent log in a folder of the test's own."""
    return stores / "skt"


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "agent-log.jsonl"


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub(tokens={TOKEN: AGENCY, "kb-token": "cards-kb"})


def subscriber_lookup(store: Path, n: int = 0) -> dict[str, Any]:
    rows = pq.read_table(store / "subscribers.parquet").slice(n, 1).to_pylist()
    return protocol.question(
        "lookup", registry="subscribers", column="person_ref", values=[rows[0]["person_ref"]]
    )


def presence_question() -> dict[str, Any]:
    start = dt.datetime(2020, 2, 10, tzinfo=dt.UTC)
    query = PlaceTimePresence((Circle(35.87, 128.6, 200.0),), start, start + dt.timedelta(hours=6))
    return protocol.question("presence", query=query)


def make_agent(store: Path, url: str, log_path: Path, **options: Any) -> Agent:
    options.setdefault("backoff", FAST)
    options.setdefault("token", TOKEN)
    return Agent(AGENCY, store, url, log_path=log_path, timeout=5.0, **options)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- answering ---


def test_answers_its_tasks_and_logs_what_it_sent(skt: Path, hub: FakeHub, log_path: Path) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt), subscriber_lookup(skt, 5)])
    hub.add_task(2, "cards-kb", [subscriber_lookup(skt)])  # another agency's: never listed
    with serving(hub) as url:
        done = make_agent(skt, url, log_path).answer_pending()
    assert (done.tasks, done.answered) == (1, 1)
    assert hub.tasks[1].status == "answered" and hub.tasks[2].status == "ready"
    (answer, _) = protocol.unpack_answers(
        hub.tasks[1].blob or b"", hub.tasks[1].body["fingerprints"]
    )
    assert answer["subscribers"].num_rows >= 1
    (hello,) = hub.hellos
    assert hello["agency"] == AGENCY
    assert hello["store"]["agency"] == "SKT" and hello["store"]["kind"] == "carrier"
    assert hello["store"]["first_date"] and hello["store"]["policy"]["max_window_days"] == 31
    assert hello["store"]["tables"] == sorted(
        json.loads((skt / "store.json").read_text())["tables"]
    )
    prepared, sent = read_entries(log_path)
    assert (prepared["event"], sent["event"]) == ("prepared", "sent")
    for entry in (prepared, sent):
        assert entry["task"] == 1 and entry["request"] == "R00001" and entry["case"] == "C00001"
        assert entry["requested_by"] == "investigator-kim"
        assert entry["approved_by"] == "police-lee"
        assert entry["justification"].startswith("confirmed case C00001")
        assert entry["questions"] == hub.tasks[1].body["questions"]
        assert entry["sent"]["sha256"] == hub.tasks[1].sha256
        assert entry["sent"]["bytes"] == len(hub.tasks[1].blob or b"")
        assert entry["sent"]["answers"][0]["tables"] == {"subscribers": 1}
    assert sent["hub_reply"] == {
        "status": 201,
        "body": {"status": "received", "sha256": hub.tasks[1].sha256},
    }
    assert dt.datetime.fromisoformat(sent["at"]).tzinfo == dt.UTC
    assert TOKEN not in log_path.read_text()
    assert verify_log(log_path).ok


def test_retries_with_backoff_while_the_hub_is_down_then_succeeds(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    port = free_port()
    waits: list[tuple[str, str, float]] = []
    started: list[Any] = []

    def notice(what: str, why: str, seconds: float) -> None:
        waits.append((what, why, seconds))
        if len(waits) == 4:  # the hub comes back after four failed tries
            context = serving(hub, port)
            context.__enter__()
            started.append(context)

    agent = make_agent(skt, f"http://127.0.0.1:{port}", log_path, on_retry=notice)
    try:
        done = agent.answer_pending()
    finally:
        for context in started:
            context.__exit__(None, None, None)
    assert done.answered == 1 and hub.tasks[1].status == "answered"
    assert [what for what, _, _ in waits] == ["hello"] * 4
    assert all("hub unreachable" in why for _, why, _ in waits)
    # Exponential with jitter: each wait within [step/2, step], step doubling up to the cap.
    for attempt, (_, _, seconds) in enumerate(waits):
        step = min(FAST.cap, FAST.base * 2**attempt)
        assert step / 2 <= seconds <= step
    assert verify_log(log_path).ok


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    late = [backoff.delay(20) for _ in range(200)]
    assert all(30.0 <= d <= 60.0 for d in late)
    assert len(set(late)) > 100  # jitter: agents that failed together do not retry together
    assert backoff.delay(0, retry_after=600.0) == 60.0  # the hub's Retry-After, within the cap
    assert 5.0 <= backoff.delay(0, retry_after=5.0) <= 60.0


def test_a_5xx_mid_upload_is_retried_and_the_answer_kept_once(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.add_task(2, AGENCY, [subscriber_lookup(skt, 3)])
    answer_path = r"/api/agent/tasks/\d+/answer"
    hub.fail_next = [
        Failure("PUT", answer_path, 502),  # the proxy failed before the hub saw it
        Failure("PUT", answer_path, 503, after=True),  # the hub stored it, the reply was lost
        Failure("GET", "/api/agent/tasks", 500),
        Failure("PUT", answer_path, 429, headers=(("Retry-After", "0"),)),
    ]
    waits: list[str] = []
    with serving(hub) as url:
        agent = make_agent(skt, url, log_path, on_retry=lambda what, why, s: waits.append(why))
        done = agent.answer_pending()
    assert done.tasks == 2 and done.answered + done.already == 2
    assert done.already == 1  # the lost reply: the resend was recognised by its checksum
    assert all(t.status == "answered" for t in hub.tasks.values())
    assert len(waits) == 4 and "hub answered 502" in waits[1]
    entries = read_entries(log_path)
    assert [e["event"] for e in entries].count("sent") == 2
    assert sorted(e["hub_reply"]["status"] for e in entries if e["event"] == "sent") == [200, 201]


def test_never_uploads_twice_after_success(skt: Path, hub: FakeHub, log_path: Path) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.keep_listing_answered = True  # even a hub that keeps listing it
    with serving(hub) as url:
        agent = make_agent(skt, url, log_path)
        first, second, third = (agent.answer_pending() for _ in range(3))
        # A restarted agent trusts the hub's list (its database may be new): whatever it
        # sends again is the same file, acknowledged and never stored twice.
        restarted = make_agent(skt, url, log_path).answer_pending()
    assert first.answered == 1
    assert (second.skipped, third.skipped) == (1, 1)
    assert restarted.already == 1
    assert hub.puts() == 2 and hub.tasks[1].sha256 is not None
    assert [e["event"] for e in read_entries(log_path)] == ["prepared", "sent"] * 2


def test_a_crash_mid_upload_leaves_a_trace_and_the_resend_is_identical(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.fail_next = [Failure("PUT", r".*", 503) for _ in range(100)]
    stop = threading.Event()
    with serving(hub) as url:
        agent = make_agent(
            skt, url, log_path, on_retry=lambda *_: stop.set() if hub.puts() >= 2 else None
        )
        with pytest.raises(Stopped):
            agent.answer_pending(stop)
        # The PUTs reached the hub (it answered 503): the log says they may have.
        assert [e["event"] for e in read_entries(log_path)] == ["prepared", "unconfirmed"]
        hub.fail_next.clear()
        done = make_agent(skt, url, log_path).answer_pending()
    assert done.answered == 1
    first, stopped, again, sent = read_entries(log_path)
    assert [e["event"] for e in (first, stopped, again, sent)] == [
        "prepared",
        "unconfirmed",
        "prepared",
        "sent",
    ]
    assert first["sent"]["sha256"] == again["sent"]["sha256"] == hub.tasks[1].sha256
    assert stopped["sent"] == first["sent"] and stopped["prepared_seq"] == first["seq"]


KILLED_AFTER_UPLOAD = """
import os, sys
from epitrace.providers.agent import Agent
store, url, log, token = sys.argv[1:]
agent = Agent("carrier-skt", store, url, token, log_path=log, timeout=5.0)
upload = agent._upload
def upload_then_die(*args):
    upload(*args)
    os._exit(9)  # killed the moment the hub holds the answer, before the outcome is logged
agent._upload = upload_then_die
agent.answer_pending()
"""


def test_finding_18_an_agent_killed_after_uploading_still_logs_what_left(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    """Issue #17, finding 18: an agent killed right after an upload never logged that it
    sent it. The intent (task, fingerprints, row counts, SHA-256) is on disk before the
    upload, and the next start closes it with ``unconfirmed``: the log always records
    what may have left. An upload interrupted in the process is closed at once."""
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    with serving(hub) as url:
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_AFTER_UPLOAD, str(skt), url, str(log_path), TOKEN],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == 9, killed.stderr
        assert hub.tasks[1].status == "answered"  # the answer left the agency...
        (prepared,) = read_entries(log_path)  # ...and the log says what was about to leave
        assert prepared["event"] == "prepared" and prepared["task"] == 1
        assert prepared["sent"]["sha256"] == hub.tasks[1].sha256
        assert prepared["fingerprints"] == hub.tasks[1].body["fingerprints"]
        assert prepared["sent"]["answers"][0]["tables"] == {"subscribers": 1}

        restarted = make_agent(skt, url, log_path)
        done = restarted.answer_pending()  # the hub lists the task no more
        assert (done.tasks, hub.puts()) == (0, 1)
        reopened = make_agent(skt, url, log_path).answer_pending()
        assert reopened.tasks == 0

        hub.add_task(2, AGENCY, [subscriber_lookup(skt, 5)])
        interrupted = make_agent(skt, url, log_path)
        original = interrupted._upload

        def upload_then_fail(*args: Any) -> Any:
            original(*args)
            raise KeyboardInterrupt  # Ctrl-C just as the hub answered

        interrupted._upload = upload_then_fail  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            interrupted.answer_pending()
    entries = read_entries(log_path)
    assert [(e["event"], e["task"]) for e in entries] == [
        ("prepared", 1),
        ("unconfirmed", 1),  # written once, by the first restart
        ("prepared", 2),
        ("unconfirmed", 2),
    ]
    for intent, outcome in (entries[0:2], entries[2:4]):
        assert outcome["sent"] == intent["sent"] and outcome["prepared_seq"] == intent["seq"]
        assert "may have reached the hub" in outcome["reason"]
    assert entries[3]["sent"]["sha256"] == hub.tasks[2].sha256
    assert verify_log(log_path).ok and TOKEN not in log_path.read_text()


def test_questions_of_the_wrong_kind_are_declined_with_the_reason(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    paid = {
        "method": "merchant_time",
        "args": {
            "start": "2020-02-10T00:00:00+00:00",
            "end": "2020-02-11T00:00:00+00:00",
            "merchant_ids": ["M000001"],
        },
    }
    hub.add_task(1, AGENCY, [subscriber_lookup(skt), paid])
    hub.add_task(2, AGENCY, [{"method": "dump_everything", "args": {}}])
    tampered = subscriber_lookup(skt)
    hub.add_task(3, AGENCY, [tampered])
    hub.tasks[3].body["questions"] = [{**tampered, "args": {**tampered["args"], "values": []}}]
    with serving(hub) as url:
        done = make_agent(skt, url, log_path).answer_pending()
    assert (done.refused, done.answered) == (3, 0) and hub.puts() == 0
    assert hub.tasks[1].refusal == "question 1: SKT (carrier) does not answer merchant-time queries"
    assert hub.tasks[2].refusal == "question 0: unknown method 'dump_everything'"
    assert hub.tasks[3].refusal == "question 0: its fingerprint does not match it"
    refused = read_entries(log_path)
    assert [e["event"] for e in refused] == ["refused"] * 3
    assert refused[0]["reason"] == hub.tasks[1].refusal and "sent" not in refused[0]


def test_the_hub_refusing_an_answer_is_logged_not_retried(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.max_bytes = 10  # every answer is too large for this hub
    with serving(hub) as url:
        done = make_agent(skt, url, log_path).answer_pending()
    assert done.rejected == 1 and hub.puts() == 1
    _, rejected = read_entries(log_path)
    assert rejected["event"] == "rejected"
    assert rejected["hub_reply"] == {"status": 413, "reason": "answer file too large"}


def test_a_damaged_upload_is_sent_again(skt: Path, hub: FakeHub, log_path: Path) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.fail_next = [Failure("PUT", r".*", 400), Failure("PUT", r".*", 400)]
    with serving(hub) as url:
        done = make_agent(skt, url, log_path).answer_pending()
    assert done.answered == 1 and hub.puts() == 3


def test_stops_on_a_revoked_credential(skt: Path, hub: FakeHub, log_path: Path) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    with serving(hub) as url:
        agent = make_agent(skt, url, log_path)
        assert agent.answer_pending().answered == 1
        hub.add_task(2, AGENCY, [subscriber_lookup(skt, 1)])
        del hub.tokens[TOKEN]  # the administrator revokes it
        with pytest.raises(CredentialRevoked, match="revoked or unknown"):
            agent.answer_pending()
        stop = threading.Event()
        with pytest.raises(CredentialRevoked):
            make_agent(skt, url, log_path).run(stop)
    assert hub.tasks[2].status == "ready" and hub.puts() == 1
    assert not stop.is_set()


def test_a_token_of_another_agency_is_refused_at_hello(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    with serving(hub) as url, pytest.raises(AgentError, match="another agency"):
        make_agent(skt, url, log_path, token="kb-token").answer_pending()


def test_run_answers_new_tasks_until_stopped(skt: Path, hub: FakeHub, log_path: Path) -> None:
    passes: list[int] = []
    stop = threading.Event()
    with serving(hub) as url:
        agent = make_agent(skt, url, log_path, interval=0.05)

        def counted(done: Any) -> None:
            passes.append(done.answered)
            if len(passes) == 2:
                hub.add_task(7, AGENCY, [subscriber_lookup(skt)])
            if sum(passes) == 1:
                stop.set()

        thread = threading.Thread(target=agent.run, args=(stop,), kwargs={"on_pass": counted})
        thread.start()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert hub.tasks[7].status == "answered" and len(hub.hellos) == 1


def test_run_stops_promptly_while_the_hub_is_down(skt: Path, log_path: Path) -> None:
    stop = threading.Event()
    agent = make_agent(
        skt, f"http://127.0.0.1:{free_port()}", log_path, backoff=Backoff(base=5.0, cap=60.0)
    )
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_redirects_are_refused_so_the_token_goes_nowhere_else(skt: Path) -> None:
    def redirecting(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("302 Found", [("Location", "http://elsewhere.example/api/agent/tasks")])
        return [b""]

    with serving(redirecting) as url:  # type: ignore[arg-type]
        client = HubClient(url, TOKEN, timeout=5.0)
        with pytest.raises(HubRejected, match=r"redirects to http://elsewhere\.example"):
            client.call("GET", "/api/agent/tasks")
    assert TOKEN not in repr(client)


def test_tls_certificates_are_verified_and_a_private_ca_can_be_given(
    skt: Path, hub: FakeHub, tmp_path: Path, log_path: Path
) -> None:
    ca_file, tls = private_ca(tmp_path)
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    with serving(hub, tls=tls) as url:
        assert url.startswith("https://")
        with pytest.raises(AgentError, match=r"certificate could not be verified.*--ca-file"):
            make_agent(skt, url, log_path).answer_pending()
        assert hub.requests == []  # nothing, not even the token, went to an unverified peer
        done = make_agent(skt, url, log_path, ca_file=ca_file).answer_pending()
    assert done.answered == 1


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    assert read_token(secret, {}) == TOKEN
    assert read_token(None, {"EPITRACE_AGENT_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(AgentError, match="--token-file FILE or set EPITRACE_AGENT_TOKEN"):
        read_token(None, {})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(AgentError, match="is empty"):
        read_token(tmp_path / "empty", {})


# --- the log ---


def test_the_log_chain_verifies_and_names_a_tampered_line(
    skt: Path, hub: FakeHub, log_path: Path
) -> None:
    for task_id in (1, 2, 3):
        hub.add_task(task_id, AGENCY, [subscriber_lookup(skt, task_id)])
    with serving(hub) as url:
        make_agent(skt, url, log_path).answer_pending()
    lines = log_path.read_text().splitlines(keepends=True)
    assert len(lines) == 6 and verify_log(log_path).ok
    edited = json.loads(lines[2])
    edited["approved_by"] = "nobody"
    tampered = log_path.with_name("tampered.jsonl")
    tampered.write_text("".join([*lines[:2], json.dumps(edited) + "\n", *lines[3:]]))
    check = verify_log(tampered)
    assert (check.first_bad, check.entries) == (3, 2) and "edited" in check.reason
    tampered.write_text("".join([*lines[:3], *lines[4:]]))  # a line removed
    assert verify_log(tampered).first_bad == 4
    tampered.write_text("".join(lines[:-1]) + lines[-1].rstrip("\n"))  # cut mid-write
    assert verify_log(tampered).first_bad == 6
    runner = CliRunner()
    good = runner.invoke(main, ["agent-log", "verify", str(log_path)])
    assert good.exit_code == 0 and "6 entries" in good.output
    bad = runner.invoke(main, ["agent-log", "verify", str(tampered)])
    assert bad.exit_code == 1 and "BROKEN at line 6" in bad.output
    assert "investigator-kim" not in good.output + bad.output  # counts, never contents


def test_an_agent_will_not_append_to_a_broken_log(skt: Path, log_path: Path) -> None:
    log_path.write_text('{"seq": 1}\n')
    with pytest.raises(AgentLogError, match="broken at line 1"):
        AgentLog(log_path).open()


def test_two_agents_cannot_share_a_log(skt: Path, hub: FakeHub, log_path: Path) -> None:
    with AgentLog(log_path), pytest.raises(AgentLogError, match="in use by another agent"):
        AgentLog(log_path).open()
    with (
        serving(hub) as url,
        AgentLog(log_path),
        pytest.raises(AgentError, match="in use by another agent"),
    ):
        make_agent(skt, url, log_path).run(threading.Event())
    assert hub.requests == []  # it stopped before calling the hub


# --- the command line ---


def test_cli_once_answers_and_prints_counts_only(
    skt: Path, hub: FakeHub, tmp_path: Path, log_path: Path
) -> None:
    hub.add_task(1, AGENCY, [subscriber_lookup(skt)])
    hub.add_task(2, AGENCY, [presence_question()])
    secret = tmp_path / "token"
    secret.write_text(TOKEN)
    with serving(hub) as url:
        args = ["agent", "--agency", AGENCY, "--store", str(skt), "--hub", url, "--once"]
        args += ["--token-file", str(secret), "--log", str(log_path)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "carrier-skt: 2 tasks, 2 answered" in result.output
    assert TOKEN not in result.output
    for entry in read_entries(log_path):
        for question in entry["questions"]:
            assert json.dumps(question["args"]) not in result.output


def test_cli_explains_what_is_missing(skt: Path, tmp_path: Path, hub: FakeHub) -> None:
    runner = CliRunner()
    base = ["agent", "--agency", AGENCY, "--hub", "http://127.0.0.1:9", "--once"]
    no_token = runner.invoke(main, [*base, "--store", str(skt)], env={"EPITRACE_AGENT_TOKEN": ""})
    assert no_token.exit_code == 2 and "no credential" in no_token.output
    env = {"EPITRACE_AGENT_TOKEN": TOKEN}
    not_built = runner.invoke(main, [*base, "--store", str(tmp_path)], env=env)
    assert not_built.exit_code == 2 and "not a built provider store" in not_built.output
    del hub.tokens[TOKEN]
    with serving(hub) as url:
        args = ["agent", "--agency", AGENCY, "--store", str(skt), "--hub", url, "--once"]
        args += ["--log", str(tmp_path / "log.jsonl")]
        revoked = runner.invoke(main, args, env=env)
    assert revoked.exit_code == 1 and "revoked or unknown" in revoked.output
    assert TOKEN not in revoked.output


def test_finding_16_plain_http_to_another_host_is_refused(skt: Path, tmp_path: Path) -> None:
    """Issue #17, finding 16: given an http:// hub elsewhere, the agent only warned, then
    sent its bearer token in clear. Now it refuses to start (exit 2); loopback stays
    allowed for development and the demo."""
    for hub in [
        "http://hub.example",
        "http://10.1.2.3:8000",
        "http://[2001:db8::1]:8000",
        "http://127.0.0.1.hub.example",
        "http://localhost.hub.example",
    ]:
        with pytest.raises(AgentError, match="plain HTTP to another machine"):
            HubClient(hub, TOKEN)
    for hub in ["http://127.0.0.1:8000", "http://127.8.9.10", "http://[::1]:8000"]:
        assert HubClient(hub, TOKEN).base == hub
    assert HubClient("http://localhost:8000", TOKEN).base == "http://localhost:8000"
    assert HubClient("https://hub.example", TOKEN).base == "https://hub.example"

    args = ["agent", "--agency", AGENCY, "--store", str(skt), "--hub", "http://192.0.2.7:8000"]
    args += ["--once", "--log", str(tmp_path / "log.jsonl")]
    result = CliRunner().invoke(main, args, env={"EPITRACE_AGENT_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "plain HTTP to another machine" in result.output and "https://" in result.output
    assert len(result.output.splitlines()) == 1 and TOKEN not in result.output
    assert not (tmp_path / "log.jsonl").exists()


def test_cli_says_once_per_backoff_that_the_hub_is_unreachable(skt: Path, tmp_path: Path) -> None:
    """A process, as an operator runs it: one line per retry, stopped by SIGTERM."""
    secret = tmp_path / "token"
    secret.write_text(TOKEN)
    secret.chmod(0o644)
    command = [sys.executable, "-m", "epitrace.cli", "agent", "--agency", AGENCY, "--once"]
    command += ["--store", str(skt), "--hub", f"http://127.0.0.1:{free_port()}"]
    command += ["--token-file", str(secret), "--log", str(tmp_path / "log.jsonl")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in range(3)]
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert "readable by others" in lines[0]
    for line in lines[1:]:
        assert line.startswith("hello: hub unreachable (") and "; retrying in" in line
    assert process.returncode == 1 and "stopped before every pending task" in err
    assert TOKEN not in out + err + "".join(lines)
