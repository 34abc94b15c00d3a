"""Every parameter of the simulated city, with its default, in one place.

``docs/simulation.md`` gives the reasoning behind each value; keep the two in
step. Units are in the names: ``_m`` metres, ``_min`` minutes, ``_h`` hours,
``_days`` days, ``_per_1000`` per 1,000 residents, ``_share``/``_probability``
fractions in [0, 1].
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from epitrace.defaults import DEFAULT_TZ, PROJECTED_CRS

# Korea's card issuers (credit and check cards) around 2020: 22 of them.
CARD_ISSUERS: tuple[str, ...] = (
    "Shinhan",
    "KB Kookmin",
    "Samsung",
    "Hyundai",
    "Lotte",
    "BC",
    "Woori",
    "Hana",
    "NH Nonghyup",
    "IBK",
    "Citi",
    "SC First",
    "DGB Daegu",
    "BNK Busan",
    "BNK Kyongnam",
    "Gwangju",
    "Jeonbuk",
    "Jeju",
    "Suhyup",
    "KDB",
    "Kakao Bank",
    "K Bank",
)

OutbreakKind = Literal["clustered", "null", "planted"]
EventKind = Literal["church", "club"]


@dataclass(frozen=True)
class SimulationConfig:
    """A simulated city with an outbreak. ``replace(**changes)`` gives a modified copy."""

    # --- run ---
    residents: int = 10_000
    days: int = 14
    seed: int = 1
    start: dt.date = dt.date(2020, 2, 10)  # a Monday, the week before Daegu's outbreak

    # --- geography (Daegu) ---
    city_name: str = "Daegu"
    centre_lat: float = 35.8714
    centre_lon: float = 128.6014
    timezone: str = DEFAULT_TZ  # serialised as config.timezone in the manifest
    projected_crs: str = PROJECTED_CRS  # Korea 2000 / Unified CS, metres
    city_radius_m: float = 18_000.0
    home_scale_m: float = 3_000.0  # homes: density ~ exp(-distance / scale)
    rural_home_share: float = 0.08  # homes spread evenly over the whole area instead
    commerce_scale_m: float = 2_500.0  # restaurants, cafes, shops, bars, workplaces
    nightlife_scale_m: float = 1_200.0  # clubs cluster downtown

    # --- households and people ---
    household_size_weights: tuple[float, ...] = (0.30, 0.28, 0.21, 0.16, 0.05)  # 1..5 people
    student_share: float = 0.13  # school age 7-18
    worker_share: float = 0.55  # of residents; the rest are retired, at home, ...
    phone_share: float = 0.95
    transit_user_share: float = 0.35
    transit_min_distance_m: float = 1_200.0
    gps_share: float = 0.015
    church_member_share: float = 0.15
    church_size_exponent: float = 1.1  # Zipf: a few very large congregations
    gym_member_share: float = 0.10
    club_goer_share: float = 0.05
    bar_goer_share: float = 0.25

    # --- places per 1,000 residents (at least one of each kind) ---
    workplaces_per_1000: float = 25.0
    schools_per_1000: float = 0.35
    restaurants_per_1000: float = 12.0
    cafes_per_1000: float = 3.0
    shops_per_1000: float = 5.0
    bars_per_1000: float = 1.5
    clubs_per_1000: float = 0.1
    churches_per_1000: float = 1.2
    gyms_per_1000: float = 0.5
    hospitals_per_1000: float = 0.3
    bus_stops_per_1000: float = 3.0
    subway_station_spacing_m: float = 1_100.0
    subway_line_length_m: float = 12_000.0  # each of the 3 lines, end to end is twice this

    # --- routines ---
    lunch_out_probability: float = 0.6
    explore_probability: float = 0.15  # visit a place anywhere instead of a favourite
    weekday_errand_probability: float = 0.25
    weekday_dinner_probability: float = 0.15
    weekday_bar_probability: float = 0.06
    friday_bar_probability: float = 0.15
    gym_visit_probability: float = 0.45
    church_attendance_probability: float = 0.85
    club_night_probability: float = 0.45  # a club-goer on a Friday or Saturday night
    saturday_work_probability: float = 0.15
    weekend_outing_probability: float = 0.55
    absent_from_work_probability: float = 0.04
    morning_errand_probability: float = 0.35  # residents without work or school, weekdays
    home_lunch_probability: float = 0.15  # they eat out near home at noon
    weekend_evening_outing_probability: float = 0.33
    weekend_gym_probability: float = 0.22

    # --- travel ---
    walk_speed_mps: float = 1.2
    car_speed_mps: float = 8.0  # city traffic, ~29 km/h
    bus_speed_mps: float = 5.5  # including stops
    subway_speed_mps: float = 9.0
    detour_factor: float = 1.3  # street distance / straight-line distance
    walk_max_m: float = 1_000.0  # shorter trips are walked
    home_break_min: float = 60.0  # a wait longer than this before the next activity is spent home

    # --- mobile carriers ---
    carrier_shares: tuple[tuple[str, float], ...] = (("SKT", 0.46), ("KT", 0.31), ("LGU", 0.23))
    cell_radius_centre_m: float = 150.0
    cell_radius_growth_m: float = 4_500.0  # radius grows e-fold per this distance from centre
    cell_radius_max_m: float = 10_000.0
    cell_spacing_factor: float = 1.5  # antenna spacing / coverage radius
    cell_location_noise: float = 0.5  # handset position noise, in local cell radii
    ping_pong_probability: float = 0.2  # attach to the second-nearest cell instead
    # Expected records per hour of the local day (00-01, 01-02, ...) for a median user.
    records_per_hour: tuple[float, ...] = (
        0.5,
        0.4,
        0.3,
        0.3,
        0.3,
        0.5,
        1.5,
        3.5,
        5.0,
        5.0,
        5.0,
        5.0,
        5.5,
        5.0,
        5.0,
        5.0,
        5.0,
        5.0,
        5.5,
        5.5,
        5.5,
        5.0,
        4.0,
        1.5,
    )
    user_activity_sigma: float = 0.5  # log-normal spread of how much people use their phones
    silence_probability: float = 0.05  # a person-day with a long silence (phone off, no signal)
    silence_hours: tuple[float, float] = (2.0, 8.0)
    event_shares: tuple[tuple[str, float], ...] = (
        ("data", 0.55),
        ("update", 0.30),
        ("call", 0.10),
        ("sms", 0.05),
    )

    # --- cards ---
    cards_per_adult_weights: tuple[float, ...] = (0.08, 0.27, 0.33, 0.22, 0.10)  # 0..4 cards
    student_card_share: float = 0.3  # a check card
    card_payment_probability: float = 0.75  # a visit to a card-taking place is paid by card
    online_transactions_per_holder_day: float = 0.35
    online_merchants: int = 40

    # --- entry logs (QR check-ins), share of visits that check in, by venue kind ---
    entry_log_compliance: tuple[tuple[str, float], ...] = (
        ("club", 0.9),
        ("bar", 0.8),
        ("gym", 0.85),
        ("church", 0.7),
        ("restaurant", 0.5),
        ("cafe", 0.4),
    )

    # --- GPS (phone location history) ---
    gps_moving_interval_s: tuple[float, float] = (5.0, 20.0)
    gps_still_interval_s: tuple[float, float] = (60.0, 180.0)
    gps_app_off_share: float = 0.25  # share of the day the app is not recording
    gps_accuracy_median_m: float = 12.0
    gps_accuracy_missing_share: float = 0.05

    # --- outbreak ---
    # "null": infections uniform over residents and time; "planted": that null background
    # (null_attack_rate) plus the planted event, its only transmission.
    outbreak: OutbreakKind = "clustered"
    imported_seeds_per_1000: float = 1.0
    min_imported_seeds: int = 5
    # Infection hazard per hour of co-presence with an infectious visitor of mean infectiousness.
    risk_per_hour: tuple[tuple[str, float], ...] = (
        ("church", 0.006),
        ("club", 0.004),
        ("bar", 0.006),
        ("gym", 0.006),
        ("restaurant", 0.008),
        ("cafe", 0.005),
        ("hospital", 0.004),
        ("school", 0.002),
        ("work", 0.003),
        ("shop", 0.002),
    )
    # Visitors of a place on a day are split into rooms of about this many people (a class,
    # a team, a dining room, a section of a hall); only people in the same room meet.
    # The planted superspreader alone reaches everyone at the place.
    room_size: tuple[tuple[str, int], ...] = (
        ("church", 100),
        ("club", 100),
        ("bar", 40),
        ("gym", 30),
        ("restaurant", 40),
        ("cafe", 30),
        ("hospital", 10),
        ("school", 25),
        ("work", 15),
        ("shop", 30),
    )
    household_daily_risk: float = 0.08
    infectiousness_dispersion: float = 0.4  # gamma shape k: most infect few, a few infect many
    incubation_median_days: float = 5.1
    incubation_sigma: float = 0.45  # log-normal
    presymptomatic_days: float = 2.0
    asymptomatic_share: float = 0.3
    asymptomatic_infectiousness: float = 0.6
    asymptomatic_detection_probability: float = 0.6
    onset_to_confirmation_mean_days: float = 3.0
    null_attack_rate: float = 0.01
    # The planted superspreading event: an infectious person of high infectiousness
    # at a service of the largest church (Sunday) or at the busiest club (Fri/Sat night).
    superspreading: EventKind | None = "church"
    superspreader_infectiousness: float = 25.0
    # The event is on the first Sunday (club: Friday or Saturday night) from this day of the
    # period on (the last one if none is that late); later days plant it into an epidemic
    # already under way.
    superspreading_from_day: int = 1

    # --- interviews ---
    forget_probability: float = 0.2  # plus more for short visits
    time_recall_sigma_min: float = 20.0
    time_rounding_min: int = 15
    false_place_probability: float = 0.08  # per case-day: a place named but not visited
    address_only_share: float = 0.12  # no lat/lon, only the address
    no_address_share: float = 0.08  # lat/lon but no address
    interview_days_before_onset: int = 2

    def __post_init__(self) -> None:
        if self.residents < 1:
            raise ValueError("residents must be at least 1")
        if not 1 <= self.days <= 366:
            raise ValueError("days must be between 1 and 366")
        if self.outbreak not in ("clustered", "null", "planted"):
            raise ValueError("outbreak must be 'clustered', 'null' or 'planted'")
        if self.superspreading not in (None, "church", "club"):
            raise ValueError("superspreading must be None, 'church' or 'club'")
        if self.superspreading_from_day < 0:
            raise ValueError("superspreading_from_day must be 0 or more")
        if len(self.records_per_hour) != 24:
            raise ValueError("records_per_hour needs 24 values")
        for name in (f.name for f in dataclasses.fields(self)):
            if name.endswith(("_share", "_probability")):
                value = getattr(self, name)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be in [0, 1], got {value}")

    def replace(self, **changes: Any) -> SimulationConfig:
        """A copy with some parameters changed (the config itself is immutable)."""
        return dataclasses.replace(self, **changes)

    @property
    def end(self) -> dt.date:
        """The day after the last simulated day."""
        return self.start + dt.timedelta(days=self.days)

    @property
    def imported_seeds(self) -> int:
        return max(
            self.min_imported_seeds, round(self.residents * self.imported_seeds_per_1000 / 1000)
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (for the dataset manifest)."""
        out = dataclasses.asdict(self)
        out["start"] = self.start.isoformat()
        return out
