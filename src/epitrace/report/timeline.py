"""The timeline: one row per calendar day in the report's zone, stays as bars
coloured like the map, moves as thin segments between them, hours marked."""

from __future__ import annotations

import datetime as dt
from html import escape

from epitrace.report.clock import Clock
from epitrace.report.model import ShownMove, ShownStay

HOUR_LABELS = range(0, 25, 3)


def _days(stays: list[ShownStay], clock: Clock) -> list[dt.date]:
    first = clock.local(stays[0].start).date()
    last = clock.local(max(s.end for s in stays) - dt.timedelta(microseconds=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _day_bounds(day: dt.date, clock: Clock) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight to the next, as instants (23 or 25 hours long on DST days)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=clock.zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=clock.zone)
    return start, end


def _placed(start: dt.datetime, end: dt.datetime, day: tuple[dt.datetime, dt.datetime]) -> str:
    """Inline left/width in % of the day, or '' when the interval misses the day."""
    lo, hi = max(start, day[0]), min(end, day[1])
    if hi <= lo:
        return ""
    length = (day[1] - day[0]).total_seconds()
    left = (lo - day[0]).total_seconds() / length * 100
    width = (hi - lo).total_seconds() / length * 100
    return f"left:{left:.3f}%;width:{width:.3f}%"


def _row(day: dt.date, stays: list[ShownStay], moves: list[ShownMove], clock: Clock) -> str:
    bounds = _day_bounds(day, clock)
    items = []
    for m in moves:
        if style := _placed(m.start, m.end, bounds):
            tip = escape(m.tip(clock))
            items.append(f'<div class="hop {m.mode_class}" style="{style}" data-tip="{tip}"></div>')
    for s in stays:
        if style := _placed(s.start, s.end, bounds):
            name = f" <small>{escape(s.place)}</small>" if s.place else ""
            items.append(
                f'<div class="bar {s.evidence}" style="{style}" data-seq="{s.seq}"'
                f' data-tip="{escape(s.tip(clock))}"><span>{s.seq}{name}</span></div>'
            )
    label = clock.local(bounds[0]).strftime("%a %-d %b")
    return (
        f'<div class="tl-row"><div class="tl-day">{label}</div>'
        f'<div class="tl-track">{"".join(items)}</div></div>'
    )


def render_timeline(stays: list[ShownStay], moves: list[ShownMove], clock: Clock) -> str:
    if not stays:
        return '<p class="empty">No stays to show on a timeline.</p>'
    hours = "".join(f'<span style="left:{h / 24 * 100:.3f}%">{h:02d}</span>' for h in HOUR_LABELS)
    rows = "".join(_row(day, stays, moves, clock) for day in _days(stays, clock))
    return (
        f'<div class="tl"><div class="tl-row tl-head"><div class="tl-day"></div>'
        f'<div class="tl-hours">{hours}</div></div>{rows}</div>'
    )
