"""The pure contact logic on hand-made stays and sightings."""

from __future__ import annotations

import datetime as dt

import pytest

from epitrace.analysis.contacts import (
    ContactParams,
    Sighting,
    StayToSearch,
    card_sighting,
    cell_strength,
    checkin_sighting,
    combined_evidence,
    infectious_window,
    merge_contacts,
    searched_stays,
    telecom_sighting,
    union_minutes,
)
from epitrace.formats.schemas import table

KST = dt.timezone(dt.timedelta(hours=9))
PARAMS = ContactParams()


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2020, 2, day, hour, minute, tzinfo=KST)


def stay(seq: int, start: dt.datetime, end: dt.datetime, **kw: object) -> StayToSearch:
    fields: dict = {"lat": 35.87, "lon": 128.60, "radius_m": 150.0, **kw}
    return StayToSearch(seq=seq, start=start, end=end, **fields)


RESTAURANT = stay(
    2,
    at(10, 12),
    at(10, 13),
    lat=35.88,
    lon=128.61,
    radius_m=30.0,
    place_name="Gukbap",
    place="merchant:M1",
    kind="restaurant",
)


def test_infectious_window_from_onset_or_confirmation() -> None:
    start, end = infectious_window(dt.date(2020, 2, 20), dt.date(2020, 2, 17), "Asia/Seoul")
    assert start == dt.datetime(2020, 2, 15, tzinfo=KST)
    assert end == dt.datetime(2020, 2, 21, tzinfo=KST)  # through the confirmation day
    start, _ = infectious_window(dt.date(2020, 2, 20), None, "Asia/Seoul")
    assert start == dt.datetime(2020, 2, 18, tzinfo=KST)


def test_union_minutes_counts_overlaps_once() -> None:
    assert union_minutes([(at(10, 12), at(10, 13)), (at(10, 12, 30), at(10, 13, 30))]) == 90
    assert union_minutes([(at(10, 12), at(10, 12, 10)), (at(10, 13), at(10, 13, 5))]) == 15
    assert union_minutes([]) == 0


def test_card_and_cell_of_one_person_merge_into_one_contact() -> None:
    sightings = [
        card_sighting(2, "P7", at(10, 12, 40), True, PARAMS),  # 12:10-13:10
        telecom_sighting(2, "P7", at(10, 12, 20), at(10, 12, 50), 150.0),
    ]
    ranked = merge_contacts("P1", [RESTAURANT], sightings, {"P1"}, PARAMS)
    rows = ranked.table.to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert row["contact_ref"] == "P7" and row["via"] == "card+telecom"
    # The overlap is the stay clipped: 12:10 to 13:00 (the stay ends at 13:00).
    assert row["start"] == at(10, 12, 10) and row["end"] == at(10, 13)
    assert row["overlap_min"] == 50
    assert row["place_name"] == "Gukbap" and ranked.stay_seq == [2]
    assert ranked.table.schema == table("contacts").arrow_schema


def test_ranking_same_venue_beats_shared_cell_and_longer_beats_shorter() -> None:
    sightings = [
        telecom_sighting(2, "cell-long", at(10, 12), at(10, 13), 150.0),
        checkin_sighting(2, "checkin", at(10, 12, 5), at(10, 12, 5), True, PARAMS),
        telecom_sighting(2, "cell-short", at(10, 12), at(10, 12, 20), 150.0),
        telecom_sighting(2, "big-cell", at(10, 12), at(10, 13), 2000.0),
    ]
    ranked = merge_contacts("P1", [RESTAURANT], sightings, set(), PARAMS)
    order = ranked.table.column("contact_ref").to_pylist()
    assert order == ["checkin", "cell-long", "cell-short", "big-cell"]
    scores = ranked.table.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True)


def test_short_overlap_and_the_subject_are_dropped() -> None:
    sightings = [
        telecom_sighting(2, "P1", at(10, 12), at(10, 13), 100.0),  # the subject
        telecom_sighting(2, "SKT:010-1", at(10, 12), at(10, 13), 100.0),  # the subject's line
        telecom_sighting(2, "P9", at(10, 12, 55), at(10, 13, 30), 100.0),  # 5 min together
        telecom_sighting(2, "P8", at(10, 11), at(10, 12, 20), 100.0),  # 20 min together
    ]
    strict = ContactParams(min_overlap_min=15.0)
    ranked = merge_contacts("P1", [RESTAURANT], sightings, {"P1", "SKT:010-1"}, strict)
    assert ranked.table.column("contact_ref").to_pylist() == ["P8"]
    assert ranked.table.column("overlap_min").to_pylist() == [20.0]


def test_evidence_combines_sources_and_small_cells_weigh_more() -> None:
    assert cell_strength(100) > cell_strength(1000)
    one = Sighting(1, "telecom", "x", at(10, 12), at(10, 13), 0.5)
    two = Sighting(1, "card", "x", at(10, 12), at(10, 13), 0.5)
    assert combined_evidence([one]) == pytest.approx(0.5)
    assert combined_evidence([one, one]) == pytest.approx(0.5)  # same source: strongest counts
    assert combined_evidence([one, two]) == pytest.approx(0.75)


