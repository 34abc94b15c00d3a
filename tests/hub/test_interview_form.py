"""The interview page (issue #19): places typed in a form beside the CSV upload, checked by
the contract's validation with problems naming the row and the field, kept exactly as an
uploaded file is; an interview of another person refused and never replacing the
earlier one; a replacement only once confirmed; the file's problems in Korean."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hub_seed import make_case

from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.records import decrypt_for_case
from epitrace.hub.exchange.analysis import interview_label
from epitrace.hub.exchange.models import InterviewRecord

from .test_korean_pages import english_words

pytestmark = pytest.mark.django_db
SEOUL = dt.timezone(dt.timedelta(hours=9))
HEADER = "person_ref,start,end,place_name,address,lat,lon\n"


@pytest.fixture(autouse=True)
def _hub_home(settings: Any, tmp_path: Any) -> None:
    settings.HOME = tmp_path  # the private scratch folder of uploads
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def case(places: dict[str, Any]) -> Any:
    return make_case(places["seoul"], person_ref="P000001")


@pytest.fixture
def investigator(make_account: Callable[..., Any], signed_in: Callable[..., Client]) -> Client:
    return signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "lee"))  # Seoul's Jung-gu


def typed(*rows: tuple[str, str, str, str, str], **extra: str) -> dict[str, str]:
    """The form's fields for ``rows`` of (place, address, date, start, end)."""
    form = {"entry": "form", "rows": str(max(len(rows), 5)), **extra}
    for number, row in enumerate(rows, start=1):
        for name, value in zip(("place", "address", "date", "start", "end"), row, strict=True):
            form[f"{name}-{number}"] = value
    return form


def stored(case: Any) -> Any:
    record = InterviewRecord.objects.get(case=case)
    return pq.read_table(io.BytesIO(decrypt_for_case(case, interview_label(), record.table_enc)))


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("interview_visits.csv", text.encode(), "text/csv")


TWO_PLACES = (
    ("Dasol Gukbap", "Samdeok-dong", "2026-11-03", "12:10", "13:00"),
    ("Club Vivid", "", "2026-11-04", "23:30", "01:15"),  # past midnight: the next day
)


def test_two_places_typed_are_kept_as_an_uploaded_file_would_be(
    case: Any, investigator: Client, places: dict[str, Any], make_account: Any
) -> None:
    page = investigator.get(f"/cases/{case.case_id}/interview")
    assert page.status_code == 200 and 'id="interview-form"' in page.content.decode()
    sent = investigator.post(f"/cases/{case.case_id}/interview", typed(*TWO_PLACES))
    assert sent.status_code == 302 and sent["Location"].endswith("#comparison-title")
    visits = stored(case).to_pylist()
    assert [v["place_name"] for v in visits] == ["Dasol Gukbap", "Club Vivid"]
    assert visits[0]["start"] == dt.datetime(2026, 11, 3, 12, 10, tzinfo=SEOUL)
    assert visits[1]["end"] == dt.datetime(2026, 11, 5, 1, 15, tzinfo=SEOUL)
    assert visits[0]["address"] == "Samdeok-dong" and visits[1]["address"] is None
    assert {v["person_ref"] for v in visits} == {"P000001"}
    (entry,) = AuditEntry.objects.filter(action="interview.attach")
    assert entry.detail["source"] == "form" and entry.detail["rows"] == 2
    assert entry.object_id == case.audit_name

    # The same places in a file, on another case: the same table is kept.
    other = make_case(places["seoul"], person_ref="P000001")
    rows = [
        "P000001,2026-11-03T12:10:00+09:00,2026-11-03T13:00:00+09:00,Dasol Gukbap,Samdeok-dong,,",
        "P000001,2026-11-04T23:30:00+09:00,2026-11-05T01:15:00+09:00,Club Vivid,,,",
    ]
    file = csv_upload(HEADER + "\n".join(rows) + "\n")
    assert investigator.post(f"/cases/{other.case_id}/interview", {"file": file}).status_code == 302
    assert stored(other).equals(stored(case))


