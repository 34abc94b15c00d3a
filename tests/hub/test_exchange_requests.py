"""Data requests as the outside probe (issue #17) tried them: a window tied to the case's
dates, no duplicate open request (also twenty at once, on PostgreSQL), and an interview
that is about the case's own patient."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from epitrace.hub.accounts.models import Role
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.models import DataRequest, InterviewRecord, Status

JUSTIFICATION = "confirmed case: trace the infectious period"
# Guideline window of these dates: 2026-02-27 .. 2026-03-04 (onset - 2 days .. isolation).
DATES = CaseDates(
    specimen_date=dt.date(2026, 3, 3),
    confirmation_date=dt.date(2026, 3, 4),
    isolation_date=dt.date(2026, 3, 4),
    onset_date=dt.date(2026, 3, 1),
)


def _case(places: dict[str, Any], ref: str) -> Any:
    ids = Identifiers(f"Person {ref}", dt.date(1980, 1, 1), f"800101-{ref}", "addr", ref, ["0101"])
    return register_case(places["seoul"], DATES, ids, by="setup")


def _ask(client: Any, case: Any, **body: Any) -> Any:
    body = {"kinds": ["cards"], "justification": JUSTIFICATION, **body}
    url = f"/api/cases/{case.case_id}/requests"
    return client.post(url, json.dumps(body), content_type="application/json")


def _day(text: str) -> str:
    return f"{text}T00:00:00+09:00"


@pytest.mark.django_db
def test_finding_14_a_cards_request_needs_a_justification_and_the_cases_window(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    """Issue #17, finding 14."""
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    near, far, elsewhere = (_case(places, ref) for ref in ("REF-A", "REF-B", "REF-C"))
    reason = "the patient travelled before the onset"

    assert _ask(investigator, near, justification=".").status_code == 400
    # Any 31 days, unrelated to the case: refused even with a reason.
    away = {"start": _day("2025-01-01"), "end": _day("2025-01-31"), "widen_reason": reason}
    refused = _ask(investigator, elsewhere, **away)
    assert refused.status_code == 400 and "overlap" in refused.json()["error"]
    # Two days wider: a real reason is enough; cards alone need no approval.
    wider = {"start": _day("2026-02-25"), "end": _day("2026-03-05")}
    assert _ask(investigator, near, **wider, widen_reason=".").status_code == 400
    made = _ask(investigator, near, **wider, widen_reason=reason)
    assert made.status_code == 201 and made.json()["status"] == Status.IN_PROGRESS
    # Ten days wider: a police approver decides, even for cards alone.
    much = _ask(
        investigator, far, start=_day("2026-02-17"), end=_day("2026-03-05"), widen_reason=reason
    )
    assert much.status_code == 201, much.content
    assert much.json()["status"] == Status.AWAITING_APPROVAL and much.json()["needs_approval"]


@pytest.mark.django_db
def test_finding_15_a_duplicate_open_request_points_to_the_first(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    """Issue #17, finding 15: the same request twice is refused with the first's number."""
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    case = _case(places, "REF-A")
    first = _ask(investigator, case, kinds=["cards", "telecom"])
    assert first.status_code == 201
    again = _ask(investigator, case, kinds=["telecom"])
    assert again.status_code == 409
    assert again.json()["existing"] == first.json()["request_id"]
    assert first.json()["request_id"] in again.json()["error"]
    assert _ask(investigator, case, kinds=["transit"]).status_code == 201  # other data
    DataRequest.objects.filter(request_id=first.json()["request_id"]).update(status=Status.REFUSED)
    assert _ask(investigator, case, kinds=["telecom"]).status_code == 201  # the first is closed


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="parallel connections need PostgreSQL (set DATABASE_URL=postgresql://...)",
)
@pytest.mark.django_db(transaction=True)
def test_finding_15_twenty_identical_requests_at_once_make_one(
    make_account: Any, signed_in: Any, places: dict[str, Any]
) -> None:
    """Issue #17, finding 15: twenty identical requests at once; the case's row lock lets
    one through, the others find it (409)."""
    user = make_account(Role.NATIONAL_INVESTIGATOR, username="nat")
    case = _case(places, "REF-A")
    clients = [signed_in(user) for _ in range(20)]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def ask(client: Any) -> None:
        try:
            start.wait(10)
            statuses.append(_ask(client, case).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201] + [409] * 19
    assert DataRequest.objects.filter(case=case).count() == 1


@pytest.mark.django_db
def test_finding_15_an_interview_of_another_person_is_refused(
    make_account: Any, signed_in: Any, places: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    """Issue #17, finding 15: an interview file whose person_ref is not the case's."""
    settings.HOME = tmp_path
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    case = _case(places, "REF-A")

    def upload(person_ref: str) -> Any:
        rows = (
            "person_ref,start,end,place_name,address,lat,lon\n"
            f"{person_ref},2026-03-01T10:00:00+09:00,2026-03-01T11:00:00+09:00,Cafe,,,\n"
        )
        file = SimpleUploadedFile("interview_visits.csv", rows.encode(), "text/csv")
        return investigator.post(f"/api/cases/{case.case_id}/interview", {"file": file})

    refused = upload("REF-B")
    assert refused.status_code == 422, refused.content
    assert "another person" in refused.json()["problems"][0]
    assert "REF-B" not in refused.content.decode()
    assert not InterviewRecord.objects.exists()
    assert upload("REF-A").status_code == 201


@pytest.mark.django_db
def test_finding_11_uploads_stay_in_the_hub_and_oversize_bodies_are_refused_unread(
    make_account: Any,
    signed_in: Any,
    places: dict[str, Any],
    settings: Any,
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    """Issue #17, finding 11: interviews were copied in clear to /tmp/epitrace-interview-*,
    large uploads went to Django's temporary files, and a 400 MB body was received whole
    before the 5 MB limit answered."""
    import tempfile

    made: list[str] = []  # every temporary folder made while the upload is handled
    mkdtemp = tempfile.mkdtemp

    def recorded_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recorded_mkdtemp)
    settings.HOME = tmp_path / "home"
    investigator = signed_in(make_account(Role.NATIONAL_INVESTIGATOR, username="nat"))
    case = _case(places, "REF-A")
    rows = (
        "person_ref,start,end,place_name,address,lat,lon\n"
        "REF-A,2026-03-01T10:00:00+09:00,2026-03-01T11:00:00+09:00,Cafe,,,\n"
    )
    file = SimpleUploadedFile("interview_visits.csv", rows.encode(), "text/csv")
    assert investigator.post(f"/api/cases/{case.case_id}/interview", {"file": file}).status_code
    assert made and all(Path(m).is_relative_to(settings.HOME) for m in made), made
    scratch = settings.HOME / "scratch"
    assert scratch.stat().st_mode & 0o777 == 0o700 and list(scratch.iterdir()) == []
    assert settings.FILE_UPLOAD_HANDLERS == [
        "django.core.files.uploadhandler.MemoryFileUploadHandler"
    ]

    declared = 400 * 1024 * 1024  # the header alone: the body is never read
    refused = investigator.post(
        f"/api/cases/{case.case_id}/interview",
        data=b"x" * 10,
        content_type="text/csv",
        CONTENT_LENGTH=str(declared),
    )
    assert refused.status_code == 413
    assert InterviewRecord.objects.count() == 1
