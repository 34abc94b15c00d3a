"""Exports of a case's analysis: reason required, audited, right files, policy per role."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from disclosure_analyses import FakeAnalysis, simulated_analysis
from django.test import Client
from pdf_tools import pdf_fonts, pdf_pages, pdf_text
from reportlab.graphics.shapes import PolyLine
from reportlab.lib import colors

from epitrace.formats.readers import read_table
from epitrace.geography import ATTRIBUTION, district_outlines, locate
from epitrace.hub import crypto
from epitrace.hub.accounts.models import Role
from epitrace.hub.audit.chain import verify_chain
from epitrace.hub.audit.models import AuditEntry
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.notes import shown_detail
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange import exports, results
from epitrace.report.model import PALETTE

pytestmark = pytest.mark.django_db

NATIONAL_ID = "800101-1234567"
FILES = ["stays.csv", "stays.geojson", "contacts.csv", "contacts.geojson", "report.pdf"]


@pytest.fixture(autouse=True)
def _english_pages(settings: Any) -> None:
    """These tests read the English pages (the hub's default language is Korean)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(scope="module")
def analysis(csv_city: Path) -> FakeAnalysis:
    return simulated_analysis(csv_city)


def make_case(region: Any, number: int = 1) -> Case:
    dates = CaseDates(
        onset_date=dt.date(2020, 3, 1),
        specimen_date=dt.date(2020, 3, 3),
        confirmation_date=dt.date(2020, 3, 4),
        isolation_date=dt.date(2020, 3, 4),
    )
    ids = Identifiers(
        name="Hong Gildong",
        birth_date=dt.date(1980, 1, 1),
        national_id=NATIONAL_ID,
        address="12 Dalgubeol-daero, Jung-gu",
        person_ref=f"P{number:05d}",
        phones=["010-1234-5678"],
    )
    return register_case(region, dates, ids, by="setup")


@pytest.fixture
def cases(places: dict[str, Any]) -> dict[str, Case]:
    return {"seoul": make_case(places["seoul"], 1), "busan": make_case(places["busan"], 2)}


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch, analysis: FakeAnalysis) -> FakeAnalysis:
    monkeypatch.setattr(results, "latest_analysis", lambda case: analysis)
    return analysis


def post(client: Client, case: Case, name: str, reason: str = "calling the contacts") -> Any:
    return client.post(f"/cases/{case.case_id}/exports/{name}", {"reason": reason})


# --- who may export ------------------------------------------------------------

EXPECTED = {
    # role: (own-region case, other-region case)
    Role.NATIONAL_INVESTIGATOR: (200, 200),
    Role.REGIONAL_INVESTIGATOR: (200, 404),
    Role.POLICE_APPROVER: (403, 403),
    Role.PROVIDER_OPERATOR: (403, 403),
    Role.AUDITOR: (403, 403),
    Role.ADMINISTRATOR: (403, 403),
    None: (403, 403),
}


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: str(r or "no-role"))
def test_role_by_page(
    role: Role | None,
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(role))  # a regional investigator of Seoul
    own, other = EXPECTED[role]
    for case, status in ((cases["seoul"], own), (cases["busan"], other)):
        assert client.get(f"/cases/{case.case_id}/exports").status_code == status
        assert post(client, case, "stays.csv").status_code == status
    # A case that does not exist answers as one outside the jurisdiction.
    missing = client.get("/cases/C99999/exports").status_code
    assert missing == (404 if own == 200 else 403)


def test_sign_in_needed(cases: dict[str, Case]) -> None:
    answer = Client().post(f"/cases/{cases['seoul'].case_id}/exports/stays.csv", {"reason": "x"})
    assert answer.status_code == 302 and answer["Location"] == "/login"


# --- the reason and the audit log ----------------------------------------------