def test_same_person_at_two_stays_gives_two_rows() -> None:
    cafe = stay(3, at(10, 15), at(10, 16), place="venue:V1", place_name="Cafe", kind="cafe")
    sightings = [
        telecom_sighting(2, "P7", at(10, 12), at(10, 13), 100.0),
        checkin_sighting(3, "P7", at(10, 15), at(10, 15), True, PARAMS),
    ]
    ranked = merge_contacts("P1", [RESTAURANT, cafe], sightings, set(), PARAMS)
    assert sorted(ranked.stay_seq) == [2, 3]
    assert set(ranked.per_stay()) == {2, 3}


def test_home_and_long_stays_are_not_searched() -> None:
    home = dict(lat=35.80, lon=128.50, radius_m=300.0)
    stays = [
        stay(1, at(9, 20), at(10, 8), **home),  # the night at home
        RESTAURANT,
        stay(3, at(10, 14), at(10, 16), **home),  # home again in the afternoon
        stay(4, at(10, 17), at(10, 23, 30), lat=35.90, lon=128.70),  # 6.5 h: work-like
        stay(5, at(10, 23, 40), at(11, 1, 0), lat=35.95, lon=128.65),  # a short stop
        stay(6, at(12, 12), at(12, 13), lat=35.88, lon=128.61),  # after the window
    ]
    window = (at(9, 0), at(12, 0))
    no_long = ContactParams(max_public_stay_h=5.0)
    verdicts = {v.stay.seq: v for v in searched_stays(stays, window, "Asia/Seoul", no_long)}
    assert [s for s, v in verdicts.items() if v.searched] == [2, 5]
    assert verdicts[1].reason.startswith("home") and verdicts[3].reason.startswith("home")
    assert "workplace" in verdicts[4].reason
    assert "window" in verdicts[6].reason
    # By default long daytime stays (a school day) are searched; nights never are.
    default = searched_stays(stays, window, "Asia/Seoul", PARAMS)
    assert [v.stay.seq for v in default if v.searched] == [2, 4, 5]


def test_no_sightings_give_an_empty_contract_table() -> None:
    ranked = merge_contacts("P1", [RESTAURANT], [], set(), PARAMS)
    assert ranked.table.num_rows == 0
    assert ranked.table.schema == table("contacts").arrow_schema


# Tiers: what the investigator acts on first (close, possible, broad).


def tiers_of(sightings: list[Sighting]) -> dict[str, str]:
    rows = merge_contacts("P1", [RESTAURANT], sightings, set(), PARAMS).table.to_pylist()
    return {row["contact_ref"]: row["tier"] for row in rows}


def test_same_venue_for_fifteen_minutes_is_close_and_briefer_is_possible() -> None:
    tiers = tiers_of(
        [
            card_sighting(2, "paid", at(10, 12, 30), True, PARAMS),  # 30 min within the stay
            checkin_sighting(2, "brief", at(10, 11), at(10, 11), True, PARAMS),  # to 12:00
            checkin_sighting(2, "late", at(10, 12, 50), at(10, 12, 50), True, PARAMS),  # 10 min
        ]
    )
    assert tiers["paid"] == "close"
    assert tiers["late"] == "possible"
    assert "brief" not in tiers  # never together within the stay


def test_a_small_cell_is_possible_and_a_large_cell_or_a_brief_one_broad() -> None:
    tiers = tiers_of(
        [
            telecom_sighting(2, "small", at(10, 12), at(10, 12, 40), 150.0),
            telecom_sighting(2, "large", at(10, 12), at(10, 13), 2_000.0),
            telecom_sighting(2, "short", at(10, 12), at(10, 12, 10), 150.0),
        ]
    )
    assert tiers == {"small": "possible", "large": "broad", "short": "broad"}


def test_another_venue_nearby_is_possible_never_close() -> None:
    tiers = tiers_of([card_sighting(2, "next-door", at(10, 12, 30), False, PARAMS)])
    assert tiers == {"next-door": "possible"}


def test_a_cell_does_not_lend_its_minutes_to_a_brief_venue_sighting() -> None:
    # Ten minutes at the venue plus an hour in a large cell is not 15 minutes at the venue.
    tiers = tiers_of(
        [
            checkin_sighting(2, "both", at(10, 12, 50), at(10, 12, 50), True, PARAMS),
            telecom_sighting(2, "both", at(10, 12), at(10, 13), 2_000.0),
        ]
    )
    assert tiers == {"both": "possible"}


def test_every_contact_row_has_a_tier_of_the_contract() -> None:
    ranked = merge_contacts(
        "P1", [RESTAURANT], [telecom_sighting(2, "x", at(10, 12), at(10, 13), 150.0)], set()
    )
    tier = table("contacts").column("tier")
    assert ranked.table.column("tier").to_pylist() == ["possible"]
    assert tier.choices == ("close", "possible", "broad")
