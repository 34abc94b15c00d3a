"""The disclosure guideline's rules, one by one, on hand-made stays (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from epitrace.hub.disclosure import rules
from epitrace.hub.disclosure.rules import Entry, StayPlace

KST = dt.timezone(dt.timedelta(hours=9))
HOME = (35.8700, 128.6000)
CAFE = (35.8800, 128.6100)
OFFICE = (35.9000, 128.6200)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2020, 3, day, hour, minute, tzinfo=KST)


def place(seq: int, start: dt.datetime, end: dt.datetime, kind: str, **more) -> StayPlace:
    return StayPlace(seq=seq, start=start, end=end, kind=kind, **more)  # type: ignore[arg-type]


# Onset 5 March: the window runs from 3 March 00:00 to the end of 8 March (isolation).
WINDOW = rules.disclosure_window(dt.date(2020, 3, 5), dt.date(2020, 3, 6), dt.date(2020, 3, 8),
                                 "Asia/Seoul")  # fmt: skip


def test_window_from_two_days_before_onset_to_the_end_of_isolation_day() -> None:
    start, end = WINDOW
    assert (start, end) == (at(3, 0), at(9, 0))
    without_symptoms = rules.disclosure_window(
        None, dt.date(2020, 3, 6), dt.date(2020, 3, 8), "Asia/Seoul"
    )
    assert without_symptoms[0] == at(4, 0)  # two days before the specimen date


def test_only_the_window_is_disclosed_and_visits_are_clipped_to_it() -> None:
    places = [
        place(1, at(2, 12), at(2, 13), "public", name="Early Cafe"),
        place(2, at(2, 23), at(3, 1), "public", name="Night Bar"),
        place(3, at(8, 22), at(9, 2), "public", name="Late Bar"),
        place(4, at(9, 10), at(9, 11), "public", name="After Isolation Cafe"),
    ]
    result = rules.candidate_entries(places, WINDOW)
    assert {e.label: (e.start, e.end) for e in result.entries} == {
        "Night Bar": (at(3, 0), at(3, 1)),
        "Late Bar": (at(8, 22), at(9, 0)),
    }
    assert [(x.seq, x.rule.split(" (")[0]) for x in result.exclusions] == [
        (1, "before the window"),
        (4, "after isolation"),
    ]


def test_the_home_is_never_disclosed() -> None:
    result = rules.candidate_entries(
        [place(1, at(4, 0), at(4, 8), "home", unidentified_exposure=True)], WINDOW
    )
    assert result.entries == []
    assert result.exclusions[0].rule.startswith("home")


@pytest.mark.parametrize("kind", ["workplace", "private"])
def test_workplace_and_private_places_only_where_unidentified_people_were_exposed(
    kind: str,
) -> None:
    closed = rules.candidate_entries([place(1, at(4, 9), at(4, 18), kind)], WINDOW)
    assert closed.entries == [] and closed.exclusions[0].rule.startswith(kind)
    opened = rules.candidate_entries(
        [
            place(
                1,
                at(4, 9),
                at(4, 18),
                kind,
                lat=OFFICE[0],
                lon=OFFICE[1],
                neighbourhood="Samdeok-dong",
                unidentified_exposure=True,
            )
        ],
        WINDOW,
    )
    (entry,) = opened.entries
    # Rule 4: the neighbourhood only, no name, no coordinates.
    assert (entry.label, entry.neighbourhood, entry.lat, entry.lon) == ("", "Samdeok-dong", None,
                                                                        None)  # fmt: skip


def test_public_places_keep_their_name_and_rounded_position() -> None:
    (entry,) = rules.candidate_entries(
        [place(1, at(4, 12, 3), at(4, 12, 51), "public", name="Cafe", lat=35.880123, lon=128.61)],
        WINDOW,
    ).entries
    assert (entry.label, entry.lat, entry.lon) == ("Cafe", 35.8801, 128.61)
    # Windows widen outward to 10 minutes: they are estimates, and no finer than needed.
    assert (entry.start, entry.end) == (at(4, 12, 0), at(4, 13, 0))


def test_rides_on_public_transport_are_entries_without_any_place() -> None:
    path = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [128.6, 35.87]},
             "properties": {}},
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
             "properties": {"start": at(4, 8).isoformat(), "end": at(4, 8, 25).isoformat(),
                            "mode": "subway"}},
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
             "properties": {"start": at(4, 9).isoformat(), "end": at(4, 9, 5).isoformat()}},
        ],
    }  # fmt: skip
    rides = rules.transport_rides(path, first_seq=10)
    assert [(r.seq, r.mode) for r in rides] == [(10, "subway")]  # a walk is not disclosed
    (entry,) = rules.candidate_entries(rides, WINDOW).entries
    assert (entry.category, entry.mode, entry.label, entry.lat) == ("transport", "subway", "", None)


def test_entries_expire_14_days_after_the_last_exposure() -> None:
    visit = place(1, at(4, 12), at(4, 13), "public", name="Cafe")
    (entry,) = rules.candidate_entries([visit], WINDOW).entries
    assert entry.expires_at == at(18, 13)
    later = rules.candidate_entries([visit], WINDOW, now=at(18, 13))
    assert later.entries == [] and later.exclusions[0].rule.startswith("expired")
    assert rules.is_shown(True, None, entry.expires_at, at(18, 12, 59))
    assert not rules.is_shown(True, None, entry.expires_at, at(18, 13))


def test_withdrawn_or_unpublished_entries_are_not_shown() -> None:
    expires = at(18, 13)
    assert not rules.is_shown(True, at(6, 9), expires, at(7, 0))
    assert not rules.is_shown(False, None, expires, at(7, 0))


def test_a_list_by_place_not_a_personal_timeline() -> None:
    visits = [
        place(1, at(4, 9), at(4, 10), "public", name="Zelkova Mart", neighbourhood="A-dong"),
        place(2, at(4, 11), at(4, 12), "public", name="Bakery", neighbourhood="B-dong"),
        place(3, at(4, 13), at(4, 14), "public", name="Apple Cafe", neighbourhood="A-dong"),
        place(4, at(4, 15), at(4, 15, 30), "public", name="Zelkova Mart", neighbourhood="A-dong"),
        place(5, at(4, 15, 30), at(4, 16), "public", name="Zelkova Mart", neighbourhood="A-dong"),
    ]
    entries = rules.candidate_entries(visits, WINDOW).entries
    assert [(e.neighbourhood, e.label) for e in entries] == [
        ("A-dong", "Apple Cafe"),
        ("A-dong", "Zelkova Mart"),
        ("A-dong", "Zelkova Mart"),
        ("B-dong", "Bakery"),
    ]
    # Back-to-back visits to one place are one entry; a visit hours apart stays its own.
    assert [(e.start, e.end, e.stays) for e in entries if e.label == "Zelkova Mart"] == [
        (at(4, 9), at(4, 10), (1,)),
        (at(4, 15), at(4, 16), (4, 5)),
    ]


def test_the_reviewer_merges_entries_into_one_window() -> None:
    a = Entry("place", "Cafe", "A-dong", at(4, 9), at(4, 10), stays=(1,))
    b = Entry("place", "Cafe", "A-dong", at(5, 9), at(5, 10), stays=(3,))
    merged = rules.merge_entries([a, b])
    assert (merged.start, merged.end, merged.stays) == (at(4, 9), at(5, 10), (1, 3))
    with pytest.raises(ValueError):
        rules.merge_entries([])


def test_problems_a_reviewer_must_fix_before_publishing() -> None:
    fine = Entry("place", "Cafe", "", at(4, 9), at(4, 10))
    nameless = Entry("place", "", "", at(4, 9), at(4, 10))
    street = Entry("place", "", "12 Dongdeok-ro", at(4, 9), at(4, 10))
    backwards = Entry("place", "Cafe", "A-dong", at(4, 10), at(4, 9))
    assert rules.problems_before_publishing([fine]) == []
    found = rules.problems_before_publishing([nameless, street, backwards])
    assert [str(p).split(":")[0] for p in found] == ["entry 1", "entry 2", "entry 3"]
    assert [p.message for p in found] == [
        rules.NO_NEIGHBOURHOOD,
        rules.LOOKS_LIKE_STREET,
        rules.ENDS_BEFORE_START,
    ]
    assert not rules.problems_before_publishing(
        [Entry("place", "", "Sinam 1-dong", at(4, 9), at(4, 10))]
    )


def test_classify_stays_guesses_home_work_and_public_places() -> None:
    def stay(seq, start, end, where, name=""):
        return {"seq": seq, "start": start, "end": end, "lat": where[0], "lon": where[1],
                "radius_m": 200.0, "place_name": name}  # fmt: skip

    stays = [
        stay(1, at(3, 20), at(4, 8), HOME),  # the night
        stay(2, at(4, 9), at(4, 18), OFFICE),  # Wednesday, 9 hours
        stay(3, at(4, 19), at(4, 20), CAFE, "Cafe Namu"),
        stay(4, at(4, 21), at(5, 7), (HOME[0] + 0.001, HOME[1])),  # ~110 m from home
        stay(5, at(5, 19), at(5, 20), OFFICE),  # evening, short: not work
    ]
    kinds = [(p.seq, p.kind) for p in rules.classify_stays(stays, "Asia/Seoul")]
    assert kinds == [(1, "home"), (2, "workplace"), (3, "public"), (4, "home"), (5, "private")]
    # Nobody's name or address goes in: only the stay's place name, when it has one.
    assert rules.classify_stays(stays, "Asia/Seoul")[2].name == "Cafe Namu"


def test_contacts_found_at_an_entrys_stays_and_who_is_not_yet_identified() -> None:
    stays = [
        {"seq": 1, "start": at(4, 9), "end": at(4, 10)},
        {"seq": 2, "start": at(4, 12), "end": at(4, 13)},
    ]
    contacts = [
        {"contact_ref": "P000017", "start": at(4, 9, 30), "end": at(4, 9, 50)},
        {"contact_ref": "SKT:010-1111-2222", "start": at(4, 9, 55), "end": at(4, 10, 20)},
        {"contact_ref": "P000017", "start": at(4, 9, 10), "end": at(4, 9, 20)},  # same person
        {"contact_ref": "hana:4111-XXXX", "start": at(4, 12, 0), "end": at(4, 12, 5)},
        {"contact_ref": "P000099", "start": at(4, 10), "end": at(4, 11)},  # touches, no overlap
    ]
    assert rules.contacts_at([1], stays, contacts) == (2, 1)
    assert rules.contacts_at([2], stays, contacts) == (1, 1)
    assert rules.contacts_at([1, 2], stays, contacts) == (3, 2)
    assert rules.contacts_at([7], stays, contacts) == (0, 0)  # a ride: no stay
