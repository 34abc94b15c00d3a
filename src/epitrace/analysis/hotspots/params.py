"""Settings of the space-time scans, in real units, with the reasoning behind each.

A ``ScanParams`` is what SaTScan keeps in its parameter file: the limits of
the cylinders (circle × window of days), the adjustment of the null
hypothesis, the Monte Carlo test and how many clusters to report. Every scan
takes one (``scan_hotspots``/``find_hotspots``, ``case_events.scan_events``,
``population.scan_population``, ``persons.scan_relabelled``), and so do the
workflows and ``epitrace hotspots``. It is checked once, when made.

Not here: what comes with the data (time zone, projection, study period,
the columns naming a case) and what only one scan has (the permutation
scan's ``centres``, the population scans' ``area_m`` and ``min_radius_m``,
``scan_relabelled``'s ``slot_hours``); those stay keywords of their scan.

Measured consequences of these choices (power, size, time) are in
``docs/accuracy.md`` and ``docs/benchmarks.md``. This module imports nothing
heavy: making one does not load Numba.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ScanParams:
    # --- the cylinders ---
    # Largest circle radius, metres. Korean outbreaks of 2020 grew around venues
    # (a church, a call centre, clubs); a kilometre around one is a neighbourhood
    # (a dong is 1-2 km across) that investigators can canvass. Time grows with
    # the locations per circle (docs/benchmarks.md, "Space-time scan statistic").
    # SaTScan's NYC sample, with ZIP centroids 2-3 km apart, uses 3 km. None
    # lifts it (then memory and time grow with centres × locations).
    max_radius_m: float | None = 1000.0
    # Longest window, days. One exposure event's cases are mostly diagnosed
    # within a week (COVID-19's median incubation is about 5 days), a week is the
    # cycle of reporting, and longer windows mostly pick up slow drifts; it is
    # also SaTScan's NYC outbreak-detection sample's choice. Time grows with it
    # (docs/benchmarks.md).
    max_days: int = 7
    # Permutation scan: a circle holds at most this share of all cases (of all
    # rows when rows are the places of cases), SaTScan's default and upper
    # limit ("max spatial size, % of cases" for this model).
    max_share_of_cases: float = 0.5
    # Population scans: a circle holds at most this share of all person-days
    # present, SaTScan's default share of the population at risk.
    max_share_of_population: float = 0.5
    # SaTScan's minimum cases in a high-rate cluster: one case is never an outbreak.
    min_cases: int = 2
    # Retrospective (False) scans windows ending on any day of the study period;
    # prospective (SaTScan's "prospective space-time") only windows ending on its
    # last day, i.e. clusters still going on. Permutation scan only.
    prospective: bool = False

    # --- the null hypothesis ---
    # Permutation scan: adjust for space by day-of-week interaction (SaTScan's
    # option; off by default, as there). Places keep weekly schedules (a church
    # gathers on Sundays, clubs on weekend nights), which the plain model reads
    # as space-time interaction. Adjusted, a location's expected cases on a day
    # follow its own share of the cases of that weekday
    # (μ_zd = n_z,w(d) · n_d / n_w(d)) and the replications permute dates only
    # among cases of the same weekday. It costs power over short periods (each
    # weekday has few days to compare): docs/accuracy.md.
    adjust_weekday: bool = False

    # --- the Monte Carlo test ---
    # p = (1 + replications whose maximum LLR ≥ the cluster's) / (replications + 1),
    # so 999 resolves p down to 0.001 (SaTScan's default).
    replications: int = 999
    # Seed of the replications: the same seed gives the same p-values.
    seed: int = 0

    # --- the report ---
    # Most clusters reported, most likely first.
    max_clusters: int = 10

    def __post_init__(self) -> None:
        """``ValueError`` naming the first setting out of range."""
        if self.max_radius_m is not None and not self.max_radius_m > 0:
            raise ValueError(f"max_radius_m must be positive (or None), got {self.max_radius_m}")
        for name in ("max_share_of_cases", "max_share_of_population"):
            share = getattr(self, name)
            if not 0 < share <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {share}")
        if self.max_days < 1:
            raise ValueError(f"max_days must be at least 1, got {self.max_days}")
        if self.min_cases < 1:
            raise ValueError(f"min_cases must be at least 1, got {self.min_cases}")
        if self.replications < 0:
            raise ValueError(f"replications must be 0 or more, got {self.replications}")
        if self.max_clusters < 1:
            raise ValueError(f"max_clusters must be at least 1, got {self.max_clusters}")

    def replace(self, **changes: object) -> ScanParams:
        return replace(self, **changes)

    def require_retrospective_unadjusted(self, scan: str) -> None:
        """``ValueError`` if these ask ``scan`` (a population scan, which has
        neither) for a prospective or weekday-adjusted scan."""
        if self.prospective or self.adjust_weekday:
            raise ValueError(
                f"{scan} scans retrospectively without weekday adjustment: "
                "give it neither prospective nor adjust_weekday"
            )