def test_an_export_without_a_reason_is_refused_and_not_logged_as_an_access(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    before = AuditEntry.objects.count()
    answer = post(client, cases["seoul"], "stays.csv", reason="   ")
    assert answer.status_code == 400
    assert "needs a reason" in answer.content.decode()
    assert AuditEntry.objects.count() == before


def test_every_export_is_audited_with_case_format_and_reason(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "kim"))
    case = cases["seoul"]
    for name in FILES:
        answer = post(client, case, name, reason=f"tracing for {name}")
        assert answer.status_code == 200, name
        assert answer["Content-Disposition"] == f'attachment; filename="{case.case_id}-{name}"'
    entries = AuditEntry.objects.filter(action__startswith="export.").order_by("seq")
    assert [(e.action, e.detail["format"]) for e in entries] == [
        ("export.stays", "csv"),
        ("export.stays", "geojson"),
        ("export.contacts", "csv"),
        ("export.contacts", "geojson"),
        ("export.report", "pdf"),
    ]
    for entry, name in zip(entries, FILES, strict=True):
        assert entry.actor == "kim" and entry.role == "regional_investigator"
        assert entry.object_type == "case" and entry.object_id == case.case_id
        assert entry.detail["case"] == case.case_id
        assert shown_detail(entry.detail)["reason"] == f"tracing for {name}"
    # The policy's own decision carries the reason as the purpose, too.
    decision = AuditEntry.objects.filter(action="result.export").last()
    assert shown_detail(decision.detail)["purpose"] == "tracing for report.pdf"
    assert verify_chain().ok


