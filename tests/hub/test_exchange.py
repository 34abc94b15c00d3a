"""A case from request to path through the hub: routing, approval, answers, the job.

The agencies' answers come from the real built stores of the session city, sent to
the hub's agent endpoints as an agent would; the path the hub computes must be the
one ``epitrace analyze`` computes from the same stores for the same window.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from django.test import Client
from django.utils import timezone

from epitrace.analysis.trajectory import TrajectoryParams, trace_subject
from epitrace.formats.readers import read_dataset_table
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.exchange import jobs
from epitrace.hub.exchange.credentials import issue_token, revoke_tokens
from epitrace.hub.exchange.models import AgencyTask, AnalysisJob, DataRequest, Status, TaskStatus
from epitrace.hub.exchange.provisioning import register_dataset_cases, register_store_agencies
from epitrace.hub.exchange.results import latest_analysis
from epitrace.hub.retention import schedule
from epitrace.providers.network import StoreNetwork
from epitrace.providers.protocol import answer, pack_answers, sha256_of
from epitrace.providers.queries import ProviderStore
from epitrace.simulate.run import cases_confirmed_last


def _subject(city: Path) -> str:
    cases = read_dataset_table(city, "cases")
    assert cases is not None
    return cases_confirmed_last(cases.table, 1)[0]


@pytest.fixture
def hub(stores: Path, parquet_city: Path, make_account: Any, tmp_path: Path, settings: Any) -> dict:
    settings.HOME = tmp_path
    settings.EPITRACE_ANSWER_SETTLE_SECONDS = 0  # the tests run the jobs themselves
    agencies = register_store_agencies(stores)
    tokens = {a.code: issue_token(a.agency, by="admin") for a in agencies}
    person = _subject(parquet_city)
    (case,) = register_dataset_cases(parquet_city, [person])
    return {
        "agencies": {a.code: a for a in agencies},
        "tokens": tokens,
        "case": case,
        "person": person,
        "investigator": make_account(Role.NATIONAL_INVESTIGATOR, "inv"),
        "police": make_account(Role.POLICE_APPROVER, "cop"),
    }


def _agent_get(client: Client, token: str) -> Any:
    return client.get("/api/agent/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")


def _put_answer(
    client: Client, token: str, task_id: int, blob: bytes, sha: str | None = None
) -> Any:
    return client.generic(
        "PUT",
        f"/api/agent/tasks/{task_id}/answer",
        blob,
        content_type="application/zip",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_ANSWER_SHA256=sha or sha256_of(blob),
    )


def _answer_file(store: Path, task: dict[str, Any]) -> bytes:
    provider = ProviderStore(store)
    answers = [answer(provider, q) for q in task["questions"]]
    return pack_answers(task["fingerprints"], answers)


def _answer_everything(hub: dict) -> int:
    """Every agency's agent answers its ready tasks once. Returns how many."""
    client, answered = Client(), 0
    for code, token in hub["tokens"].items():
        for task in _agent_get(client, token).json()["tasks"]:
            blob = _answer_file(hub["agencies"][code].store, task)
            assert _put_answer(client, token, task["id"], blob).status_code == 201
            answered += 1
    return answered


def _run_to_the_end(hub: dict, request: DataRequest) -> DataRequest:
    for _ in range(12):
        jobs.run_pending()
        if not _answer_everything(hub):
            jobs.run_pending()
            break
    request.refresh_from_db()
    return request


def _ask(client: Client, case_id: str, **body: Any) -> Any:
    body.setdefault("justification", "confirmed case: trace the infectious period")
    return client.post(
        f"/api/cases/{case_id}/requests", json.dumps(body), content_type="application/json"
    )


