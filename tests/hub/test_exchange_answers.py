"""Agencies' answer files against the hub: two different answers racing for one task.

The uploads run in two threads, each with its own PostgreSQL connection. On SQLite the
hub's transactions take the write lock when they begin (``transaction_mode=IMMEDIATE``),
so writers queue; the test database there is one shared in-memory cache, whose table
locks fail at once instead of waiting, so the race cannot be staged on it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from tests.hub.test_exchange import _agent_get, _answer_file, _ask, _put_answer, hub  # noqa: F401

from epitrace.hub.cases.records import decrypt_for_case
from epitrace.hub.exchange import answers, jobs
from epitrace.hub.exchange.models import AgencyTask, TaskStatus
from epitrace.providers.protocol import pack_answers, sha256_of, unpack_answers


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two connections racing need PostgreSQL (set DATABASE_URL=postgresql://...)",
)
@pytest.mark.django_db(transaction=True)
def test_finding_5_racing_answers_leave_the_file_and_the_row_agreeing(
    hub: dict,  # noqa: F811
    signed_in: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #17, finding 5: the second of two different answers uploaded at once gets a
    clear 409, and the file on disk is the one the row's checksum and row count describe."""
    made = _ask(signed_in(hub["investigator"]), hub["case"].case_id, kinds=["cards"])
    assert made.status_code == 201, made.content
    jobs.run_pending()
    client = Client()
    code, listed = next(
        (code, tasks)
        for code, token in hub["tokens"].items()
        if (tasks := _agent_get(client, token).json()["tasks"])
    )
    task, token = listed[0], hub["tokens"][code]
    real = _answer_file(hub["agencies"][code].store, task)
    other = pack_answers(task["fingerprints"], [{} for _ in task["questions"]])
    assert sha256_of(real) != sha256_of(other)

    # The worst interleaving for the old order (write, then lock): the first upload writes,
    # the second overwrites it, and only then does the first take the lock and commit.
    first_written, second_written = threading.Event(), threading.Event()
    write = answers._write_atomically

    def interleaved(path: Any, blob: bytes) -> None:
        if threading.current_thread().name == "second":
            first_written.wait(5)
            write(path, blob)
            second_written.set()
            time.sleep(0.5)  # let the first upload commit before this one locks
        else:
            write(path, blob)
            first_written.set()
            second_written.wait(2)

    monkeypatch.setattr(answers, "_write_atomically", interleaved)
    replies: dict[str, Any] = {}

    def upload(name: str, blob: bytes) -> None:
        try:
            replies[name] = _put_answer(Client(), token, task["id"], blob)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=upload, args=("first", real), name="first"),
        threading.Thread(target=upload, args=("second", other), name="second"),
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.2)  # the first asks first
    for thread in threads:
        thread.join(30)

    statuses = sorted(reply.status_code for reply in replies.values())
    assert statuses == [201, 409], {k: r.content for k, r in replies.items()}
    loser = next(reply for reply in replies.values() if reply.status_code == 409)
    assert "already answered with other content" in loser.json()["error"]
    stored = AgencyTask.objects.select_related("request__case").get(pk=task["id"])
    assert stored.status == TaskStatus.ANSWERED
    path = answers.answer_path(stored)
    on_disk = decrypt_for_case(stored.request.case, f"answer:{stored.pk}", path.read_bytes())
    assert sha256_of(on_disk) == stored.answer_sha256
    rows = unpack_answers(on_disk, task["fingerprints"], answers.limits())
    assert sum(t.num_rows for one in rows for t in one.values()) == stored.answer_rows
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "no temporary left"
