"""Exports of a case's analysis: stays and contacts as CSV or GeoJSON, a printable PDF.

This module makes the files; the pages that hand them out are in exchange/views.py
(``/cases/<case_id>/exports``). Files leave the hub there, so they are asked for with
one reason for the files chosen together (refused without one), decided by the policy
(``result.view`` to see what can be exported, ``result.export`` to take a file:
investigators within their jurisdiction) and each file appended to the audit log
(``export.stays``, ``export.contacts``, ``export.report``: the case, the format, the
rows, the reason). Several files come as one zip (``bundle``).

The CSV files are the contract's ``stays`` and ``contacts`` tables, times in ISO
8601 with the offset of the place's zone (the analysis's), as ``epitrace analyze``
writes them, with a byte-order mark for Excel. People read these files: the subject is
named by the case (``person_ref`` is C00003), never by an agency's identifier, and so
are the files (``C00003-stays.csv``). The PDF report holds the case number, its dates,
the data window, the stays, a drawn map of the path and a summary of the contacts
(counts, never who they are); no name, phone, address or national identity number.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import zipfile
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from epitrace.formats.schemas import table as contract_table
from epitrace.formats.writers import (
    conform,
    for_spreadsheets,
    spreadsheet_quoted_columns,
    spreadsheet_safe_column,
)
from epitrace.geography import ATTRIBUTION, district_outlines
from epitrace.geography.outlines import zoom_for_scale
from epitrace.hub.cases.models import Case
from epitrace.hub.exchange.case_analysis import district_text, place_text, source_label
from epitrace.hub.web.windows import window_text
from epitrace.report.model import PALETTE, district_names, evidence_of, mode_class
from epitrace.report.pathmap import pile_offsets

logger = logging.getLogger(__name__)
REASON_MAX = 500
BADGE_RADIUS_PT = 5.0  # a stay's numbered badge on the PDF's map
BADGE_PIXEL_PT = BADGE_RADIUS_PT * 2 / 18  # the offline report's badge is 18 px wide


@dataclass(frozen=True)
class ExportKind:
    name: str  # the file's name in the address: stays.csv
    subject: str  # stays, contacts, report: the audit action is export.<subject>
    fmt: str  # csv, geojson, pdf
    content_type: str
    label: str  # what the export page calls it (translated there)

    def filename(self, case: Case) -> str:
        """The file's name as the investigator receives it: ``C00003-stays.csv``."""
        return f"{case.case_id}-{self.name}"


KINDS = {
    kind.name: kind
    for kind in (
        ExportKind(
            "stays.csv", "stays", "csv", "text/csv; charset=utf-8", gettext_noop("Stays, table")
        ),
        ExportKind(
            "stays.geojson",
            "stays",
            "geojson",
            "application/geo+json",
            gettext_noop("Stays and moves, for a map"),
        ),
        ExportKind(
            "contacts.csv",
            "contacts",
            "csv",
            "text/csv; charset=utf-8",
            gettext_noop("Contacts, table"),
        ),
        ExportKind(
            "contacts.geojson",
            "contacts",
            "geojson",
            "application/geo+json",
            gettext_noop("Contacts, for a map"),
        ),
        ExportKind(
            "report.pdf", "report", "pdf", "application/pdf", gettext_noop("Case report, printable")
        ),
    )
}
BUNDLE_TYPE = "application/zip"


# --- files -------------------------------------------------------------------


def _local_text(column: pa.ChunkedArray, tz: str) -> pa.ChunkedArray:
    """Timestamps as ISO 8601 with the zone's offset: 2020-03-02T17:15:00+09:00."""
    local = column.cast(pa.timestamp("s", tz=tz))
    return pc.strftime(local, format="%Y-%m-%dT%H:%M:%S%Ez")


def csv_bytes(data: pa.Table, name: str, tz: str) -> bytes:
    """The contract's table ``name`` as CSV, in memory (nothing personal on disk), with
    the byte-order mark Excel needs to read Korean (``formats.writers.for_spreadsheets``)."""
    spec = contract_table(name)
    data = conform(data, spec)
    quoted = spreadsheet_quoted_columns(spec)  # no live formula reaches a spreadsheet
    columns = [
        _local_text(col, tz)
        if pa.types.is_timestamp(field.type)
        else spreadsheet_safe_column(col)
        if field.name in quoted
        else col
        for field, col in zip(data.schema, data.columns, strict=True)
    ]
    rendered = pa.table(columns, names=data.column_names)
    sink = io.BytesIO()
    pacsv.write_csv(rendered, sink, pacsv.WriteOptions(quoting_style="needed"))
    return for_spreadsheets(sink.getvalue())