@pytest.mark.django_db
def test_a_case_goes_from_request_to_path_and_matches_the_cli(
    hub: dict, stores: Path, signed_in: Any
) -> None:
    investigator, police = signed_in(hub["investigator"]), signed_in(hub["police"])
    case = hub["case"]
    made = _ask(investigator, case.case_id, kinds=["telecom", "cards", "transit", "checkins"])
    assert made.status_code == 201, made.content
    assert made.json()["status"] == "awaiting approval"
    request = DataRequest.objects.get(request_id=made.json()["request_id"])
    jobs.run_pending()
    assert not AgencyTask.objects.exists(), "nothing may be asked before the police decide"

    decided = police.post(
        f"/api/requests/{request.request_id}/decision",
        json.dumps({"approve": True}),
        content_type="application/json",
    )
    assert decided.status_code == 200, decided.content
    request = _run_to_the_end(hub, request)
    assert request.status == Status.ANALYSED

    analysis = latest_analysis(case)
    assert analysis is not None
    network = StoreNetwork(stores)
    records = network.subject(hub["person"], request.start, request.end)
    records = records.only("telecom", "card", "transit", "entry")  # a patient's GPS is not asked
    expected = trace_subject(records, TrajectoryParams()).stays
    assert analysis.stays.num_rows == expected.num_rows > 0
    assert analysis.stays.column("start").to_pylist() == expected.column("start").to_pylist()
    assert pc.max(pc.abs(pc.subtract(analysis.stays["lat"], expected["lat"]))).as_py() < 1e-9


@pytest.mark.django_db
def test_only_the_issuers_holding_the_cards_are_asked(hub: dict, signed_in: Any) -> None:
    investigator = signed_in(hub["investigator"])
    made = _ask(investigator, hub["case"].case_id, kinds=["cards"])
    assert made.json()["status"] == "in progress", "cards alone need no police approval"
    request = _run_to_the_end(hub, DataRequest.objects.get(request_id=made.json()["request_id"]))
    assert request.status == Status.ANALYSED
    first = {t.agency.code for t in request.tasks.filter(round=1)}
    assert all(code.startswith("association-") for code in first)
    issuers_asked = {
        t.agency.code for t in request.tasks.all() if t.agency.code.startswith("card-")
    }
    all_issuers = {c for c in hub["agencies"] if c.startswith("card-")}
    assert issuers_asked and issuers_asked < all_issuers
    assert not any(t.agency.code.startswith("carrier-") for t in request.tasks.all())


@pytest.mark.django_db
def test_uploads_are_idempotent_checked_and_scoped(hub: dict, signed_in: Any) -> None:
    investigator = signed_in(hub["investigator"])
    made = _ask(investigator, hub["case"].case_id, kinds=["cards"])
    jobs.run_pending()
    task = AgencyTask.objects.get(request__request_id=made.json()["request_id"])
    code = task.agency.code
    token, client = hub["tokens"][code], Client()
    listed = _agent_get(client, token).json()["tasks"]
    blob = _answer_file(hub["agencies"][code].store, listed[0])

    assert _put_answer(client, token, task.pk, blob, sha="0" * 64).status_code == 400
    assert _put_answer(client, token, task.pk, b"not a zip").status_code == 422
    other = next(c for c in hub["tokens"] if c != code)
    assert _put_answer(client, hub["tokens"][other], task.pk, blob).status_code == 404
    assert _put_answer(client, token, task.pk, blob).status_code == 201
    replay = _put_answer(client, token, task.pk, blob)
    assert replay.status_code == 200 and replay.json()["status"] == "already received"
    different = pack_answers(listed[0]["fingerprints"], [{} for _ in listed[0]["questions"]])
    assert _put_answer(client, token, task.pk, different).status_code == 409
    task.refresh_from_db()
    assert task.status == TaskStatus.ANSWERED and task.answer_sha256 == sha256_of(blob)

    revoke_tokens(hub["agencies"][code].agency, by="admin")
    assert _agent_get(client, token).status_code == 401


