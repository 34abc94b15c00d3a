"""The report's "Contacts per stay" part: counts per searched stay and the top contacts."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from epitrace.report.clock import Clock

if TYPE_CHECKING:
    from epitrace.analysis.contacts import ContactSearch

TOP_PER_STAY = 5


def _top_rows(rows: list[dict], clock: Clock) -> str:
    return "".join(
        f"<tr><td>{escape(r['contact_ref'])}</td><td>{escape(r['via'])}</td>"
        f"<td>{escape(clock.span(r['start'], r['end']))}</td>"
        f'<td class="num">{r["overlap_min"]:.0f} min</td>'
        f'<td class="num">{r["score"]:.1f}</td></tr>'
        for r in rows
    )


def _stay_block(search: ContactSearch, seq: int, labels: dict[int, str], clock: Clock) -> str:
    stay = next(s for s in search.searched() if s.seq == seq)
    found = search.contacts.per_stay().get(seq)
    rows = found.to_pylist() if found is not None else []
    place = escape(stay.place_name or labels.get(seq, "unnamed place"))
    kind = f" · {escape(stay.kind)}" if stay.kind else ""
    head = (
        f'<h3><span class="seq">{seq}</span> {place}{kind} '
        f'<span class="count">{len(rows)}</span></h3>'
        f'<p class="hint">{escape(clock.span(stay.start, stay.end))}</p>'
    )
    if not rows:
        return f'<div class="contact-stay">{head}<p class="none">no contacts</p></div>'
    return (
        f'<div class="contact-stay">{head}<table class="contacts"><thead><tr><th>Contact</th>'
        "<th>Evidence</th><th>Together</th><th>Overlap</th><th>Score</th></tr></thead>"
        f"<tbody>{_top_rows(rows[:TOP_PER_STAY], clock)}</tbody></table>"
        + (
            f'<p class="hint">and {len(rows) - TOP_PER_STAY} more in contacts.csv</p>'
            if len(rows) > TOP_PER_STAY
            else ""
        )
        + "</div>"
    )


def _skipped(search: ContactSearch, clock: Clock) -> str:
    items = "".join(
        f"<li>stay {v.stay.seq} ({escape(clock.span(v.stay.start, v.stay.end))}): "
        f"{escape(v.reason)}</li>"
        for v in search.verdicts
        if not v.searched and v.reason != "outside the infectious window"
    )
    return f'<h3>Not searched</h3><ul class="notes">{items}</ul>' if items else ""


def render_contacts(search: ContactSearch | None, labels: dict[int, str], clock: Clock) -> str:
    """The section's body; a short note when contacts were not searched. ``labels``: per
    stay seq, what an unnamed stay reads as (its district)."""
    if search is None:
        return '<p class="empty">Contacts were not searched for this report.</p>'
    start, end = search.window
    total = search.contacts.table.num_rows
    summary = (
        f"<p>{total} contact row{'s' * (total != 1)} at {len(search.searched())} stays in the "
        f"infectious window {escape(clock.span(start, end))}; ranked by exposure score "
        "(contacts.csv holds them all).</p>"
    )
    refused = ""
    if search.refused:
        items = "".join(f"<li>{escape(r)}</li>" for r in search.refused)
        refused = f'<h3>Refused queries</h3><ul class="notes">{items}</ul>'
    notes = "".join(f"<li>{escape(n)}</li>" for n in search.notes)
    blocks = "".join(_stay_block(search, s.seq, labels, clock) for s in search.searched())
    return (
        summary
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + blocks
        + _skipped(search, clock)
        + refused
    )
