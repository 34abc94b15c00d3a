"""Dashboard statistics: epidemic curves, regions, attack rates, turnaround times."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from epitrace.analysis.statistics import (
    attack_rates,
    cases_by_region,
    counts_by,
    curve_by_group,
    epidemic_curve,
    per_week,
    turnaround_stages,
    turnaround_times,
    wilson_interval,
)

D = dt.date


def cases() -> pa.Table:
    return pa.table(
        {
            "case_id": ["C1", "C2", "C3", "C4"],
            "person_ref": ["P1", "P2", "P3", "P4"],
            "confirmed_date": [D(2020, 2, 20), D(2020, 2, 20), D(2020, 2, 23), D(2020, 2, 24)],
            "onset_date": pa.array([D(2020, 2, 18), None, D(2020, 2, 18), D(2020, 2, 21)]),
            "region": ["Nam-gu", "Jung-gu", "Nam-gu", None],
        }
    )


def test_epidemic_curve_by_confirmation_fills_every_day() -> None:
    curve = epidemic_curve(cases(), by="confirmed").to_pydict()
    assert curve["date"] == [D(2020, 2, 20) + dt.timedelta(days=i) for i in range(5)]
    assert curve["cases"] == [2, 0, 0, 1, 1]
    assert curve["cumulative"] == [2, 2, 2, 3, 4]


def test_epidemic_curve_by_onset_counts_cases_without_onset() -> None:
    curve = epidemic_curve(cases(), by="onset")
    assert curve.column("cases").to_pylist() == [2, 0, 0, 1]
    assert curve.schema.metadata[b"without_date"] == b"1"


def test_epidemic_curve_empty_and_bad_argument() -> None:
    assert epidemic_curve(cases().slice(0, 0)).num_rows == 0
    with pytest.raises(ValueError, match="by must be"):
        epidemic_curve(cases(), by="death")  # type: ignore[arg-type]


def test_cases_by_region_largest_first_with_shares() -> None:
    table = cases_by_region(cases()).to_pydict()
    assert table["region"] == ["Nam-gu", "", "Jung-gu"]
    assert table["cases"] == [2, 1, 1]
    assert table["share"] == [0.5, 0.25, 0.25]


def test_attack_rates_count_people_once_per_kind() -> None:
    exposures = pa.table(
        {
            "person_ref": ["P1", "P1", "P2", "X1", "X2", "X3", "P3", "X4"],
            "place_kind": ["church", "church", "church", "church", "cafe", "cafe", "cafe", "gym"],
        }
    )
    rates = {r["place_kind"]: r for r in attack_rates(exposures, cases()).to_pylist()}
    assert (rates["church"]["exposed"], rates["church"]["cases"]) == (3, 2)
    assert rates["church"]["attack_rate"] == pytest.approx(2 / 3)
    assert rates["cafe"]["attack_rate"] == pytest.approx(1 / 3)
    assert rates["gym"]["cases"] == 0 and rates["gym"]["ci_low"] == 0.0
    assert rates["church"]["ci_low"] < 2 / 3 < rates["church"]["ci_high"]
    first = attack_rates(exposures, cases()).column("place_kind")[0].as_py()
    assert first == "church"


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson_interval([5], [10])  # type: ignore[arg-type]
    assert low[0] == pytest.approx(0.2366, abs=1e-4)
    assert high[0] == pytest.approx(0.7634, abs=1e-4)


def test_turnaround_times_per_agency_with_pending_requests() -> None:
    t0 = dt.datetime(2020, 3, 1, 9, tzinfo=dt.UTC)
    requests = pa.table(
        {
            "agency": ["SKT", "SKT", "SKT", "Shinhan"],
            "created": [t0, t0, t0, t0],
            "answered": pa.array(
                [t0 + dt.timedelta(hours=2), t0 + dt.timedelta(hours=4), None, None],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    rows = {r["agency"]: r for r in turnaround_times(requests, by="agency").to_pylist()}
    assert rows["SKT"]["requests"] == 3 and rows["SKT"]["pending"] == 1
    assert rows["SKT"]["median_h"] == pytest.approx(3.0)
    assert rows["SKT"]["max_h"] == pytest.approx(4.0)
    assert rows["Shinhan"]["answered"] == 0 and rows["Shinhan"]["median_h"] is None
    overall = turnaround_times(requests).to_pylist()
    assert overall[0]["group"] == "all" and overall[0]["requests"] == 4


def test_turnaround_rejects_answers_before_creation() -> None:
    t0 = dt.datetime(2020, 3, 1, 9, tzinfo=dt.UTC)
    requests = pa.table({"created": [t0], "answered": [t0 - dt.timedelta(hours=1)]})
    with pytest.raises(ValueError, match="before they were created"):
        turnaround_times(requests)


def test_purged_aggregates_count_as_many_cases_as_they_hold() -> None:
    held = cases().select(["confirmed_date", "onset_date", "region"])
    held = held.append_column("count", pa.array([1, 1, 1, 1], pa.int64()))
    purged = pa.table(
        {
            "confirmed_date": [D(2020, 2, 21)],
            "onset_date": pa.array([None], pa.date32()),
            "region": ["Nam-gu"],
            "count": pa.array([5], pa.int64()),
        }
    )
    both = pa.concat_tables([held, purged])
    curve = epidemic_curve(both, by="confirmed").to_pydict()
    assert curve["cases"] == [2, 5, 0, 1, 1]
    assert epidemic_curve(both, by="onset").schema.metadata[b"without_date"] == b"6"
    assert cases_by_region(both).to_pydict()["cases"] == [7, 1, 1]


def test_curve_by_group_has_every_day_for_every_group() -> None:
    curve = curve_by_group(cases(), by="confirmed", group="region").to_pylist()
    assert len(curve) == 5 * 3  # days 20..24 x ('', Jung-gu, Nam-gu)
    assert {r["group"] for r in curve} == {"", "Jung-gu", "Nam-gu"}
    nam = [r["cases"] for r in curve if r["group"] == "Nam-gu"]
    assert nam == [1, 0, 0, 1, 0]
    assert sum(r["cases"] for r in curve) == 4
    assert curve_by_group(cases().slice(0, 0)).num_rows == 0


def test_turnaround_stages_follow_each_request_through_its_steps() -> None:
    t = dt.datetime(2020, 3, 1, 9, tzinfo=dt.UTC)
    hours = [dt.timedelta(hours=h) for h in range(10)]
    requests = pa.table(
        {
            "created": [t, t, t],
            "decided": [t + hours[1], t + hours[3], None],
            "answered": [t + hours[4], None, None],
        }
    )
    stages = turnaround_stages(
        requests, [("approval", "created", "decided"), ("answers", "decided", "answered")]
    ).to_pylist()
    assert [s["stage"] for s in stages] == ["approval", "answers"]
    assert (stages[0]["requests"], stages[0]["answered"], stages[0]["pending"]) == (3, 2, 1)
    assert stages[0]["median_h"] == pytest.approx(2.0)
    # Only the two decided requests reached the answers step; one is answered after 3 h.
    assert (stages[1]["requests"], stages[1]["answered"]) == (2, 1)
    assert stages[1]["median_h"] == pytest.approx(3.0)
    assert turnaround_stages(requests, []).num_rows == 0
    nobody = turnaround_stages(requests.slice(0, 0), [("approval", "created", "decided")])
    assert nobody.to_pylist() == [
        {"stage": "approval", "requests": 0, "answered": 0, "pending": 0,
         "median_h": None, "p90_h": None, "mean_h": None, "max_h": None}
    ]  # fmt: skip


def test_counts_by_largest_first_with_nulls_as_empty() -> None:
    rows = pa.table({"agency": ["A", "B", "A", None], "status": ["ok", "ok", "ok", "late"]})
    assert counts_by(rows, ["agency", "status"]).to_pylist() == [
        {"agency": "A", "status": "ok", "count": 2},
        {"agency": "", "status": "late", "count": 1},
        {"agency": "B", "status": "ok", "count": 1},
    ]
    with pytest.raises(ValueError, match="lack column"):
        counts_by(rows, ["user"])


def test_per_week_sums_each_group_from_monday() -> None:
    weekly = per_week(curve_by_group(cases(), by="confirmed")).to_pylist()
    # 20-23 Feb 2020 fall in the week of Monday 17 Feb, the 24th starts the next.
    assert weekly == [
        {"week": D(2020, 2, 17), "group": "", "cases": 0},
        {"week": D(2020, 2, 17), "group": "Jung-gu", "cases": 1},
        {"week": D(2020, 2, 17), "group": "Nam-gu", "cases": 2},
        {"week": D(2020, 2, 24), "group": "", "cases": 1},
        {"week": D(2020, 2, 24), "group": "Jung-gu", "cases": 0},
        {"week": D(2020, 2, 24), "group": "Nam-gu", "cases": 0},
    ]
