"""A case's analysis (stays, path, interview comparison, contacts) shaped for the pages.

The analysis itself comes from ``epitrace.hub.exchange.results.latest_analysis``; the
caller must have passed ``policy.find(user, "result.view", ...)`` first. This module only
turns its Arrow tables into rows the templates and the map scripts read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from epitrace.analysis.trajectory.interview import (
    CONFIRMED,
    DATA_ONLY,
    INTERVIEW_ONLY,
    NOTE_ADDRESS_ONLY,
    NOTE_NO_DATA,
    NOTE_NOT_MENTIONED,
)
from epitrace.report.model import OUTSIDE_KOREA, district_names, evidence_of, mode_class

COMPARISON_STATUSES = ("confirmed", "only in data", "only in interview")
# The analysis writes its own status codes (analysis/trajectory/interview.py); the page
# shows the three lists under these names.
STATUS_OF = {
    CONFIRMED: "confirmed",
    DATA_ONLY: "only in data",
    INTERVIEW_ONLY: "only in interview",
    **{status: status for status in COMPARISON_STATUSES},
}


# A stay's sources (the contract's codes) as the page's legend names them.
SOURCE_LABELS = {
    "telecom": gettext_noop("Telecom"),
    "card": gettext_noop("Card"),
    "transit": gettext_noop("Transit"),
    "entry": gettext_noop("Check-in"),
    "checkin": gettext_noop("Check-in"),
    "gps": "GPS",
}
# The comparison's notes (analysis/trajectory/interview.py writes them in English).
NOTE_LABELS = {
    NOTE_ADDRESS_ONLY: gettext_noop("address only: place checked by name and time"),
    NOTE_NOT_MENTIONED: gettext_noop("not mentioned in the interview"),
    NOTE_NO_DATA: gettext_noop("no data supports this visit"),
}


def source_label(source: str) -> str:
    """A source code ("telecom") in the page's language (기지국); an unknown code as is."""
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def note_text(note: str) -> str:
    """A comparison note in the page's language; a note this page does not know, as is."""
    return _(NOTE_LABELS[note]) if note in NOTE_LABELS else note


def district_text(district: str) -> str | Promise:
    """A stay's district as the pages write it ("대구광역시 중구 동인동1가"), or, for a stay
    no district holds, that it was outside Korea or at sea: a lazy translation, put into
    words in the language active when the page (or file) is rendered, whichever language
    was active when the analysis was shaped."""
    return gettext_lazy("outside Korea or at sea") if district == OUTSIDE_KOREA else district


def place_text(place_name: str, district: str) -> str:
    """What a stay reads as in one line: its place's name beside its neighbourhood, or its
    neighbourhood alone for an unnamed stay (report.model's rule: never "unnamed place"),
    in the language active now (the caller renders it)."""
    where = str(district_text(district))
    return f"{place_name} · {where}" if place_name and where else place_name or where


def _rows(table: pa.Table | None) -> list[dict[str, Any]]:
    return [] if table is None else table.to_pylist()


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


@dataclass
class StayView:
    seq: int
    start: dt.datetime
    end: dt.datetime
    lat: float
    lon: float
    radius_m: float
    place_name: str
    sources: list[str]
    confidence: float
    # "대구광역시 중구 동인동1가", or outside Korea (district_text: translated when rendered)
    district: str | Promise = ""
    contacts: list[dict[str, Any]] = field(default_factory=list)
    # The stay ran on before the window's start or past its end: shown cut at the window.
    before_window: bool = False
    after_window: bool = False

    @property
    def source_labels(self) -> list[str]:
        """The sources as the legend names them (기지국, 카드)."""
        return [source_label(s) for s in self.sources]

    @property
    def sources_shown(self) -> list[tuple[str, str]]:
        """(code, label) per source: the code for the badge's colour, the label to read."""
        return list(zip(self.sources, self.source_labels, strict=True))

    @property
    def label(self) -> str | Promise:
        """The place's name; for an unnamed stay, its neighbourhood."""
        return self.place_name or self.district

    @property
    def evidence(self) -> str:
        """'precise' or 'telecom': the stay's colour, as report.html draws it."""
        return evidence_of("+".join(self.sources))

    @property
    def minutes(self) -> int:
        return round((self.end - self.start).total_seconds() / 60)


@dataclass
class AnalysisView:
    computed_at: dt.datetime
    window: tuple[dt.datetime, dt.datetime]
    stays: list[StayView]
    moves: list[dict[str, Any]]
    comparison: dict[str, list[dict[str, Any]]] | None  # None: no interview to compare
    contacts: list[dict[str, Any]]  # ranked: one row per contact person, best evidence first
    provenance: list[dict[str, Any]]

    def map_data(self, time_zone: str) -> dict[str, Any]:
        """What the map and timeline scripts draw (times as UTC ISO strings)."""
        return {
            "time_zone": time_zone,
            "window": [_iso(self.window[0]), _iso(self.window[1])],
            "stays": [
                {
                    "seq": s.seq,
                    "start": _iso(s.start),
                    "end": _iso(s.end),
                    "lat": s.lat,
                    "lon": s.lon,
                    "radius_m": s.radius_m,
                    "place_name": s.place_name,
                    "district": s.district,
                    "label": s.label,
                    "evidence": s.evidence,
                    "source": main_source(s.sources),
                    "sources": s.sources,
                    "source_labels": s.source_labels,
                    "confidence": s.confidence,
                    "contacts": len({c["contact_ref"] for c in s.contacts}),
                }
                for s in self.stays
            ],
            "moves": self.moves,
        }


