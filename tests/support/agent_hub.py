"""Support for the agent tests: a stand-in for the hub's agent endpoints, served from a
thread (a WSGI app).

It follows the protocol of notes/exchange-interface.md: bearer tokens per agency, tasks
listed only to their agency, answers checked (checksum, size, ``unpack_answers``) and
deduplicated by checksum. Tests script failures with ``fail_next`` and count requests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
import threading
import wsgiref.simple_server
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epitrace.providers import protocol

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass
class Failure:
    """Answer the next matching request with ``status``; ``after`` handles it first
    (the hub did the work, then the reply was lost)."""

    method: str
    path: str  # regular expression on the path
    status: int
    after: bool = False
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class HubTask:
    agency: str
    body: dict[str, Any]
    status: str = "ready"
    sha256: str | None = None
    blob: bytes | None = None
    refusal: str | None = None


@dataclass
class FakeHub:
    tokens: dict[str, str] = field(default_factory=dict)  # token -> agency code
    tasks: dict[int, HubTask] = field(default_factory=dict)
    hellos: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[Failure] = field(default_factory=list)
    max_bytes: int = 10 * 1024 * 1024
    keep_listing_answered: bool = False  # a hub that lists answered tasks again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_task(self, task_id: int, agency: str, questions: list[dict[str, Any]]) -> None:
        self.tasks[task_id] = HubTask(
            agency,
            {
                "id": task_id,
                "request": f"R{task_id:05d}",
                "case": "C00001",
                "round": 1,
                "requested_by": "investigator-kim",
                "approved_by": "police-lee",
                "justification": "confirmed case C00001: path of 2020-02-08..2020-02-12",
                "deadline": "2020-02-13T00:00:00+00:00",
                "questions": questions,
                "fingerprints": [protocol.fingerprint(q) for q in questions],
            },
        )

    def puts(self) -> int:
        return sum(1 for method, _ in self.requests if method == "PUT")

    # WSGI

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        with self.lock:
            self.requests.append((method, path))
            failure = self._failure(method, path)
            if failure is not None and not failure.after:
                return _reply(start_response, failure.status, {"error": "scripted failure"})
            status, payload = self._handle(environ, method, path, body)
            if failure is not None:
                headers = list(failure.headers)
                return _reply(start_response, failure.status, {"error": "lost"}, headers)
        return _reply(start_response, status, payload)

    def _failure(self, method: str, path: str) -> Failure | None:
        for index, failure in enumerate(self.fail_next):
            if failure.method == method and re.fullmatch(failure.path, path):
                return self.fail_next.pop(index)
        return None

    def _handle(self, environ: Environ, method: str, path: str, body: bytes) -> tuple[int, Any]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        agency = (
            self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        if agency is None:
            return 401, {"error": "unknown or revoked token"}
        if method == "POST" and path == "/api/agent/hello":
            hello = json.loads(body)
            if hello.get("agency") != agency:
                return 403, {"error": "this token belongs to another agency"}
            self.hellos.append(hello)
            return 200, {"agency": agency, "name": agency.upper()}
        if method == "GET" and path == "/api/agent/tasks":
            listed = [
                t.body
                for t in self.tasks.values()
                if t.agency == agency
                and (t.status == "ready" or (self.keep_listing_answered and t.status == "answered"))
            ]
            return 200, {"agency": agency, "tasks": listed}
        found = re.fullmatch(r"/api/agent/tasks/(\d+)/(answer|refuse)", path)
        if found is None:
            return 404, {"error": "no such endpoint"}
        task = self.tasks.get(int(found.group(1)))
        if task is None or task.agency != agency:
            return 404, {"error": "no such task for this agency"}
        if found.group(2) == "refuse" and method == "POST":
            task.status, task.refusal = "refused", json.loads(body)["reason"]
            return 200, {"status": "refused"}
        if method != "PUT":
            return 405, {"error": "method not allowed"}
        return self._answer(task, environ, body)

    def _answer(self, task: HubTask, environ: Environ, body: bytes) -> tuple[int, Any]:
        sha = protocol.sha256_of(body)
        if environ.get("HTTP_X_ANSWER_SHA256") != sha:
            return 400, {"error": "checksum mismatch: send again"}
        if task.sha256 is not None:
            if task.sha256 == sha:
                return 200, {"status": "already received", "sha256": sha}
            return 409, {"error": "this task was answered with different content"}
        if len(body) > self.max_bytes:
            return 413, {"error": "answer file too large"}
        try:
            protocol.unpack_answers(body, task.body["fingerprints"])
        except protocol.ProtocolError as error:
            return 422, {"error": f"malformed answer file: {error}"}
        task.status, task.sha256, task.blob = "answered", sha, body
        return 201, {"status": "received", "sha256": sha}


def _reply(
    start_response: StartResponse,
    status: int,
    payload: Any,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    data = json.dumps(payload).encode()
    reason = {200: "OK", 201: "Created"}.get(status, "Status")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        + (headers or []),
    )
    return [data]


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(hub: FakeHub, port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``hub`` on 127.0.0.1 from a thread (over TLS with ``tls``); yields its URL."""
    server = wsgiref.simple_server.make_server("127.0.0.1", port, hub, handler_class=_Quiet)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def private_ca(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A private CA (its certificate written to ``folder``) and a TLS server context for
    ``localhost`` with a certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = x509.SubjectAlternativeName([x509.DNSName("localhost")])
            builder = builder.add_extension(names, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_cert = certificate("epitrace test CA", ca_key, "epitrace test CA", ca_key, ca=True)
    server_cert = certificate("localhost", server_key, "epitrace test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_file = folder / "ca.crt"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    chain = folder / "server.pem"
    chain.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + server_cert.public_bytes(pem)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_file, context