def test_one_reason_for_a_bundle_of_exports_each_file_audited(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    """The export page asks once: the files chosen, one reason; several come as a zip."""
    client = signed_in(make_account(Role.REGIONAL_INVESTIGATOR, "kim"))
    case = cases["seoul"]
    address = f"/cases/{case.case_id}/exports"
    form = client.get(address).content.decode()
    assert form.count('name="files"') == len(FILES) and form.count('name="reason"') == 1
    before = AuditEntry.objects.count()
    assert client.post(address, {"reason": "contacts"}).status_code == 400  # no file chosen
    refused = client.post(address, {"files": ["stays.csv", "report.pdf"], "reason": " "})
    assert refused.status_code == 400 and "needs a reason" in refused.content.decode()
    assert AuditEntry.objects.count() == before  # refused before any access
    answer = client.post(address, {"files": FILES, "reason": "sharing with the team"})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    name = f"{case.case_id}-exports.zip"
    assert answer["Content-Disposition"] == f'attachment; filename="{name}"'
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.namelist() == [f"{case.case_id}-{n}" for n in FILES]
    assert archive.read(f"{case.case_id}-report.pdf").startswith(b"%PDF")
    entries = AuditEntry.objects.filter(action__startswith="export.").order_by("seq")
    assert len(entries) == len(FILES)
    assert {shown_detail(e.detail)["reason"] for e in entries} == {"sharing with the team"}
    assert AuditEntry.objects.filter(action="result.export").count() == 1  # one lookup
    single = client.post(address, {"files": ["contacts.csv"], "reason": "calling them"})
    assert single["Content-Disposition"] == f'attachment; filename="{case.case_id}-contacts.csv"'


def test_exports_name_the_subject_by_case_never_by_an_agencys_id(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    case = cases["seoul"]
    (provider_ref,) = set(analysed.stays.column("person_ref").to_pylist())
    for name in FILES:
        body = post(client, case, name).content
        assert provider_ref.encode() not in body, name
    text = post(client, case, "stays.csv").content.decode("utf-8-sig")
    assert {r["person_ref"] for r in csv.DictReader(io.StringIO(text))} == {case.case_id}
    path = json.loads(post(client, case, "stays.geojson").content)
    points = [f for f in path["features"] if f["geometry"]["type"] == "Point"]
    assert {f["properties"]["person_ref"] for f in points} == {case.case_id}


def test_unknown_export_and_missing_analysis(
    cases: dict[str, Case],
    monkeypatch: pytest.MonkeyPatch,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    assert post(client, cases["seoul"], "stays.xlsx").status_code == 404
    monkeypatch.setattr(results, "latest_analysis", lambda case: None)
    answer = post(client, cases["seoul"], "stays.csv")
    assert answer.status_code == 404 and "no analysis yet" in answer.content.decode()

    def destroyed(case: Case) -> None:
        raise crypto.KeyDestroyed("gone")

    monkeypatch.setattr(results, "latest_analysis", destroyed)
    assert post(client, cases["seoul"], "stays.csv").status_code == 410
    assert not AuditEntry.objects.filter(action__startswith="export.").exists()


# --- the files -------------------------------------------------------------------


def test_stays_csv_is_the_contract_table_in_the_places_zone(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    text = post(client, cases["seoul"], "stays.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "person_ref", "seq", "start", "end", "lat", "lon",
        "radius_m", "place_name", "sources", "confidence",
        "sido", "sigungu", "emd", "sigungu_code",
    ]  # fmt: skip
    assert len(rows) == analysed.stays.num_rows
    first = analysed.stays.to_pylist()[0]
    assert dt.datetime.fromisoformat(rows[0]["start"]) == first["start"]
    assert rows[0]["start"].endswith("+09:00")


def test_csv_exports_open_in_excel_with_korean_intact_and_epitrace_reads_them(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
    tmp_path: Path,
) -> None:
    """Excel reads a CSV as UTF-8 only after a byte-order mark; epitrace's readers skip it."""
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    for name, table_name in (("stays.csv", "stays"), ("contacts.csv", "contacts")):
        body = post(client, cases["seoul"], name).content
        assert body.startswith(codecs.BOM_UTF8), name
        text = body.decode("utf-8-sig")  # as Excel decodes a file with the mark
        header = next(csv.reader(io.StringIO(text)))
        assert header[0] == "person_ref", name
        (tmp_path / name).write_bytes(body)
        loaded = read_table(tmp_path / name, table_name).raise_for_problems()
        assert loaded.num_rows == getattr(analysed, table_name).num_rows
    stays = read_table(tmp_path / "stays.csv", "stays").raise_for_problems()
    assert "대구광역시" in stays.column("sido").to_pylist()  # Korean intact


def test_geojson_exports(
    cases: dict[str, Case],
    analysed: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    path = json.loads(post(client, cases["seoul"], "stays.geojson").content)
    assert path == exports.path_named_by_case(analysed.path, cases["seoul"])
    points = json.loads(post(client, cases["seoul"], "contacts.geojson").content)
    assert points["type"] == "FeatureCollection"
    assert len(points["features"]) == analysed.contacts.num_rows
    feature = points["features"][0]
    row = analysed.contacts.to_pylist()[0]
    assert feature["geometry"]["coordinates"] == [row["lon"], row["lat"]]
    assert feature["properties"]["contact_ref"] == row["contact_ref"]
    assert dt.datetime.fromisoformat(feature["properties"]["start"]) == row["start"]


def test_contacts_csv_without_a_contact_search_has_only_its_header(
    cases: dict[str, Case],
    monkeypatch: pytest.MonkeyPatch,
    analysis: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    import dataclasses

    monkeypatch.setattr(
        results, "latest_analysis", lambda case: dataclasses.replace(analysis, contacts=None)
    )
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    text = post(client, cases["seoul"], "contacts.csv").content.decode("utf-8-sig")
    assert text.strip().splitlines() == [
        '"person_ref","contact_ref","via","place_name","lat","lon","start","end",'
        '"overlap_min","score","tier"'
    ]


def test_the_pdf_report_holds_the_case_and_its_stays_but_no_identity_number(
    cases: dict[str, Case], analysis: FakeAnalysis
) -> None:
    body = exports.case_report_pdf(cases["seoul"], analysis)
    assert body.startswith(b"%PDF")
    text = pdf_text(body)
    assert cases["seoul"].case_id in text
    assert "2020-03-04" in text  # confirmation date
    assert NATIONAL_ID not in text and "Hong Gildong" not in text and "010-1234" not in text
    assert "People who may have been exposed" in text
    for stay in analysis.stays.to_pylist():
        assert (
            stay["start"].astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%d %H:%M")
            in text
        )


def korean_named(analysis: FakeAnalysis) -> FakeAnalysis:
    import dataclasses

    names = analysis.stays.column("place_name").to_pylist()
    names[0] = "동성로 카페"
    stays = analysis.stays.set_column(
        analysis.stays.schema.get_field_index("place_name"),
        "place_name",
        pa.array(names, pa.string()),
    )
    return dataclasses.replace(analysis, stays=stays)


def test_the_pdf_embeds_a_korean_font_and_reads_well_in_korean_and_english(
    cases: dict[str, Case], analysis: FakeAnalysis
) -> None:
    """Issue #19: the fonts were not embedded, so readers spaced Latin text badly. Read
    with poppler, as readers do: one embedded font, words whole and singly spaced."""
    from django.utils import translation

    case = cases["seoul"]
    english = exports.case_report_pdf(case, korean_named(analysis))
    fonts = pdf_fonts(english)
    assert fonts and all(f.embedded for f in fonts), fonts
    assert {f.name.split("+")[-1] for f in fonts} == {"NanumGothic"}
    text = pdf_text(english)
    assert "동성로 카페" in text and case.case_id in text
    for line in ("People who may have been exposed", "Confidential: personal data for"):
        assert line in text, line  # Latin letters and spaces as written
    with translation.override("ko"):
        korean = exports.case_report_pdf(case, korean_named(analysis))
    text = pdf_text(korean)
    assert "노출 가능성이 있는 사람" in text and "동성로 카페" in text
    assert "기지국" in text  # the sources, as the case page names them
    assert pdf_pages(korean) <= 3


def test_the_pdf_names_unnamed_stays_by_their_neighbourhood(
    cases: dict[str, Case], analysis: FakeAnalysis
) -> None:
    """A stay known from cell towers alone has no place name: it reads as its district."""
    unnamed = [s for s in analysis.stays.to_pylist() if not s["place_name"]]
    assert unnamed, "the simulated case has telecom-only stays"
    text = pdf_text(exports.case_report_pdf(cases["seoul"], analysis))
    for stay in unnamed:
        assert stay["emd"] and stay["emd"] in text, stay["seq"]


def test_the_pdf_spreads_stay_numbers_that_would_overlap(analysis: FakeAnalysis) -> None:
    """Stays at one place (home, each night) were numbered on top of each other: the
    badges are spread as the offline report spreads them, none covering another."""
    import math

    from reportlab.graphics.shapes import Circle

    drawing = exports.path_drawing(analysis.stays, analysis.path, 500, 250)
    badges = [
        (c.cx, c.cy)
        for c in drawing.contents
        if isinstance(c, Circle) and c.r == exports.BADGE_RADIUS_PT
    ]
    assert len(badges) == analysis.stays.num_rows
    places = {(round(r["lat"], 3), round(r["lon"], 3)) for r in analysis.stays.to_pylist()}
    assert len(places) < analysis.stays.num_rows, "some stays share a place"
    closest = min(math.dist(a, b) for i, a in enumerate(badges) for b in badges[i + 1 :])
    assert closest >= 1.8 * exports.BADGE_RADIUS_PT


def test_the_pdf_sketch_draws_daegus_districts_with_their_names_and_source(
    cases: dict[str, Case], analysis: FakeAnalysis
) -> None:
    where = locate(analysis.stays.column("lat"), analysis.stays.column("lon"))
    assert set(where.column("sido").to_pylist()) == {"대구광역시"}  # the simulated city
    body = exports.case_report_pdf(cases["seoul"], analysis)
    text = pdf_text(body)  # as poppler reads it
    assert ATTRIBUTION in " ".join(text.split())  # "Boundaries: NGII (국토지리정보원), 2023-09-15"
    # The sketch itself: their boundaries in the palette's district grey, and their
    # names, all drawn before (under) the path's moves; the names are in the file.
    lat = np.asarray(analysis.stays.column("lat"))
    lon = np.asarray(analysis.stays.column("lon"))
    wide = (lon.min() - 0.1, lat.min() - 0.1, lon.max() + 0.1, lat.max() + 0.1)
    names = {d.name for d in district_outlines(wide, 12).districts}
    written = {name for name in names if name in text}
    assert len(written) >= 3, written
    assert written & set(where.column("emd").to_pylist())  # the stays' own among them
    sketch = exports.path_drawing(analysis.stays, analysis.path, 500, 250)
    labels = {getattr(s, "text", None) for s in sketch.contents} & names
    assert len(labels) >= 3, labels
    grey = colors.HexColor(PALETTE["district"])
    shapes = list(enumerate(sketch.contents))
    boundaries = [i for i, s in shapes if isinstance(s, PolyLine) and s.strokeColor == grey]
    written = [i for i, s in shapes if getattr(s, "text", None) in labels]
    moves = [i for i, s in shapes if isinstance(s, PolyLine) and s.strokeColor != grey]
    assert len(boundaries) >= len(labels) and written and moves
    assert max(boundaries + written) < min(moves)


def test_exports_read_the_exchanges_stored_analysis(
    cases: dict[str, Case],
    analysis: FakeAnalysis,
    make_account: Callable[..., Any],
    signed_in: Callable[..., Client],
) -> None:
    """No fake: the analysis sealed under the case's key by the exchange, read back."""
    from epitrace.hub.exchange.models import AnalysisResult, DataRequest
    from epitrace.hub.exchange.results import CaseAnalysis, seal_bundle

    case = cases["seoul"]
    request = DataRequest.objects.create(
        case=case,
        kinds=["telecom"],
        start=analysis.window[0],
        end=analysis.window[1],
        justification="tracing",
        needs_approval=True,
        status="analysed",
        requested_by="lee",
        requested_role="regional_investigator",
        deadline=analysis.window[1],
    )
    stored = CaseAnalysis(**{f: getattr(analysis, f) for f in CaseAnalysis.__dataclass_fields__})
    AnalysisResult.objects.create(
        request=request,
        case=case,
        computed_at=analysis.computed_at,
        stays=analysis.stays.num_rows,
        contacts=analysis.contacts.num_rows,
        provenance=[],
        bundle_enc=seal_bundle(case, request.pk, stored),
    )
    client = signed_in(make_account(Role.NATIONAL_INVESTIGATOR))
    page = client.get(f"/cases/{case.case_id}/exports")
    assert page.status_code == 200
    assert f"{analysis.stays.num_rows} stays" in page.content.decode()
    text = post(client, case, "stays.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == analysis.stays.column("seq").to_pylist()
    assert post(client, cases["busan"], "stays.csv").status_code == 404  # no analysis there


def test_finding_7_exported_stays_carry_no_live_formula() -> None:
    """Issue #17, finding 7: a merchant named ``=HYPERLINK(...)`` reached the hub's
    stays.csv as a live formula; its text cells are quoted for spreadsheets now, and the
    numbers (negative ones too) stay numbers."""
    from epitrace.formats.schemas import table as contract_table
    from epitrace.formats.writers import conform
    from epitrace.hub.exchange.exports import csv_bytes

    at = dt.datetime(2020, 3, 2, 8, tzinfo=dt.UTC)
    stays = conform(
        pa.table(
            {
                "person_ref": ["P1", "P1"],
                "seq": [1, 2],
                "start": [at, at + dt.timedelta(hours=2)],
                "end": [at + dt.timedelta(hours=1), at + dt.timedelta(hours=3)],
                "lat": [-33.5, 35.87],
                "lon": [-70.25, 128.6],
                "radius_m": [100.0, 100.0],
                "place_name": ['=HYPERLINK("http://evil.example","Cafe")', "+1 cmd"],
                "sources": ["card", "telecom"],
                "confidence": [0.9, 0.5],
            }
        ),
        contract_table("stays"),
    )
    text = csv_bytes(stays, "stays", "Asia/Seoul").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["place_name"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example","Cafe")',
        "'+1 cmd",
    ]
    assert rows[0]["lat"] == "-33.5"