def _json_value(value: Any, tz: zoneinfo.ZoneInfo) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).isoformat()
    return value


def points_geojson(data: pa.Table, tz: str) -> dict[str, Any]:
    """A Point per row (lat, lon), the other columns as properties."""
    zone = zoneinfo.ZoneInfo(tz)
    features = []
    for row in data.to_pylist():
        properties = {k: _json_value(v, zone) for k, v in row.items() if k not in ("lat", "lon")}
        geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def contacts_of(analysis: Any) -> pa.Table:
    if analysis.contacts is None:
        return contract_table("contacts").arrow_schema.empty_table()
    return analysis.contacts


def named_by_case(data: pa.Table, case: Case) -> pa.Table:
    """``data`` with its ``person_ref`` (an agency's identifier of the subject) replaced by
    the case number: the name people use for the subject outside the agencies."""
    if "person_ref" not in data.column_names:
        return data
    index = data.schema.get_field_index("person_ref")
    ref = pa.array([case.case_id] * data.num_rows, data.schema.field(index).type)
    return data.set_column(index, data.schema.field(index), ref)


def path_named_by_case(path: dict[str, Any], case: Case) -> dict[str, Any]:
    """The path's GeoJSON with each stay's ``person_ref`` the case number."""
    features = [
        {**f, "properties": {**f["properties"], "person_ref": case.case_id}}
        if "person_ref" in (f.get("properties") or {})
        else f
        for f in path.get("features", [])
    ]
    return {**path, "features": features}


def file_for(kind: ExportKind, case: Case, analysis: Any) -> tuple[bytes, int]:
    """The file's bytes and how many rows it holds."""
    tz = analysis.timezone or "UTC"
    if kind.subject == "report":
        return case_report_pdf(case, analysis), analysis.stays.num_rows
    data = analysis.stays if kind.subject == "stays" else contacts_of(analysis)
    data = named_by_case(data, case)
    if kind.fmt == "csv":
        return csv_bytes(data, kind.subject, tz), data.num_rows
    # Stays: the whole path (a Point per stay, a LineString per move); contacts: points.
    collection = (
        path_named_by_case(analysis.path, case)
        if kind.subject == "stays"
        else points_geojson(data, tz)
    )
    return json.dumps(collection, ensure_ascii=False).encode(), data.num_rows


def bundle(files: dict[str, bytes]) -> bytes:
    """Several exported files as one zip (``{name: bytes}``), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


# --- the printable report ----------------------------------------------------


# The PDF's font, installed by scripts/install-fonts.sh (Debian's fonts-nanum, SIL Open
# Font License 1.1): Hangul and Latin letters in one face, embedded in the file.
EMBEDDED_FONT = "NanumGothic"
CID_FALLBACK = "HYGothic-Medium"  # built into PDF readers: used only without the font file


def pdf_font() -> str:
    """The registered name of the report's font: the TrueType font at
    ``EPITRACE_PDF_FONT`` (NanumGothic by default), embedded (subset) in every PDF. Without
    that file, a Korean CID font built into PDF readers, not embedded (Latin letters are
    then spaced by the reader's own metrics, often badly), and a warning in the log."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    if EMBEDDED_FONT in registered:
        return EMBEDDED_FONT
    path = Path(settings.EPITRACE_PDF_FONT)
    if path.is_file():
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, str(path)))
        return EMBEDDED_FONT
    logger.warning("PDF font %s missing (scripts/install-fonts.sh): not embedded", path)
    if CID_FALLBACK not in registered:
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK


