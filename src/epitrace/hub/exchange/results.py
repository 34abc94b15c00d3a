"""A case's analysis, stored encrypted and read back for the pages.

The outputs are those of ``epitrace analyze`` (data-formats.md, "Analysis outputs"):
the stays, the path as GeoJSON, the interview comparison and the contacts, zipped
and sealed under the case's data key. The caller must have passed the policy
(``result.view``) before reading one: this module decides nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import decrypt_for_case, encrypt_for_case
from epitrace.hub.exchange.models import AnalysisResult


@dataclass(frozen=True)
class CaseAnalysis:
    case_id: str
    computed_at: dt.datetime
    timezone: str
    window: tuple[dt.datetime, dt.datetime]
    stays: pa.Table
    path: dict[str, Any]
    comparison: pa.Table | None
    contacts: pa.Table | None
    provenance: list[dict[str, Any]]
    notes: tuple[str, ...] = ()
    request_id: str = ""


def _parquet(data: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(data, sink, compression="zstd")
    return sink.getvalue()


def _label(result_request_pk: int) -> str:
    return f"result:{result_request_pk}"


def bundle(analysis: CaseAnalysis) -> bytes:
    """The outputs as one zip (the plaintext that gets sealed)."""
    meta = {
        "case_id": analysis.case_id,
        "request_id": analysis.request_id,
        "computed_at": analysis.computed_at.isoformat(),
        "timezone": analysis.timezone,
        "window": [t.isoformat() for t in analysis.window],
        "notes": list(analysis.notes),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("stays.parquet", _parquet(analysis.stays))
        archive.writestr("path.geojson", json.dumps(analysis.path))
        if analysis.comparison is not None:
            archive.writestr("comparison.parquet", _parquet(analysis.comparison))
        if analysis.contacts is not None:
            archive.writestr("contacts.parquet", _parquet(analysis.contacts))
    return buffer.getvalue()


def seal_bundle(case: Case, request_pk: int, analysis: CaseAnalysis) -> bytes:
    return encrypt_for_case(case, _label(request_pk), bundle(analysis))


def _unbundle(blob: bytes, provenance: list[dict[str, Any]]) -> CaseAnalysis:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read("meta.json"))

        def table(name: str) -> pa.Table | None:
            if name not in names:
                return None
            return pq.read_table(io.BytesIO(archive.read(name)))

        stays = table("stays.parquet")
        path = json.loads(archive.read("path.geojson"))
        comparison, contacts = table("comparison.parquet"), table("contacts.parquet")
    start, end = (dt.datetime.fromisoformat(t) for t in meta["window"])
    return CaseAnalysis(
        case_id=meta["case_id"],
        computed_at=dt.datetime.fromisoformat(meta["computed_at"]),
        timezone=meta["timezone"],
        window=(start, end),
        stays=stays if stays is not None else pa.table({}),
        path=path,
        comparison=comparison,
        contacts=contacts,
        provenance=provenance,
        notes=tuple(meta.get("notes", ())),
        request_id=meta.get("request_id", ""),
    )


def read_result(result: AnalysisResult) -> CaseAnalysis:
    blob = decrypt_for_case(result.case, _label(result.request_id), bytes(result.bundle_enc))
    return _unbundle(blob, result.provenance)


def latest_analysis(case: Case) -> CaseAnalysis | None:
    """The case's most recent analysis, decrypted; None if there is none yet.

    Raises ``crypto.KeyDestroyed`` once the case's key was destroyed.
    """
    result = AnalysisResult.objects.filter(case=case).order_by("-computed_at", "-id").first()
    return read_result(result) if result is not None else None
