"""Local days of the simulation as instants (epoch seconds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from epitrace.simulate.config import SimulationConfig

HOUR = 3600.0
DAY = 86400.0
MINUTE = 60.0


@dataclass(frozen=True)
class Clock:
    """Midnights of the simulated days in the city's time zone."""

    midnights: tuple[float, ...]  # epoch seconds of local midnight, days + 1 values
    dates: tuple[dt.date, ...]

    @classmethod
    def of(cls, config: SimulationConfig) -> Clock:
        zone = ZoneInfo(config.timezone)
        dates = tuple(config.start + dt.timedelta(days=d) for d in range(config.days + 1))
        midnights = tuple(
            dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp() for day in dates
        )
        return cls(midnights, dates)

    def midnight(self, day: int) -> float:
        return self.midnights[day]

    @property
    def start(self) -> float:
        return self.midnights[0]

    @property
    def end(self) -> float:
        return self.midnights[-1]

    def weekday(self, day: int) -> int:
        """0 = Monday ... 6 = Sunday."""
        return self.dates[day].weekday()