def _when(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else _("none (no symptoms)")


def path_drawing(
    stays: pa.Table, path: dict[str, Any], width: float, height: float, font: str = "Helvetica"
) -> Any:
    """The path on a plain equirectangular sketch over the districts around it (their
    boundaries and names in ``font``, the NGII attribution): moves as lines in their mode's
    colour, stays as numbered circles in their evidence's colour (as report.html and the
    case page draw them), a scale bar. Drawn offline: no base map is fetched."""
    import math

    from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
    from reportlab.lib import colors

    drawing = Drawing(width, height, initialFontName=font)  # not Helvetica: not embedded
    rows = stays.to_pylist()
    lines = [
        f for f in path.get("features", []) if f.get("geometry", {}).get("type") == "LineString"
    ]
    points = [(r["lon"], r["lat"]) for r in rows]
    points += [tuple(p) for f in lines for p in f["geometry"]["coordinates"]]
    if not points:
        drawing.add(String(10, height / 2, _("No stays to draw."), fontName=font, fontSize=9))
        return drawing
    lat0 = sum(p[1] for p in points) / len(points)
    kx = math.cos(math.radians(lat0)) * 111_320.0  # metres per degree of longitude
    ky = 110_540.0
    xs = [p[0] * kx for p in points]
    ys = [p[1] * ky for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 200.0)
    margin = 16
    scale = min(width - 2 * margin, height - 2 * margin) / span

    def place(lon: float, lat: float) -> tuple[float, float]:
        return margin + (lon * kx - min(xs)) * scale, margin + (lat * ky - min(ys)) * scale

    corners = (
        (min(xs) - margin / scale) / kx,
        (min(ys) - margin / scale) / ky,
        (min(xs) + (width - margin) / scale) / kx,
        (min(ys) + (height - margin) / scale) / ky,
    )
    _draw_districts(drawing, corners, zoom_for_scale(1 / scale, lat0), place, font)
    drawing.add(Line(0, 0, width, 0, strokeColor=colors.lightgrey))
    for line in lines:
        flat = [c for lon, lat in line["geometry"]["coordinates"] for c in place(lon, lat)]
        colour = colors.HexColor(
            PALETTE[mode_class((line.get("properties") or {}).get("mode") or "")]
        )
        drawing.add(PolyLine(flat, strokeColor=colour, strokeWidth=1.4))
    for row in rows:
        x, y = place(row["lon"], row["lat"])
        radius = max(3.0, min(row["radius_m"] * scale, 30.0))
        colour = colors.HexColor(PALETTE[evidence_of(row["sources"] or "")])
        drawing.add(Circle(x, y, radius, fillColor=colour, fillOpacity=0.3, strokeColor=colour))
    _draw_badges(drawing, rows, place, font)
    bar_m = _round_metres(span / 4)
    drawing.add(Line(margin, 6, margin + bar_m * scale, 6, strokeWidth=2))
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    drawing.add(String(margin + bar_m * scale + 4, 3, label, fontName=font, fontSize=7))
    drawing.add(
        String(
            width - 2,
            3,
            ATTRIBUTION,
            fontName=font,
            fontSize=6,
            textAnchor="end",
            fillColor=colors.grey,
        )
    )
    return drawing


def _draw_badges(
    drawing: Any,
    rows: list[dict[str, Any]],
    place: Callable[[float, float], tuple[float, float]],
    font: str,
) -> None:
    """Each stay's number in a small disc, spread as the offline report spreads them
    (``report.pathmap.pile_offsets``: a pile of nearby stays becomes a sunflower) with a
    thin line back to the stay, so that no number hides another."""
    from reportlab.graphics.shapes import Circle, Line, String
    from reportlab.lib import colors

    at = {row["seq"]: place(row["lon"], row["lat"]) for row in rows}
    offsets = pile_offsets([(seq, x, y) for seq, (x, y) in at.items()], BADGE_PIXEL_PT)
    for row in rows:
        x, y = at[row["seq"]]
        dx, dy = offsets[row["seq"]]
        bx, by = x + dx * BADGE_PIXEL_PT, y - dy * BADGE_PIXEL_PT  # the page's y is up
        colour = colors.HexColor(PALETTE[evidence_of(row["sources"] or "")])
        if (dx, dy) != (0.0, 0.0):
            drawing.add(Line(x, y, bx, by, strokeColor=colour, strokeWidth=0.4))
        drawing.add(Circle(bx, by, BADGE_RADIUS_PT, fillColor=colors.white, strokeColor=colour))
        label = str(row["seq"])
        size = 6.0 if len(label) < 3 else 4.5
        drawing.add(
            String(bx, by - size * 0.35, label, fontName=font, fontSize=size, textAnchor="middle")
        )


def _draw_districts(
    drawing: Any,
    bbox: tuple[float, float, float, float],
    zoom: float,
    place: Callable[[float, float], tuple[float, float]],
    font: str,
) -> None:
    """The districts of the sketch's extent: boundaries, the level above bolder, names."""
    import shapely
    from reportlab.graphics.shapes import PolyLine, String
    from reportlab.lib import colors

    shown = district_outlines(bbox, zoom)
    grey = colors.HexColor(PALETTE["district"])
    for districts, width in ((shown.districts, 0.4), (shown.parents, 1.0)):
        for district in districts:
            for ring in shapely.get_rings(shapely.get_parts(district.shape)):
                flat = [c for lon, lat in shapely.get_coordinates(ring) for c in place(lon, lat)]
                drawing.add(PolyLine(flat, strokeColor=grey, strokeWidth=width))
    for district in shown.districts:
        if district.label is not None:
            x, y = place(*district.label)
            drawing.add(
                String(
                    x,
                    y,
                    district.name,
                    fontName=font,
                    fontSize=6,
                    textAnchor="middle",
                    fillColor=colors.HexColor("#5d6670"),
                )
            )


def _round_metres(value: float) -> float:
    for step in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000):
        if step >= value:
            return float(step)
    return 100_000.0


