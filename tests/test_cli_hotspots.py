"""`epitrace hotspots` on small simulated cities, as an analyst runs it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner, Result

from epitrace.analysis.hotspots.case_events import CaseWindow, case_events, exposure_windows
from epitrace.cli import main
from epitrace.formats.readers import read_table
from epitrace.simulate import SimulationConfig, simulate_city

# Starts on a Saturday, so the planted church event (the first Sunday after the
# first day) is on day 2 and most of its cases are confirmed within 10 days.
EVENT_CITY = SimulationConfig(residents=2000, days=10, seed=1, start=dt.date(2020, 2, 15))
UTC = dt.UTC


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def event_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("event-city")
    simulate_city(EVENT_CITY, folder, fmt="parquet")
    return folder


def planted_place(city: Path) -> tuple[float, float, dt.date]:
    event = json.loads((city / "manifest.json").read_text())["outbreak"]["planted_event"]
    places = read_table(city / "truth" / "places.parquet").raise_for_problems().to_pylist()
    place = next(p for p in places if p["place_id"] == event["place_id"])
    return place["lat"], place["lon"], dt.date.fromisoformat(event["start"][:10])


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320.0
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_hotspots_finds_the_planted_event(event_city: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(
        "hotspots", event_city, "--cases", event_city / "cases.parquet",
        "--replications", 99, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    hotspots = read_table(out / "hotspots.csv").raise_for_problems().to_pylist()
    assert hotspots and hotspots[0]["cluster_id"] == 1
    first = hotspots[0]
    lat, lon, day = planted_place(event_city)
    # The circle holds the church (events at the church lie within its radius).
    assert metres_between(first["lat"], first["lon"], lat, lon) <= first["radius_m"] + 50
    seoul = dt.timezone(dt.timedelta(hours=9))
    assert first["start"].astimezone(seoul).date() <= day < first["end"].astimezone(seoul).date()
    assert first["p_value"] <= 0.05
    assert [h["cluster_id"] for h in hotspots] == list(range(1, len(hotspots) + 1))
    assert "+09:00" in (out / "hotspots.csv").read_text()

    with (out / "hotspot_cases.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    in_first = [r for r in rows if r["cluster_id"] == "1"]
    assert len(in_first) == first["cases"]
    assert {r["case_id"] for r in in_first} <= set(
        read_table(event_city / "cases.parquet").raise_for_problems().column("case_id").to_pylist()
    )
    assert all(r["ts"].startswith(day.isoformat()) for r in in_first)
    assert "1 cluster" in result.stdout or "cluster(s)" in result.stdout


def test_hotspots_window_override_and_csv_cases(event_city: Path, tmp_path: Path) -> None:
    cases = read_table(event_city / "cases.parquet").raise_for_problems()
    cases_csv = tmp_path / "cases.csv"
    pacsv.write_csv(cases, cases_csv)
    out = tmp_path / "out"
    result = run(
        "hotspots", event_city, "--cases", cases_csv, "--replications", 9,
        "--from", "2020-02-16T00:00:00+09:00", "--to", "2020-02-19T00:00:00+09:00",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (out / "hotspot_cases.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert all("2020-02-16" <= r["ts"][:10] <= "2020-02-18" for r in rows)
    hotspots = read_table(out / "hotspots.csv").raise_for_problems().to_pylist()
    assert all(h["p_value"] >= 0.1 for h in hotspots)  # 9 replications resolve p to 0.1


def test_hotspots_unknown_people_are_skipped_and_counted(event_city: Path, tmp_path: Path) -> None:
    cases = read_table(event_city / "cases.parquet").raise_for_problems()
    stranger = pa.table(
        {
            "case_id": ["X1"],
            "person_ref": ["P999999"],
            "confirmed_date": [dt.date(2020, 2, 20)],
            "onset_date": pa.array([None], pa.date32()),
            "region": ["27110"],
            "region_name": ["대구광역시 중구"],
        }
    ).cast(cases.schema)
    cases_csv = tmp_path / "cases.csv"
    pacsv.write_csv(pa.concat_tables([cases, stranger]), cases_csv)
    result = run(
        "hotspots", event_city, "--cases", cases_csv, "--replications", 9, "--out", tmp_path / "o"
    )
    assert result.exit_code == 0, result.output
    assert "skipped, no provider record of the person: X1" in result.stderr


def test_hotspots_user_mistakes_are_clear_errors(event_city: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cases.csv"
    bad.write_text("case_id,person_ref\nC1,P000001\n")
    result = run("hotspots", event_city, "--cases", bad, "--out", tmp_path / "o")
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "cases" in result.output

    nobody = tmp_path / "nobody.csv"
    nobody.write_text(
        "case_id,person_ref,confirmed_date,onset_date,region\nC1,P999999,2020-02-20,,Jung-gu\n"
    )
    result = run("hotspots", event_city, "--cases", nobody, "--out", tmp_path / "o")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "none of the 1 cases" in result.output

    result = run(
        "hotspots", event_city, "--cases", nobody, "--out", tmp_path / "o",
        "--from", "2020-02-20T00:00:00+09:00", "--to", "2020-02-19T00:00:00+09:00",
    )  # fmt: skip
    assert result.exit_code == 2 and "--to must come after --from" in result.output

    result = run("hotspots", event_city, "--cases", nobody, "--out", tmp_path / "o", "--from", "x")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_finding_17_implausible_or_unreadable_cases_files_are_refused_in_one_line(
    tmp_path: Path,
) -> None:
    """Issue #17, finding 17: a cases file dated 0001-01-01 or 9999-12-31 printed a
    traceback. The file is refused before any tracing, so an empty folder will do."""
    header = "case_id,person_ref,confirmed_date,onset_date,region\n"
    dated = tmp_path / "dated.csv"
    dated.write_text(header + "C1,P000001,9999-12-31,0001-01-01,Jung-gu\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    for cases, reason in [
        (dated, "confirmed_date: 9999-12-31 out of range (must be 1900-01-01 to 2100-12-31)"),
        (empty, "empty file: no header row"),
        (binary, "header is not valid UTF-8"),
    ]:
        for among in ([], ["--among-people"]):
            result = run("hotspots", tmp_path, "--cases", cases, *among, "--out", tmp_path / "o")
            assert result.exit_code == 1, result.output
            assert f"{cases} breaks the cases contract: {cases}:" in result.output
            assert reason in result.output and len(result.output.splitlines()) == 1


def test_exposure_window_runs_from_14_days_before_onset_to_confirmation() -> None:
    cases = pa.table(
        {
            "case_id": ["C1", "C2"],
            "person_ref": ["P1", "P2"],
            "confirmed_date": [dt.date(2020, 2, 20), dt.date(2020, 2, 20)],
            "onset_date": [dt.date(2020, 2, 18), None],
            "region": ["Jung-gu", "Jung-gu"],
        }
    )
    with_onset, without = exposure_windows(cases, "Asia/Seoul")
    assert with_onset.start == dt.datetime(2020, 2, 3, 15, tzinfo=UTC)  # Feb 4, 00:00 KST
    assert with_onset.end == dt.datetime(2020, 2, 19, 15, tzinfo=UTC)  # Feb 20, 00:00 KST
    assert without.start == dt.datetime(2020, 2, 5, 15, tzinfo=UTC)
    assert with_onset.likely_infection.date() == dt.date(2020, 2, 13)


def _stay(seq: int, start: dt.datetime, hours: float, lat: float, name: str = "") -> dict:
    return {
        "person_ref": "P1",
        "seq": seq,
        "start": start,
        "end": start + dt.timedelta(hours=hours),
        "lat": lat,
        "lon": 128.6,
        "radius_m": 30.0,
        "place_name": name,
        "sources": "telecom",
        "confidence": 0.9,
    }


def test_case_events_drop_nights_and_count_a_place_once() -> None:
    kst = dt.timezone(dt.timedelta(hours=9))
    day = dt.datetime(2020, 2, 10, tzinfo=kst)
    stays = pa.Table.from_pylist(
        [
            _stay(1, day - dt.timedelta(hours=4), 12, 35.80),  # 20:00-08:00: home
            _stay(2, day + dt.timedelta(hours=10), 1, 35.85, "Pharmacy"),
            _stay(3, day + dt.timedelta(days=2, hours=10), 1, 35.85, "Pharmacy"),
            _stay(4, day + dt.timedelta(days=2, hours=12), 1, 35.87),
        ]
    )
    window = CaseWindow(
        "C1", "P1", day - dt.timedelta(days=5), day + dt.timedelta(days=5),
        likely_infection=day + dt.timedelta(days=2, hours=12),
    )  # fmt: skip
    events = case_events(stays, window, "Asia/Seoul")
    assert [e["seq"] for e in events] == [3, 4]  # the pharmacy once, nearest the infection


def test_weekday_adjusted_replications_permute_dates_only_within_weekdays() -> None:
    import numpy as np

    from epitrace.analysis.hotspots.clusters import permute_within_strata

    days = np.array([0, 1, 7, 8, 14, 15, 2], dtype=np.int32)
    strata = days % 7  # day 0 a Sunday: weekday = (6 + day) % 7, same strata
    permuted = permute_within_strata(days, strata, 50, np.random.default_rng(0))
    assert (permuted % 7 == strata).all()
    assert (np.sort(permuted, axis=1) == np.sort(days)).all()
    assert len({tuple(row) for row in permuted}) > 1


def test_hotspots_with_weekday_adjustment_runs(event_city: Path, tmp_path: Path) -> None:
    result = run(
        "hotspots", event_city, "--cases", event_city / "cases.parquet",
        "--replications", 19, "--adjust-weekday", "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_table(tmp_path / "hotspots.csv").raise_for_problems().num_rows > 0


def test_hotspots_dated_by_case_counts_each_case_once(event_city: Path, tmp_path: Path) -> None:
    result = run(
        "hotspots", event_city, "--cases", event_city / "cases.parquet",
        "--replications", 19, "--dated-by", "case", "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = read_table(tmp_path / "hotspots.csv").raise_for_problems()
    cases = read_table(event_city / "cases.parquet").raise_for_problems().num_rows
    # Each case counts once per window: no cluster can hold more cases than there are.
    assert all(n <= cases for n in found.column("cases").to_pylist())
    refused = run("hotspots", event_city, "--cases", event_city / "cases.parquet",
                  "--dated-by", "day", "--out", tmp_path)  # fmt: skip
    assert refused.exit_code == 2 and "dated-by" in refused.output


def test_hotspots_with_week_shifts_scans_the_same_cylinders(
    event_city: Path, tmp_path: Path
) -> None:
    """--week-shifts changes only the replications: the same clusters by the
    same statistic, with p-values from whole cases moved by whole weeks."""
    cases = event_city / "cases.parquet"
    plain = run("hotspots", event_city, "--cases", cases, "--replications", 19,
                "--out", tmp_path / "plain")  # fmt: skip
    shifted = run("hotspots", event_city, "--cases", cases, "--replications", 19,
                  "--week-shifts", "--out", tmp_path / "shifted")  # fmt: skip
    assert plain.exit_code == 0 and shifted.exit_code == 0, shifted.output
    a = read_table(tmp_path / "plain" / "hotspots.csv").raise_for_problems()
    b = read_table(tmp_path / "shifted" / "hotspots.csv").raise_for_problems()
    for column in ("lat", "lon", "radius_m", "start", "end", "cases", "expected"):
        assert a.column(column).to_pylist() == b.column(column).to_pylist()
    refused = run("hotspots", event_city, "--cases", cases, "--week-shifts",
                  "--dated-by", "case", "--out", tmp_path / "x")  # fmt: skip
    assert refused.exit_code == 2 and "--week-shifts" in refused.output


# The null background and the planted service alone (its only transmission), with
# an event large enough to stand out: the design docs/accuracy.md validates on.
PLANTED_CITY = SimulationConfig(
    residents=1500, days=21, seed=3, start=dt.date(2020, 2, 15), outbreak="planted",
    null_attack_rate=0.06, superspreading_from_day=7, superspreader_infectiousness=100.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def planted_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("planted-city")
    simulate_city(PLANTED_CITY, folder, fmt="parquet")
    return folder


def test_hotspots_among_people_finds_the_service_in_its_hours(
    planted_city: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run(
        "hotspots", planted_city, "--cases", planted_city / "cases.parquet",
        "--among-people", "--replications", 99, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first = read_table(out / "hotspots.csv").raise_for_problems().to_pylist()[0]
    event = json.loads((planted_city / "manifest.json").read_text())["outbreak"]["planted_event"]
    service = dt.datetime.fromisoformat(event["start"])
    assert first["start"] <= service < first["end"]  # the 3-hour slot holding the service
    assert first["end"] - first["start"] == dt.timedelta(hours=3)
    assert first["p_value"] <= 0.05
    infectees = {
        row["infectee"]
        for row in read_table(planted_city / "truth" / "infections.parquet")
        .raise_for_problems()
        .to_pylist()
        if row["place_id"] == event["place_id"]
    }
    with (out / "hotspot_cases.csv").open(newline="") as handle:
        in_first = [r for r in csv.DictReader(handle) if r["cluster_id"] == "1"]
    assert len(in_first) == first["cases"]
    assert sum(r["person_ref"] in infectees for r in in_first) > len(in_first) / 2
    assert " h:" in result.stdout and "case-hours located" in result.stdout
    assert f": {first['cases']} cases, " in result.stdout  # a cluster counts cases


def test_hotspots_among_people_refuses_what_does_not_apply(
    planted_city: Path, tmp_path: Path
) -> None:
    cases = planted_city / "cases.parquet"
    result = run("hotspots", planted_city, "--cases", cases, "--among-people",
                 "--week-shifts", "--out", tmp_path / "o")  # fmt: skip
    assert result.exit_code != 0 and "--among-people has its own null" in result.output
    bare = tmp_path / "no-carrier"
    bare.mkdir()
    result = run("hotspots", bare, "--cases", cases, "--among-people", "--out", tmp_path / "o")
    assert result.exit_code != 0 and "no telecom_records table" in result.output
    assert "Traceback" not in result.output