def test_the_problems_name_the_row_and_the_field(case: Any, investigator: Client) -> None:
    form = typed(
        ("Cafe", "", "2026-11-03", "10:00", "11:00"),
        ("", "Jung-gu", "2026-11-03", "12:00", "13:00"),  # no name
        ("Market", "", "2026-11-31", "25:00", ""),  # no such day, hour; no end
        ("", "", "", "", ""),  # blank: skipped
        ("Bakery", "", "2026-11-04", "", "09:30"),  # no start
    )
    answer = investigator.post(f"/cases/{case.case_id}/interview", form)
    assert answer.status_code == 422
    html = answer.content.decode()
    start = html.index('id="interview-problems"')
    listed = html[start : html.index("</ul>", start)]
    for problem in (
        "row 2, place name: missing value",
        "row 3, date: not a date (YYYY-MM-DD)",
        "row 3, start time: not a time (HH:MM)",
        "row 3, end time: missing value",
        "row 5, start time: missing value",
    ):
        assert problem in listed, problem
    assert "row 1," not in listed and "row 4," not in listed
    assert 'value="Market"' in html  # what was typed comes back
    assert not InterviewRecord.objects.exists()


def test_nothing_typed_is_refused(case: Any, investigator: Client) -> None:
    answer = investigator.post(f"/cases/{case.case_id}/interview", typed())
    assert answer.status_code == 422 and "type at least one place" in answer.content.decode()


def test_more_rows_keep_what_was_typed_and_store_nothing(case: Any, investigator: Client) -> None:
    answer = investigator.post(f"/cases/{case.case_id}/interview", typed(TWO_PLACES[0], more="1"))
    html = answer.content.decode()
    assert answer.status_code == 200 and 'id="place-10"' in html and 'value="Dasol Gukbap"' in html
    assert not InterviewRecord.objects.exists()


def test_a_replacement_is_asked_to_be_confirmed(case: Any, investigator: Client) -> None:
    url = f"/cases/{case.case_id}/interview"
    investigator.post(url, typed(TWO_PLACES[0]))
    page = investigator.get(url).content.decode()
    assert 'id="interview-earlier"' in page and 'name="replace"' in page
    again = investigator.post(url, typed(*TWO_PLACES))
    assert again.status_code == 422
    assert "confirm that it is to be replaced" in again.content.decode()
    file = csv_upload(HEADER + "P000001,2026-11-03T10:00:00+09:00,2026-11-03T11:00:00+09:00,A,,,\n")
    assert investigator.post(url, {"file": file}).status_code == 422
    assert InterviewRecord.objects.get(case=case).rows == 1
    confirmed = investigator.post(url, typed(*TWO_PLACES, replace="yes"))
    assert confirmed.status_code == 302 and InterviewRecord.objects.get(case=case).rows == 2
    latest = AuditEntry.objects.filter(action="interview.attach").order_by("-id").first()
    assert latest is not None and latest.detail["replaced"] is True


def test_an_interview_of_another_person_never_replaces_the_earlier_one(
    case: Any, investigator: Client
) -> None:
    url = f"/cases/{case.case_id}/interview"
    investigator.post(url, typed(*TWO_PLACES))
    someone_else = HEADER + "P000777,2026-11-03T10:00:00+09:00,2026-11-03T11:00:00+09:00,B,,,\n"
    refused = investigator.post(url, {"file": csv_upload(someone_else), "replace": "yes"})
    html = refused.content.decode()
    assert refused.status_code == 422 and "another person" in html and "P000777" not in html
    assert stored(case).num_rows == 2  # the earlier interview, untouched
    assert AuditEntry.objects.filter(action="interview.attach").count() == 1


def test_the_page_and_its_problems_in_korean(
    case: Any, make_account: Callable[..., Any], signed_in: Callable[..., Client], settings: Any
) -> None:
    settings.LANGUAGE_CODE = "ko"
    investigator = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "조사관"))
    url = f"/cases/{case.case_id}/interview"
    broken = HEADER + "P000001,2026-11-03 10:00,2026-11-03T09:00:00+09:00,카페,,,\n"
    answer = investigator.post(url, {"file": csv_upload(broken)})
    html = answer.content.decode()
    assert answer.status_code == 422
    assert "2번째 줄 <code>start</code> 열: UTC 시차가 없는 날짜와 시각입니다" in html
    form = investigator.post(url, typed(("", "중구", "2026-11-03", "10:00", "11:00")))
    assert "1행 장소명: 값이 없습니다" in form.content.decode()
    for page in (html, form.content.decode(), investigator.get(url).content.decode()):
        assert english_words(page) == []
