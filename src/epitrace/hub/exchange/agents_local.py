"""Every agency's agent as a thread of one process: the demo and the turnaround benchmark.

In service each agency runs ``epitrace agent`` inside its own network, next to its own
store. Here all of them run beside the hub, each with its own credential and its own
log, talking to the hub over HTTP exactly as they would from outside.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from epitrace.hub.exchange.credentials import issue_token, revoke_tokens
from epitrace.hub.exchange.provisioning import StoreAgency

log = logging.getLogger(__name__)


@dataclass
class LocalAgents:
    """Running agents: stop them with ``stop()``."""

    threads: list[threading.Thread] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)

    def stop(self, wait: float = 10.0) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=wait)


def fresh_tokens(agencies: list[StoreAgency], by: str) -> dict[str, str]:
    """Revoke each agency's earlier credentials and issue one new token each."""
    tokens = {}
    for entry in agencies:
        revoke_tokens(entry.agency, by=by)
        tokens[entry.code] = issue_token(entry.agency, by=by)
    return tokens


def wait_for_port(host: str, port: int, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _run_one(
    agency: StoreAgency,
    url: str,
    token: str,
    interval: float,
    halt: threading.Event,
    offset: float = 0.0,
) -> None:
    from epitrace.providers.agent import Agent, AgentError

    def quiet(what: str, why: str, seconds: float) -> None:
        log.info("agent %s: %s failed (%s); again in %.0f s", agency.code, what, why, seconds)

    # Staggered starts: agents that all poll at the same instant queue at the hub.
    if halt.wait(offset):
        return
    try:
        agent = Agent(agency.code, agency.store, url, token, interval=interval, on_retry=quiet)
        agent.run(halt)
    except AgentError as error:  # revoked or misconfigured: this agent stops, others go on
        log.warning("agent %s stopped: %s", agency.code, error)


def start_local_agents(
    agencies: list[StoreAgency],
    tokens: dict[str, str],
    host: str,
    port: int,
    *,
    interval: float = 2.0,
) -> LocalAgents:
    """Start one agent thread per agency once the hub listens on host:port."""
    running = LocalAgents()
    url = f"http://{host}:{port}"

    def launch() -> None:
        if not wait_for_port(host, port):
            log.warning("the hub never listened on %s:%s: no agents started", host, port)
            return
        for number, entry in enumerate(agencies):
            offset = interval * number / max(len(agencies), 1)
            thread = threading.Thread(
                target=_run_one,
                args=(entry, url, tokens[entry.code], interval, running.halt, offset),
                name=f"agent-{entry.code}",
                daemon=True,
            )
            thread.start()
            running.threads.append(thread)

    threading.Thread(target=launch, name="agent-launcher", daemon=True).start()
    return running
