"""Parameters of the trajectory analysis, in real units, with the reasoning behind each.

``docs/trajectory.md`` explains them at more length; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TrajectoryParams:
    # --- outliers ---
    # Fastest credible ground speed between two records, after both cells'
    # coverage radii are subtracted from their distance. 150 km/h is above any
    # urban road or intercity bus; high-speed rail riders show as moves, not stays.
    max_speed_kmh: float = 150.0

    # --- stays from cell records ---
    # Two records belong to one stay when the second lies within this many
    # coverage radii of the stay's centre: neighbouring cells of a ping-pong
    # handset sit about 1.5 radii apart (see the simulator's spacing factor).
    roam_radii: float = 2.5
    # ...and never closer than this: below it, cells cannot tell places apart.
    roam_min_m: float = 250.0
    # One far record followed within this time by a record near the stay again
    # is a stray attachment (ping-pong to a distant cell), not a move.
    stray_window_min: float = 60.0
    # A cluster of records is a stay when its estimated duration (from midway
    # after the previous place's last record to midway before the next place's
    # first) is at least this long. Visits of 30 minutes or more are what
    # investigators act on; since the estimate reaches halfway into the travel
    # on each side, such a visit typically shows as 35-45 minutes, and a
    # cluster estimated under 40 minutes is more often a pause on the way.
    min_stay_min: float = 40.0
    # ...and rests on at least this many records: one lone attachment is no
    # evidence of staying anywhere.
    min_records: int = 2
    # A silence (no record) does not end a stay when the records on both sides
    # place the subject at the same spot: phones are quiet at night. Unlike
    # trackintel's GPS rule, a long gap alone never drops a stay. Beyond this,
    # the two sides are separate stays.
    max_silence_min: float = 12 * 60.0
    # The subject arrived before a stay's first record and left after its last:
    # a stay reaches midway into the gap on each side, but no further than this
    # (across a long silence the midpoint means nothing).
    edge_extension_min: float = 30.0

    # --- precise evidence (card payment, check-in, transit tap, GPS) ---
    # Merchant and venue geocodes are good to a few tens of metres.
    evidence_radius_m: float = 30.0
    # A payment or check-in marks one moment of a visit. The visit is bounded by
    # the subject's cell records: it reaches back and forward over the records
    # that agree with the place, to midway towards the first that do not.
    # Where the cells cannot tell (the place is next to home, say), or there
    # are no records, the visit is assumed to span these windows around the
    # events: a check-in is made on arrival; a payment at any point of a visit.
    checkin_before_min: float = 5.0
    checkin_after_min: float = 45.0
    payment_before_min: float = 25.0
    payment_after_min: float = 20.0
    # Beyond this, records agreeing with a place are taken to be the cells'
    # blindness (home next door), not a visit that long.
    max_evidence_visit_min: float = 180.0
    # Events at the same place this close in time are one visit (a check-in,
    # then the bill two hours later).
    evidence_merge_min: float = 180.0
    # A stay shorter than this that agrees with a piece of evidence is that
    # visit (it gets the place's location and name); a longer one (home, work)
    # keeps its own place and the visit is carved out of it.
    max_sharpened_stay_min: float = 180.0

    # --- GPS stay points (sliding window, as trackintel) ---
    gps_dist_threshold_m: float = 100.0
    gps_time_threshold_min: float = 5.0
    gps_gap_threshold_min: float = 15.0

    # --- interview comparison ---
    # An interview visit and a stay are the same visit when they overlap in
    # time and their places are within this distance (plus the stay's radius).
    interview_match_m: float = 300.0
    # Reported times are approximate: allow this much slack on each side.
    interview_time_slack_min: float = 60.0

    def replace(self, **changes: float) -> TrajectoryParams:
        return replace(self, **changes)
