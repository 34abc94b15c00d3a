"""Instants as an investigator reads them: in the case's time zone, to the minute."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MICROS = 1_000_000


def from_micros(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / MICROS, dt.UTC)


class Clock:
    """Formats instants in one zone; an unknown zone name falls back to UTC, with a note."""

    def __init__(self, tz: str) -> None:
        self.note = ""
        try:
            self.zone: dt.tzinfo = ZoneInfo(tz)
            self.name = tz
        except (ZoneInfoNotFoundError, ValueError):
            self.zone, self.name = dt.UTC, "UTC"
            self.note = f"unknown time zone {tz!r}: times are shown in UTC"

    def local(self, ts: dt.datetime) -> dt.datetime:
        return ts.astimezone(self.zone)

    def offset(self, ts: dt.datetime) -> str:
        """'+09:00' — the UTC offset in force at that instant."""
        return self.local(ts).isoformat()[-6:] if self.zone is not dt.UTC else "+00:00"

    def zone_label(self, ts: dt.datetime) -> str:
        return f"{self.name} (UTC{self.offset(ts)})"

    def iso(self, ts: dt.datetime) -> str:
        return self.local(ts).isoformat(timespec="minutes")

    def day(self, ts: dt.datetime) -> str:
        return self.local(ts).strftime("%a %-d %b %Y")

    def hm(self, ts: dt.datetime) -> str:
        return self.local(ts).strftime("%H:%M")

    def stamp(self, ts: dt.datetime) -> str:
        """'Mon 2 Mar 2020 08:10': for the header, where the year matters."""
        return self.local(ts).strftime("%a %-d %b %Y %H:%M")

    def when(self, ts: dt.datetime) -> str:
        """'Mon 2 Mar 08:10': day and clock time, the form used in tables."""
        return self.local(ts).strftime("%a %-d %b %H:%M")

    def span(self, start: dt.datetime, end: dt.datetime) -> str:
        """'Mon 2 Mar 08:10–09:40', naming the end's day only when it differs."""
        same_day = self.local(start).date() == self.local(end).date()
        return f"{self.when(start)}–{self.hm(end) if same_day else self.when(end)}"


def duration(start: dt.datetime, end: dt.datetime) -> str:
    """'1 h 50 min', '45 min', '2 d 3 h' — rounded to the minute."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins:02d} min" if mins else f"{hours} h"
    return f"{mins} min"
