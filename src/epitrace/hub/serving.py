"""``epitrace serve``: migrate the configured database, then serve the hub with waitress.

waitress is a pure-Python production WSGI server: no compiler, same on every machine.
In service it listens on loopback behind the TLS reverse proxy (docs/operations.md).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from typing import Any

from epitrace.errors import UserInputError


class ServeError(UserInputError, RuntimeError):
    """The hub cannot start (database unreachable, port taken): said plainly, no traceback."""


def migrate(echo: Callable[[str], None] = print) -> None:
    """Bring the configured database's schema up to date (Django must be set up)."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import DatabaseError, connection

    where = settings.DATABASES["default"]
    name = f"{where['ENGINE'].rsplit('.', 1)[-1]} {where.get('HOST') or ''} {where['NAME']}"
    try:
        connection.ensure_connection()
        call_command("migrate", interactive=False, verbosity=0)
    except DatabaseError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ServeError(f"the database is unreachable ({name.strip()}): {first_line}") from None
    echo(f"Database ready: {' '.join(name.split())}")


def _check_port(host: str, port: int) -> None:
    """Fail early and plainly if someone else already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServeError(
                f"cannot listen on {host}:{port}: {error.strerror or error} "
                "(is the hub already running? try --port)"
            ) from None


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    echo: Callable[[str], None] = print,
    *,
    jobs: bool = True,
) -> None:
    """Migrate, then serve until Ctrl-C (or SIGTERM), running the job runner beside it
    (``jobs=False`` when dedicated ``epitrace worker`` processes run the jobs)."""
    from django.conf import settings
    from waitress import create_server

    from epitrace.hub.wsgi import application

    migrate(echo)
    _check_port(host, port)
    try:
        server = create_server(application, host=host, port=port, threads=8, ident="epitrace")
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error}") from None
    if settings.SECURE_SSL_REDIRECT:
        echo(
            "HTTPS redirect is on: plain HTTP requests are redirected to https:// "
            "(put the hub behind the TLS proxy, or set EPITRACE_SSL_REDIRECT=0 locally)."
        )
    echo(f"The hub is serving on http://{host}:{port}/ (Ctrl-C stops it)")
    stop_jobs = _start_jobs(echo) if jobs else None
    # Ctrl-C and SIGTERM (service managers) both stop it the same clean way, even when
    # started in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if stop_jobs is not None:
            stop_jobs()
        server.close()
        echo("The hub stopped.")


def _start_jobs(echo: Callable[[str], None]) -> Callable[[], None]:
    """The durable job runner in a thread of this process; returns how to stop it."""
    from epitrace.hub.exchange.jobs import start_worker_thread
    from epitrace.hub.retention.schedule import housekeeping

    thread, stop = start_worker_thread(on_idle=housekeeping)
    echo("Background jobs: running in this process (a job cut short is resumed on restart)")

    def stop_and_wait() -> None:
        stop.set()
        thread.join(timeout=30)

    return stop_and_wait
