"""Stays and path from one subject's records: the rules an investigator relies on."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pyarrow as pa
import pytest

from epitrace.analysis.subject import SubjectRecords
from epitrace.analysis.trajectory import trace_subject
from epitrace.analysis.trajectory.interview import (
    CONFIRMED,
    DATA_ONLY,
    INTERVIEW_ONLY,
    compare_with_interview,
)
from epitrace.formats.schemas import table

KST = dt.timezone(dt.timedelta(hours=9))
HOME = (35.8700, 128.6000)
HOME_B = (35.8712, 128.6012)  # the neighbouring cell a ping-pong handset flips to
CAFE = (35.8800, 128.6100)  # ~1.4 km from home
FAR = (36.5000, 129.5000)  # ~100 km away


def at(hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2020, 3, day, hour, minute, tzinfo=KST)


def cells() -> pa.Table:
    rows = {"H1": HOME, "H2": HOME_B, "C1": CAFE, "FAR": FAR}
    return pa.table(
        {
            "carrier": ["SKT"] * len(rows),
            "cell_id": list(rows),
            "lat": [p[0] for p in rows.values()],
            "lon": [p[1] for p in rows.values()],
            "radius_m": [200.0] * len(rows),
        }
    ).cast(table("cells").arrow_schema)


def telecom(records: list[tuple[dt.datetime, str]]) -> pa.Table:
    return pa.table(
        {
            "carrier": ["SKT"] * len(records),
            "subscriber": ["010-0000-0001"] * len(records),
            "ts": [r[0] for r in records],
            "cell_id": [r[1] for r in records],
            "event": ["data"] * len(records),
        }
    ).cast(table("telecom_records").arrow_schema)


def every(start: dt.datetime, end: dt.datetime, minutes: int, cell: str | list[str]):
    names = [cell] if isinstance(cell, str) else cell
    out, t, i = [], start, 0
    while t <= end:
        out.append((t, names[i % len(names)]))
        t += dt.timedelta(minutes=minutes)
        i += 1
    return out


def merchants() -> pa.Table:
    return pa.table(
        {
            "merchant_id": ["M1", "M2"],
            "name": ["Dongseongro Cafe", "Corner Shop"],
            "category": ["cafe", "grocery"],
            "address": ["Jung-gu", "Jung-gu"],
            "lat": [CAFE[0], HOME[0] + 0.0005],
            "lon": [CAFE[1], HOME[1]],
        }
    ).cast(table("merchants").arrow_schema)


def payments(rows: list[tuple[dt.datetime, str, str]]) -> pa.Table:
    return pa.table(
        {
            "issuer": ["BC"] * len(rows),
            "card_id": ["9410-1"] * len(rows),
            "ts": [r[0] for r in rows],
            "merchant_id": [r[1] for r in rows],
            "amount": [5000.0] * len(rows),
            "channel": [r[2] for r in rows],
        }
    ).cast(table("card_transactions").arrow_schema)


def day_records() -> list[tuple[dt.datetime, str]]:
    """Home (ping-pong) overnight with a silent night, the cafe late morning, home again."""
    return (
        every(at(0), at(1), 20, ["H1", "H2"])
        + every(at(7), at(9, 50), 10, ["H1", "H2", "H1"])
        + every(at(10, 10), at(11, 40), 10, "C1")
        + every(at(12), at(20), 15, ["H2", "H1"])
    )


def subject(records=None, **tables) -> SubjectRecords:
    return SubjectRecords(
        "P000001",
        telecom_records=telecom(records or day_records()),
        cells=cells(),
        merchants=merchants(),
        **tables,
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_ping_pong_and_a_silent_night_make_one_home_stay_between_the_cells() -> None:
    stays = trace_subject(subject()).stays.to_pylist()
    assert [s["sources"] for s in stays] == ["telecom"] * 3
    home = stays[0]
    assert home["start"] <= at(0) and home["end"] >= at(9, 50)  # the night did not split it
    middle = ((HOME[0] + HOME_B[0]) / 2, (HOME[1] + HOME_B[1]) / 2)
    assert distance_m(home["lat"], home["lon"], *middle) < 60
    assert 50 <= home["radius_m"] <= 250
    assert distance_m(stays[1]["lat"], stays[1]["lon"], *CAFE) < 1


def test_a_far_cell_between_two_near_ones_is_dropped_and_flagged() -> None:
    records = sorted([*day_records(), (at(8, 5), "FAR")])
    result = trace_subject(subject(records))
    assert [o.cell_id for o in result.outliers] == ["SKT:FAR"]
    clean = trace_subject(subject())
    assert result.stays.equals(clean.stays)
    assert any("outlier" in note for note in result.notes)


def test_a_card_payment_names_and_pins_the_stay_it_falls_in() -> None:
    result = trace_subject(subject(card_transactions=payments([(at(11), "M1", "offline")])))
    cafe = result.stays.to_pylist()[1]
    assert cafe["place_name"] == "Dongseongro Cafe"
    assert cafe["sources"] == "telecom+card"
    assert cafe["radius_m"] == 30.0
    assert distance_m(cafe["lat"], cafe["lon"], *CAFE) < 1
    assert cafe["confidence"] > 0.9


def test_online_payments_never_place_the_subject() -> None:
    online = trace_subject(subject(card_transactions=payments([(at(11), "M1", "online")])))
    assert online.stays.equals(trace_subject(subject()).stays)


def test_a_payment_inside_a_long_home_stay_is_carved_out_as_its_own_visit() -> None:
    result = trace_subject(subject(card_transactions=payments([(at(16), "M2", "offline")])))
    stays = result.stays.to_pylist()
    names = [s["place_name"] for s in stays]
    assert "Corner Shop" in names
    shop = stays[names.index("Corner Shop")]
    assert shop["start"] < at(16) < shop["end"]
    before, after = stays[names.index("Corner Shop") - 1], stays[names.index("Corner Shop") + 1]
    assert before["end"] <= shop["start"] and after["start"] >= shop["end"]
    assert before["place_name"] is None and after["place_name"] is None  # home keeps its place


def test_a_payment_with_no_stay_becomes_an_evidence_stay() -> None:
    records = every(at(7), at(9), 10, "H1")  # nothing after 9:00
    result = trace_subject(
        subject(records, card_transactions=payments([(at(13), "M1", "offline")]))
    )
    last = result.stays.to_pylist()[-1]
    assert last["place_name"] == "Dongseongro Cafe" and last["sources"] == "card"
    assert last["start"] < at(13) < last["end"]


def test_a_transit_ride_is_a_move_with_its_mode_never_a_stay() -> None:
    taps = pa.table(
        {
            "issuer": ["BC", "BC"],
            "card_id": ["9410-1", "9410-1"],
            "ts": [at(9, 52), at(10, 5)],
            "stop_id": ["S1", "S2"],
            "stop_name": ["Home stop", "Cafe stop"],
            "lat": [HOME[0], CAFE[0]],
            "lon": [HOME[1], CAFE[1]],
            "mode": ["subway", "subway"],
            "tap": ["in", "out"],
        }
    ).cast(table("transit_taps").arrow_schema)
    result = trace_subject(subject(transit_taps=taps))
    stays = result.stays.to_pylist()
    assert all(s["end"] <= at(9, 52) or s["start"] >= at(10, 5) for s in stays)
    ride = [m for m in result.moves if m.mode]
    assert len(ride) == 1 and ride[0].mode == "subway"
    geo = result.geojson()
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    assert any(
        f["properties"].get("mode") == "subway" and len(f["geometry"]["coordinates"]) == 4
        for f in lines
    )


def test_records_out_of_order_and_duplicated_give_the_same_stays() -> None:
    records = day_records()
    shuffled = list(reversed(records)) + records[:10]
    messy = trace_subject(subject(shuffled))
    assert messy.stays.equals(trace_subject(subject(records)).stays)
    assert any("duplicated" in note for note in messy.notes)


def test_a_cell_missing_from_the_registry_is_noted_not_fatal() -> None:
    records = sorted([*day_records(), (at(8, 3), "GHOST")])
    result = trace_subject(subject(records))
    assert result.stays.equals(trace_subject(subject()).stays)
    assert any("SKT:GHOST" in note for note in result.notes)


def test_no_records_in_the_window_gives_no_stays_and_says_so() -> None:
    result = trace_subject(subject().window(at(0, day=20), at(0, day=21)))
    assert result.stays.num_rows == 0
    assert result.stays.schema == table("stays").arrow_schema
    assert result.geojson() == {"type": "FeatureCollection", "features": []}
    assert any("no records" in note for note in result.notes)


def test_gps_stay_points_take_precedence_over_cells() -> None:
    fixes = [
        (at(10, 10) + dt.timedelta(minutes=m), CAFE[0] + 0.00005 * (m % 3), CAFE[1])
        for m in range(0, 80, 2)
    ]
    gps = pa.table(
        {
            "person_ref": ["P000001"] * len(fixes),
            "ts": [f[0] for f in fixes],
            "lat": [f[1] for f in fixes],
            "lon": [f[2] for f in fixes],
            "accuracy_m": [10.0] * len(fixes),
        }
    ).cast(table("gps_points").arrow_schema)
    stays = trace_subject(subject(gps_points=gps)).stays.to_pylist()
    cafe = [s for s in stays if "gps" in s["sources"]]
    assert len(cafe) == 1
    assert distance_m(cafe[0]["lat"], cafe[0]["lon"], *CAFE) < 15
    assert not any(
        s["sources"] == "telecom" and s["start"] < cafe[0]["end"] and s["end"] > cafe[0]["start"]
        for s in stays
    )


def test_stays_are_ordered_numbered_and_never_overlap() -> None:
    result = trace_subject(
        subject(card_transactions=payments([(at(11), "M1", "offline"), (at(16), "M2", "offline")]))
    )
    stays = result.stays.to_pylist()
    assert [s["seq"] for s in stays] == list(range(1, len(stays) + 1))
    for a, b in itertools.pairwise(stays):
        assert a["end"] <= b["start"]


def interview(rows: list[tuple[dt.datetime, dt.datetime, str, tuple[float, float] | None]]):
    return pa.table(
        {
            "person_ref": ["P000001"] * len(rows),
            "start": [r[0] for r in rows],
            "end": [r[1] for r in rows],
            "place_name": [r[2] for r in rows],
            "address": [None] * len(rows),
            "lat": [r[3][0] if r[3] else None for r in rows],
            "lon": [r[3][1] if r[3] else None for r in rows],
        }
    ).cast(table("interview_visits").arrow_schema)


def test_interview_comparison_gives_the_three_lists() -> None:
    result = trace_subject(subject(card_transactions=payments([(at(11), "M1", "offline")])))
    visits = interview(
        [
            (at(10, 30), at(11, 30), "Dongseongro Cafe", CAFE),  # confirmed
            (at(14), at(15), "Grandmother's house", (35.95, 128.70)),  # no data supports it
        ]
    )
    comparison = compare_with_interview(result.stays, visits).to_pylist()
    status = {(r["status"], r["place_name"]) for r in comparison}
    assert (CONFIRMED, "Dongseongro Cafe") in status
    assert (INTERVIEW_ONLY, "Grandmother's house") in status
    data_only = [r for r in comparison if r["status"] == DATA_ONLY]
    assert len(data_only) == result.stays.num_rows - 1  # home stays were not mentioned
    assert len(comparison) == result.stays.num_rows + 1


def test_interview_times_are_matched_with_slack_but_places_must_agree() -> None:
    result = trace_subject(subject())
    shifted = interview([(at(12, 20), at(13), "Cafe", CAFE)])  # cafe stay ended ~11:45
    rows = compare_with_interview(result.stays, shifted).to_pylist()
    assert any(r["status"] == CONFIRMED for r in rows)
    wrong_place = interview([(at(10, 30), at(11, 30), "Cafe", FAR)])
    rows = compare_with_interview(result.stays, wrong_place).to_pylist()
    assert not any(r["status"] == CONFIRMED for r in rows)


def test_sources_can_be_limited_for_ablations() -> None:
    records = subject(card_transactions=payments([(at(11), "M1", "offline")]))
    assert records.only("telecom").card_transactions.num_rows == 0
    with pytest.raises(ValueError, match="unknown sources"):
        records.only("carrier pigeon")