@pytest.mark.django_db
def test_the_approver_decides_and_refusal_needs_a_reason(
    hub: dict, signed_in: Any, make_account: Any
) -> None:
    investigator, police = signed_in(hub["investigator"]), signed_in(hub["police"])
    made = _ask(investigator, hub["case"].case_id, kinds=["telecom"]).json()
    url = f"/api/requests/{made['request_id']}/decision"
    refuse = json.dumps({"approve": False})
    assert police.post(url, refuse, content_type="application/json").status_code == 400
    assert investigator.post(url, refuse, content_type="application/json").status_code == 403
    no = json.dumps({"approve": False, "reason": "not proportionate"})
    assert police.post(url, no, content_type="application/json").json()["status"] == "refused"
    again = json.dumps({"approve": True})
    assert police.post(url, again, content_type="application/json").status_code == 409
    jobs.run_pending()
    assert not AgencyTask.objects.exists()


@pytest.mark.django_db
def test_widening_the_window_needs_a_reason(hub: dict, signed_in: Any) -> None:
    investigator = signed_in(hub["investigator"])
    case = hub["case"]
    early = dt.datetime.combine(case.confirmation_date - dt.timedelta(days=20), dt.time(), dt.UTC)
    refused = _ask(investigator, case.case_id, kinds=["cards"], start=early.isoformat())
    assert refused.status_code == 400 and "widen_reason" in refused.json()["error"]
    widened = _ask(
        investigator,
        case.case_id,
        kinds=["cards"],
        start=early.isoformat(),
        widen_reason="exposure reported three weeks before onset",
    )
    assert widened.status_code == 201


@pytest.mark.django_db
def test_the_audit_log_shows_the_whole_chain_of_a_request(hub: dict, signed_in: Any) -> None:
    investigator, police = signed_in(hub["investigator"]), signed_in(hub["police"])
    made = _ask(investigator, hub["case"].case_id, kinds=["telecom"]).json()
    police.post(
        f"/api/requests/{made['request_id']}/decision",
        json.dumps({"approve": True}),
        content_type="application/json",
    )
    _run_to_the_end(hub, DataRequest.objects.get(request_id=made["request_id"]))
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    for step in (
        "request.submit",
        "request.approve",
        "request.route",
        "request.deliver",
        "request.answer",
        "request.analysed",
    ):
        assert step in actions, step
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_taken_over_and_finished_once(hub: dict, signed_in: Any) -> None:
    investigator = signed_in(hub["investigator"])
    made = _ask(investigator, hub["case"].case_id, kinds=["cards"]).json()
    dead = jobs.claim("worker that dies")  # claimed, never finished
    assert dead is not None
    assert jobs.run_pending("another worker") == 0, "a live lease is respected"
    # Time passes: the dead worker's lease runs out.
    AnalysisJob.objects.filter(pk=dead.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert jobs.run_pending("another worker") == 1
    with pytest.raises(jobs.LeaseLost):
        jobs.run_job(dead)  # the first worker wakes up: its work is refused
    request = DataRequest.objects.get(request_id=made["request_id"])
    assert request.tasks.count() == 1


@pytest.mark.django_db
def test_the_contact_search_through_the_exchange_matches_the_direct_one(
    hub: dict, stores: Path, signed_in: Any
) -> None:
    from epitrace.hub.exchange.analysis import contact_window
    from epitrace.workflows.contact_search import search_contacts

    investigator, police = signed_in(hub["investigator"]), signed_in(hub["police"])
    kinds = ["telecom", "cards", "transit", "checkins", "contacts"]
    made = _ask(investigator, hub["case"].case_id, kinds=kinds).json()
    police.post(
        f"/api/requests/{made['request_id']}/decision",
        json.dumps({"approve": True}),
        content_type="application/json",
    )
    request = _run_to_the_end(hub, DataRequest.objects.get(request_id=made["request_id"]))
    assert request.status == Status.ANALYSED
    analysis = latest_analysis(hub["case"])
    assert analysis is not None and analysis.contacts is not None

    network = StoreNetwork(stores)
    records = network.subject(hub["person"], request.start, request.end)
    records = records.only("telecom", "card", "transit", "entry")
    trajectory = trace_subject(records, TrajectoryParams())
    tz = "Asia/Seoul"
    direct = search_contacts(network, trajectory, records, contact_window(request, tz), tz)
    expected = direct.contacts.table
    assert analysis.contacts.num_rows == expected.num_rows > 0
    assert analysis.contacts["contact_ref"].to_pylist() == expected["contact_ref"].to_pylist()
    assert max(t.round for t in request.tasks.all()) >= 3, "contacts come after the path"


@pytest.mark.django_db
def test_answers_destroyed_by_retention_fail_the_request_at_once(hub: dict, signed_in: Any) -> None:
    from epitrace.hub.exchange.answers import answer_path

    investigator = signed_in(hub["investigator"])
    made = _ask(investigator, hub["case"].case_id, kinds=["cards"]).json()
    jobs.run_pending()
    _answer_everything(hub)  # the association answers round 1
    task = AgencyTask.objects.get(request__request_id=made["request_id"], round=1)
    answer_path(task).unlink()  # the retention purge took the raw answer
    jobs.run_pending()
    request = DataRequest.objects.get(request_id=made["request_id"])
    assert request.status == Status.FAILED
    assert "AnswersDestroyed" in request.failure  # the kind of error, never the data
    assert [job.attempts for job in request.jobs.filter(status="failed")] == [1], "no retries"


def test_housekeeping_runs_the_daily_purge_and_expiry_at_most_every_few_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        "epitrace.hub.retention.purge.run_daily_purge", lambda now: calls.append("purge")
    )
    monkeypatch.setattr(
        "epitrace.hub.disclosure.drafts.expire_entries", lambda now: calls.append("expire")
    )
    monkeypatch.setattr(schedule, "_last_housekeeping", {})
    now = timezone.now()
    schedule.housekeeping(now)
    schedule.housekeeping(now + dt.timedelta(minutes=1))
    assert calls == ["purge", "expire"]
    schedule.housekeeping(now + schedule.HOUSEKEEPING_EVERY)
    assert calls == ["purge", "expire", "purge", "expire"]