def main_source(sources: list[str]) -> str:
    """The colour of a stay: the most precise evidence it has."""
    for source in ("gps", "card", "checkin", "entry", "transit", "telecom"):
        if source in sources:
            return source
    return sources[0] if sources else "unknown"


def _stays(table: pa.Table, window: tuple[dt.datetime, dt.datetime]) -> list[StayView]:
    """The stays within ``window`` (the data asked for), cut at its bounds: a stay the
    records show running on past the window is shown up to its end, and marked."""
    if table.num_rows == 0:
        return []
    first, last = window
    districts = dict(zip(table.column("seq").to_pylist(), district_names(table), strict=True))
    rows = [r for r in table.to_pylist() if r["end"] > first and r["start"] < last]
    return [
        StayView(
            seq=int(row["seq"]),
            start=max(row["start"], first),
            end=min(row["end"], last),
            before_window=row["start"] < first,
            after_window=row["end"] > last,
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            radius_m=float(row["radius_m"] or 0.0),
            place_name=row.get("place_name") or "",
            sources=[s for s in (row.get("sources") or "").split("+") if s],
            confidence=float(row.get("confidence") or 0.0),
            district=district_text(districts[row["seq"]]),
        )
        for row in sorted(rows, key=lambda r: r["seq"])
    ]


def _moves(path: dict[str, Any]) -> list[dict[str, Any]]:
    moves = []
    for feature in path.get("features", []):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") != "LineString":
            continue
        properties = feature.get("properties") or {}
        moves.append(
            {
                "start": properties.get("start"),
                "end": properties.get("end"),
                "mode": properties.get("mode") or "",
                "mode_class": mode_class(properties.get("mode") or ""),
                "coordinates": geometry.get("coordinates", []),
            }
        )
    return moves


def _stay_of(contact: dict[str, Any], stays: list[StayView]) -> StayView | None:
    """The stay a contact's overlap lies in (contacts' start/end are that overlap)."""

    def overlap(stay: StayView) -> dt.timedelta:
        return min(stay.end, contact["end"]) - max(stay.start, contact["start"])

    best = max(stays, key=overlap, default=None)
    return best if best is not None and overlap(best) >= dt.timedelta(0) else None


def _ranked_contacts(rows: list[dict[str, Any]], stays: list[StayView]) -> list[dict[str, Any]]:
    """Attach each evidence row to its stay; one ranked entry per contact person."""
    people: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: -float(r["score"])):
        stay = _stay_of(row, stays)
        evidence = {
            **row,
            "stay_seq": stay.seq if stay else None,
            "via": row["via"].split("+"),
            "via_labels": [source_label(v) for v in row["via"].split("+")],
            "place": row["place_name"] or (stay.label if stay else ""),
        }
        if stay is not None:
            stay.contacts.append(evidence)
        person = people.setdefault(
            row["contact_ref"],
            {"contact_ref": row["contact_ref"], "score": float(row["score"]), "evidence": []},
        )
        person["evidence"].append(evidence)
    return sorted(people.values(), key=lambda p: -p["score"])


def _comparison(
    table: pa.Table | None, stays: list[StayView]
) -> dict[str, list[dict[str, Any]]] | None:
    """The three lists; each row's ``place``: the name given, else its stay's label."""
    if table is None:
        return None
    labels = {s.seq: s.label for s in stays}
    lists: dict[str, list[dict[str, Any]]] = {status: [] for status in COMPARISON_STATUSES}
    for row in _rows(table):
        place = row.get("place_name") or labels.get(row.get("stay_seq"), "")
        note = note_text(row.get("note") or "")
        lists[STATUS_OF[row["status"]]].append({**row, "place": place, "note": note})
    return lists


def _provenance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each answer used, its agency named as people know it (not by its code)."""
    from epitrace.hub.accounts.models import Agency

    codes = {row.get("agency") for row in rows}
    names = dict(Agency.objects.filter(code__in=codes).values_list("code", "name"))
    return [
        {
            **row,
            "agency_name": names.get(row.get("agency"), row.get("agency")),
            "declined": "declined" in row,
        }
        for row in rows
    ]


def view_of(analysis: Any) -> AnalysisView:
    stays = _stays(analysis.stays, analysis.window)
    return AnalysisView(
        computed_at=analysis.computed_at,
        window=analysis.window,
        stays=stays,
        moves=_moves(analysis.path or {}),
        comparison=_comparison(analysis.comparison, stays),
        contacts=_ranked_contacts(_rows(analysis.contacts), stays),
        provenance=_provenance(list(analysis.provenance or [])),
    )
