"""A real case analysis for the export and disclosure tests, without the exchange.

``latest_analysis`` is faked with an object shaped like the exchange's
``CaseAnalysis``, built from a simulated subject traced by the real trajectory code
(stays and path), with a contacts table at its first stays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from epitrace.analysis.trajectory import trace_subject
from epitrace.formats.readers import read_dataset_table
from epitrace.formats.schemas import table
from epitrace.providers.dataset import DatasetStore
from epitrace.simulate.run import cases_confirmed_last


@dataclass(frozen=True)
class FakeAnalysis:
    case_id: str
    computed_at: dt.datetime
    timezone: str
    window: tuple[dt.datetime, dt.datetime]
    stays: pa.Table
    path: dict[str, Any]
    comparison: pa.Table | None
    contacts: pa.Table | None
    provenance: list[dict[str, Any]] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    request_id: str = ""


def contacts_at(stays: pa.Table, how_many: int = 3) -> pa.Table:
    """One made-up contact per stay for the first stays, as the contract's table."""
    rows = stays.to_pylist()[:how_many]
    return pa.table(
        {
            "person_ref": [r["person_ref"] for r in rows],
            "contact_ref": [f"SKT:010-9999-{i:04d}" for i in range(len(rows))],
            "via": ["telecom+card" if i == 0 else "telecom" for i in range(len(rows))],
            "place_name": [r["place_name"] for r in rows],
            "lat": [r["lat"] for r in rows],
            "lon": [r["lon"] for r in rows],
            "start": [r["start"] for r in rows],
            "end": [r["end"] for r in rows],
            "overlap_min": [30.0] * len(rows),
            "score": [0.9 - 0.1 * i for i in range(len(rows))],
        }
    ).cast(table("contacts").arrow_schema)


def simulated_analysis(city: Path, case_id: str = "C00001") -> FakeAnalysis:
    """The traced path of the city's last-confirmed case."""
    loaded = read_dataset_table(city, "cases")
    assert loaded is not None
    person_ref = cases_confirmed_last(loaded.table, 1)[0]
    trajectory = trace_subject(DatasetStore(city).subject(person_ref))
    stays = trajectory.stays
    assert stays.num_rows >= 3, "the simulated case should have moved about"
    starts = stays.column("start").to_pylist()
    ends = stays.column("end").to_pylist()
    return FakeAnalysis(
        case_id=case_id,
        computed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        timezone="Asia/Seoul",
        window=(min(starts), max(ends)),
        stays=stays,
        path=trajectory.geojson("Asia/Seoul"),
        comparison=None,
        contacts=contacts_at(stays),
    )