def _interview_csv(city: Path, person: str) -> bytes:
    from epitrace.formats.writers import write_table

    visits = read_dataset_table(city, "interview_visits")
    assert visits is not None
    mine = visits.table.filter(pc.equal(visits.table["person_ref"], person))
    assert mine.num_rows > 0
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return write_table(mine, Path(folder), "interview_visits", "csv").read_bytes()


@pytest.mark.django_db
def test_an_interview_uploaded_after_the_path_is_compared_at_once(
    hub: dict, parquet_city: Path, signed_in: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    investigator = signed_in(hub["investigator"])
    case_id = hub["case"].case_id
    made = _ask(investigator, case_id, kinds=["cards"]).json()
    _run_to_the_end(hub, DataRequest.objects.get(request_id=made["request_id"]))
    before = latest_analysis(hub["case"])
    assert before is not None and before.comparison is None

    broken = SimpleUploadedFile("i.csv", b"person_ref,start\nP1,yesterday\n", "text/csv")
    refused = investigator.post(f"/api/cases/{case_id}/interview", {"file": broken})
    assert refused.status_code == 422 and refused.json()["problems"]

    data = _interview_csv(parquet_city, hub["person"])
    upload = SimpleUploadedFile("interview_visits.csv", data, "text/csv")
    page = investigator.post(f"/cases/{case_id}/interview", {"file": upload})
    assert page.status_code == 302
    after = latest_analysis(hub["case"])
    assert after is not None and after.comparison is not None
    assert after.comparison.num_rows > 0
    assert set(after.comparison["status"].to_pylist()) <= {
        "confirmed",
        "data_only",
        "interview_only",
    }
    assert after.stays.equals(before.stays)
    assert AuditEntry.objects.filter(action="interview.attach").count() == 1
