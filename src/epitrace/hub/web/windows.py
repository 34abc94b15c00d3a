"""A window of time [start, end) as people read it: one rule for the pages (the ``window``
template tag) and the printable report."""

from __future__ import annotations

import datetime as dt


def window_text(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> str:
    """``[start, end)`` in ``zone``. Whole days (from and to local midnight, as a request's
    window is kept) read as their first and last day, the last one included:
    [02-15 00:00, 02-22 00:00) is "2020-02-15 – 2020-02-21". Any other window reads to
    the minute: "2020-02-15 09:30 – 2020-02-21 18:00"."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.time() == last.time() == dt.time() and last > first:
        final_day = (last - dt.timedelta(days=1)).date()
        return f"{first.date().isoformat()} – {final_day.isoformat()}"
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}"