def contacts_summary(contacts: pa.Table) -> list[list[str]]:
    """Counts only: contacts, by evidence, and the places with the most of them."""
    rows = contacts.to_pylist()
    people = {r["contact_ref"] for r in rows}
    by_via = Counter(via for r in rows for via in (r["via"] or "").split("+") if via)
    # An unnamed place reads as its neighbourhood, as a stay does.
    districts = district_names(contacts) if rows else []
    by_place = Counter(
        place_text(r["place_name"] or "", "") or str(district_text(district))
        for r, district in zip(rows, districts, strict=True)
    )
    summary = [
        [_("People who may have been exposed"), str(len(people))],
        [_("Exposure records"), str(len(rows))],
    ]
    summary += [[_("Found through %(via)s") % {"via": via}, str(n)] for via, n in by_via.items()]
    summary += [
        [_("At %(place)s") % {"place": place}, str(n)] for place, n in by_place.most_common(5)
    ]
    return summary


def case_report_pdf(case: Case, analysis: Any) -> bytes:
    """The printable case report (A4): case, dates, window, stays, path map, contacts."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    zone = zoneinfo.ZoneInfo(analysis.timezone or "UTC")
    stays = analysis.stays.to_pylist()
    contacts = contacts_of(analysis)
    dates = [
        [_("Case"), case.case_id or ""],
        [_("Region"), case.region.label],
        [_("Onset"), _day(case.onset_date)],
        [_("Specimen"), _day(case.specimen_date)],
        [_("Confirmation"), _day(case.confirmation_date)],
        [_("Isolation"), _day(case.isolation_date)],
        [_("Data window"), f"{window_text(*analysis.window, zone)} ({zone.key})"],
        [_("Analysed"), f"{_when(analysis.computed_at, zone)} ({zone.key})"],
    ]
    stay_rows = [[_("#"), _("From"), _("To"), _("Place"), _("Sources"), _("Conf."), _("± m")]]
    stay_rows += [
        [
            str(s["seq"]),
            _when(s["start"], zone),
            _when(s["end"], zone),
            place_text(s["place_name"] or "", district),
            " + ".join(source_label(x) for x in (s["sources"] or "").split("+") if x),
            f"{s['confidence']:.2f}",
            f"{s['radius_m']:.0f}",
        ]
        for s, district in zip(stays, district_names(analysis.stays), strict=True)
    ]
    summary = contacts_summary(contacts)
    font = pdf_font()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        if hasattr(style, "fontName"):
            style.fontName = font
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    # Place names wrap inside their column instead of running off the page.
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=9.5)
    for row in stay_rows[1:]:
        row[3] = Paragraph(escape(row[3]), cell)
    stays_table = Table(
        stay_rows,
        colWidths=[c * mm for c in (8, 27, 27, 62, 28, 14, 14)],
        repeatRows=1,
        style=grid,
    )
    stays_table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
    buffer = io.BytesIO()
    title = _("Case report %(case)s") % {"case": case.case_id}
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="epitrace hub",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        initialFontName=font,  # else the page starts in Helvetica, a font not embedded
    )
    width = A4[0] - 30 * mm
    story = [
        Paragraph(title, styles["Title"]),
        Table(dates, colWidths=[35 * mm, width - 35 * mm], style=grid),
        Spacer(1, 6 * mm),
        Paragraph(_("Path"), styles["Heading2"]),
        path_drawing(analysis.stays, analysis.path, width, 90 * mm, font),
        Spacer(1, 4 * mm),
        Paragraph(_("Stays (%(n)d)") % {"n": len(stays)}, styles["Heading2"]),
        stays_table,
        Spacer(1, 6 * mm),
        Paragraph(_("Contacts"), styles["Heading2"]),
        Table(summary, colWidths=[80 * mm, 25 * mm], style=grid),
        Spacer(1, 6 * mm),
        Paragraph(
            _("Confidential: personal data for the epidemiological investigation only."),
            styles["Italic"],
        ),
    ]
    document.build(story)
    return buffer.getvalue()
