"""``report.html``: one self-contained page with what an investigator needs about
one subject — the path on a map, a day-by-day timeline, the stays, the interview
comparison, and what the analysis could not use.

The page opens offline: CSS and script are inlined from this package's files,
the map is inline SVG in projected metres, and nothing refers to the network.
Every value from the data is HTML-escaped (place names come from agencies'
files); the script reads them back only as text.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

import pyarrow as pa

from epitrace.analysis.trajectory import Trajectory
from epitrace.analysis.trajectory.interview import CONFIRMED, DATA_ONLY, INTERVIEW_ONLY
from epitrace.report.clock import Clock, duration
from epitrace.report.contacts import render_contacts
from epitrace.report.model import (
    UNNAMED,
    ShownOutlier,
    ShownStay,
    palette_css,
    shown_moves,
    shown_outliers,
    shown_stays,
    sources_used,
)
from epitrace.report.pathmap import render_map
from epitrace.report.timeline import render_timeline

if TYPE_CHECKING:
    from epitrace.analysis.contacts import ContactSearch

__all__ = ["render_report"]

STATUS_TITLES = {
    CONFIRMED: "Confirmed by both",
    DATA_ONLY: "Found only in the data",
    INTERVIEW_ONLY: "Named only in the interview",
}
STATUS_HINTS = {
    CONFIRMED: "the interview and the records agree on time and place",
    DATA_ONLY: "the patient did not mention these: ask about them",
    INTERVIEW_ONLY: "no record supports these visits: check them another way",
}
STATUS_SHORT = {CONFIRMED: "confirmed", DATA_ONLY: "not mentioned"}


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _fact(term: str, value: str) -> str:
    return f"<div><dt>{term}</dt><dd>{value}</dd></div>"


def _header(
    trajectory: Trajectory,
    stays: list[ShownStay],
    comparison: pa.Table | None,
    clock: Clock,
    now: dt.datetime,
) -> str:
    if stays:
        start, end = stays[0].start, max(s.end for s in stays)
        period = f"{clock.stamp(start)} → {clock.stamp(end)}"
        zone = clock.zone_label(start)
    else:
        period, zone = "no stays found", clock.zone_label(now)
    sources = ", ".join(sources_used(trajectory)) or "none"
    moves = len(trajectory.moves)
    facts = [
        _fact("Period", escape(period)),
        _fact("Stays", f"{len(stays)} <small>({moves} move{'s' * (moves != 1)})</small>"),
        _fact("Sources used", escape(sources)),
        _fact("Time zone", escape(zone)),
        _fact("Interview", _interview_summary(comparison)),
        _fact("Generated", escape(clock.stamp(now))),
    ]
    return (
        f'<header><div class="title"><p class="kicker">Movement report</p>'
        f"<h1>{escape(trajectory.person_ref)}</h1></div>"
        f'<dl class="facts">{"".join(facts)}</dl></header>'
    )


def _status_counts(comparison: pa.Table) -> dict[str, int]:
    statuses = comparison.column("status").to_pylist()
    return {status: statuses.count(status) for status in STATUS_TITLES}


def _interview_summary(comparison: pa.Table | None) -> str:
    if comparison is None:
        return "none given"
    counts = _status_counts(comparison)
    return " ".join(
        f'<a class="chip {status}" href="#list-{status}">{counts[status]} {short}</a>'
        for status, short in {**STATUS_SHORT, INTERVIEW_ONLY: "interview only"}.items()
    )


def _comparison_item(row: dict, labels: dict[int, str], clock: Clock) -> str:
    seq = row["stay_seq"]
    place = escape(row["place_name"] or labels.get(seq, UNNAMED))
    when = clock.span(row["start"], row["end"]) if row["start"] and row["end"] else ""
    details = []
    if row["interview_row"] is not None:
        details.append(f"interview row {row['interview_row']}")
    if row["distance_m"] is not None:
        details.append(f"{row['distance_m']:,.0f} m apart")
    if row["note"] and row["status"] == CONFIRMED:
        details.append(row["note"])
    badge = '<span class="seq none">–</span>' if seq is None else f'<span class="seq">{seq}</span>'
    attrs = f' data-seq="{seq}" tabindex="0"' if seq is not None else ""
    detail = f'<span class="detail">{escape(" · ".join(details))}</span>' if details else ""
    return (
        f'<li{attrs}>{badge}<span class="what"><b>{place}</b>'
        f'<span class="when">{escape(when)}</span>{detail}</span></li>'
    )


def _comparison(comparison: pa.Table | None, labels: dict[int, str], clock: Clock) -> str:
    if comparison is None:
        return (
            '<p class="empty">No interview was given for this subject, so the stays could '
            "not be compared with what the patient said.</p>"
        )
    rows = comparison.to_pylist()
    counts = _status_counts(comparison)
    lists = []
    for status, title in STATUS_TITLES.items():
        items = "".join(_comparison_item(r, labels, clock) for r in rows if r["status"] == status)
        body = f"<ul>{items}</ul>" if items else '<p class="none">none</p>'
        lists.append(
            f'<div class="status-list {status}" id="list-{status}"><h3>{title} '
            f'<span class="count">{counts[status]}</span></h3>'
            f'<p class="hint">{STATUS_HINTS[status]}</p>{body}</div>'
        )
    return "".join(lists)


def _stay_statuses(comparison: pa.Table | None) -> dict[int, str]:
    if comparison is None:
        return {}
    return {r["stay_seq"]: r["status"] for r in comparison.to_pylist() if r["stay_seq"] is not None}


def _time(ts: dt.datetime, clock: Clock) -> str:
    return f'<time datetime="{clock.iso(ts)}">{clock.when(ts)}</time>'


def _stay_row(s: ShownStay, status: str | None, clock: Clock) -> str:
    place = escape(s.place) if s.place else f'<span class="unnamed">{escape(s.label)}</span>'
    cells = [
        f'<td class="num"><span class="seq {s.evidence}">{s.seq}</span></td>',
        f"<td>{_time(s.start, clock)}</td>",
        f"<td>{_time(s.end, clock)}</td>",
        f'<td class="num">{duration(s.start, s.end)}</td>',
        f'<td class="place">{place}</td>',
        f'<td class="num mono">{s.lat:.5f}, {s.lon:.5f}</td>',
        f'<td class="num">{s.radius:,.0f} m</td>',
        f"<td>{escape(s.sources)}</td>",
        f'<td class="num">{s.confidence:.2f}</td>',
    ]
    if status is not None:
        cells.append(f'<td><span class="chip {status}">{STATUS_SHORT[status]}</span></td>')
    return f'<tr data-seq="{s.seq}" tabindex="0">{"".join(cells)}</tr>'


def _stays_table(stays: list[ShownStay], comparison: pa.Table | None, clock: Clock) -> str:
    if not stays:
        return (
            '<p class="empty">No stays were found for this subject in the records given. '
            "See the notes below for what could not be used.</p>"
        )
    statuses = _stay_statuses(comparison)
    heads = [
        "#",
        "Start",
        "End",
        "Duration",
        "Place",
        "Lat, lon",
        "Radius",
        "Sources",
        "Confidence",
    ] + (["Interview"] if comparison is not None else [])
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join(
        _stay_row(s, statuses.get(s.seq, DATA_ONLY) if comparison is not None else None, clock)
        for s in stays
    )
    return (
        f'<div class="table-box"><table id="stays-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _outlier_rows(outliers: list[ShownOutlier], clock: Clock) -> str:
    return "".join(
        f"<tr><td>{_time(o.ts, clock)}</td><td>{escape(o.cell)}</td>"
        f'<td class="num mono">{o.lat:.5f}, {o.lon:.5f}</td><td>{escape(o.reason)}</td></tr>'
        for o in outliers
    )


def _notes(notes: list[str], outliers: list[ShownOutlier], clock: Clock) -> str:
    parts = []
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        parts.append(f'<ul class="notes">{items}</ul>')
    else:
        parts.append('<p class="none">Every record given was used.</p>')
    if outliers:
        parts.append(
            "<h3>Dropped records <small>shown as × on the map</small></h3>"
            '<table class="outliers"><thead><tr><th>Time</th><th>Cell</th><th>Lat, lon</th>'
            "<th>Why dropped</th></tr></thead>"
            f"<tbody>{_outlier_rows(outliers, clock)}</tbody></table>"
        )
    return "".join(parts)


MAP_TOOLS = (
    '<div class="map-tools no-print">'
    '<button type="button" data-zoom="in" title="Zoom in">+</button>'
    '<button type="button" data-zoom="out" title="Zoom out">−</button>'
    '<button type="button" data-zoom="reset" title="Show the whole path">Fit</button></div>'
)


def _legend(has_outliers: bool) -> str:
    items = [
        '<span><i class="dot precise"></i>precise place (card, check-in, transit, GPS)</span>',
        '<span><i class="dot telecom"></i>telecom only (cell coverage)</span>',
        '<span><i class="line bus"></i>bus</span>',
        '<span><i class="line subway"></i>subway</span>',
        '<span><i class="line transit"></i>bus and subway</span>',
        '<span><i class="line unknown"></i>move, mode unknown</span>',
        '<span><i class="chevron">›</i>direction of the move</span>',
        '<span><i class="line district"></i>district boundary (시도, 시군구, 읍면동)</span>',
    ]
    if has_outliers:
        items.append('<span><i class="cross">×</i>dropped record</span>')
    return f'<p class="legend">{"".join(items)}</p>'


def render_report(
    trajectory: Trajectory,
    comparison: pa.Table | None,
    tz: str,
    now: dt.datetime | None = None,
    contacts: ContactSearch | None = None,
) -> str:
    """The report as one HTML page, all times in ``tz`` (an IANA zone, e.g. 'Asia/Seoul');
    ``contacts``, when searched, adds the contacts per stay."""
    clock = Clock(tz)
    now = clock.local(now or dt.datetime.now(dt.UTC))
    stays = shown_stays(trajectory)
    moves = shown_moves(trajectory)
    outliers = shown_outliers(trajectory)
    notes = ([clock.note] if clock.note else []) + list(trajectory.notes)
    zone = clock.zone_label(stays[0].start if stays else now)
    labels = {s.seq: s.label for s in stays}  # an unnamed stay reads as its district
    return Template(_asset("page.html")).substitute(
        title=escape(f"Movement report · {trajectory.person_ref}"),
        style=palette_css() + _asset("report.css"),
        script=_asset("report.js"),
        header=_header(trajectory, stays, comparison, clock, now),
        map=render_map(stays, moves, outliers, clock, trajectory.timeline.projection),
        map_tools=MAP_TOOLS if stays else "",
        legend=_legend(bool(outliers)) if stays else "",
        comparison=_comparison(comparison, labels, clock),
        timeline=render_timeline(stays, moves, clock),
        table=_stays_table(stays, comparison, clock),
        stay_count=f"{len(stays)} stay{'s' * (len(stays) != 1)}",
        contacts=render_contacts(contacts, labels, clock),
        notes=_notes(notes, outliers, clock),
        zone=escape(zone),
        generated=escape(f"{clock.stamp(now)} ({clock.offset(now)})"),
    )
