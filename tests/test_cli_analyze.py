"""`epitrace analyze` and `epitrace evaluate` on a simulated city, as an analyst runs them."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from epitrace.cli import main
from epitrace.formats.readers import read_table


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def a_case(city: Path) -> str:
    """The case confirmed last: the one who moved about longest before isolation."""
    with open(city / "cases.csv", newline="") as handle:
        cases = list(csv.DictReader(handle))
    return max(cases, key=lambda case: case["confirmed_date"])["person_ref"]


def test_analyze_writes_stays_path_and_report(csv_city: Path, tmp_path: Path) -> None:
    person = a_case(csv_city)
    result = run("analyze", csv_city, "--person", person, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    stays = read_table(out / "stays.csv").raise_for_problems()
    assert stays.num_rows > 3
    assert set(stays.column("person_ref").to_pylist()) == {person}
    assert "+09:00" in (out / "stays.csv").read_text()  # the city's own zone
    # The simulated city lies in and around Daegu: every stay is named by its district.
    header = (out / "stays.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith('"person_ref"')  # no byte-order mark: programs read these files
    assert header.replace('"', "").endswith(",sido,sigungu,emd,sigungu_code")
    for name in ("sido", "sigungu", "emd", "sigungu_code"):
        assert stays.column(name).null_count == 0, name
    assert "대구광역시" in stays.column("sido").to_pylist()
    assert all(len(code) == 5 for code in stays.column("sigungu_code").to_pylist())
    geo = json.loads((out / "path.geojson").read_text())
    points = [f for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == stays.num_rows
    # The path says its times in the zone stays.csv uses, not in UTC (issue #19).
    times = [f["properties"]["start"] for f in geo["features"]]
    assert times and all(t.endswith("+09:00") for t in times)
    assert (out / "report.html").stat().st_size > 1000
    assert (out / "contacts.csv").exists()  # contacts are searched unless --no-contacts
    contacts = read_table(out / "contacts.csv").raise_for_problems()
    assert contacts.num_rows > 0 and contacts.column("tier").null_count == 0
    assert set(contacts.column("tier").to_pylist()) <= {"close", "possible", "broad"}
    assert f"{person}: {stays.num_rows} stays" in result.stdout


def test_analyze_window_limits_the_stays(csv_city: Path, tmp_path: Path) -> None:
    person = a_case(csv_city)
    result = run(
        "analyze",
        csv_city,
        "--person",
        person,
        "--from",
        "2020-02-11T00:00:00+09:00",
        "--to",
        "2020-02-12T00:00:00+09:00",
        "--no-contacts",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    stays = read_table(tmp_path / "stays.csv").raise_for_problems().to_pylist()
    assert stays
    assert all(s["end"].isoformat() > "2020-02-10T15:00" for s in stays)
    assert all(s["start"].isoformat() < "2020-02-11T15:00" for s in stays)


def test_unknown_subject_is_a_clear_error(csv_city: Path, tmp_path: Path) -> None:
    result = run("analyze", csv_city, "--person", "P999999", "--out", tmp_path)
    assert result.exit_code == 1
    assert "no subscriber, card holder or GPS record for 'P999999'" in result.output
    assert "Traceback" not in result.output


def test_window_without_data_says_so_and_writes_empty_outputs(
    csv_city: Path, tmp_path: Path
) -> None:
    person = a_case(csv_city)
    result = run(
        "analyze",
        csv_city,
        "--person",
        person,
        "--from",
        "2021-01-01T00:00:00+09:00",
        "--to",
        "2021-01-02T00:00:00+09:00",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert "no records for this subject in the window" in result.stderr
    assert read_table(tmp_path / "stays.csv").table.num_rows == 0


def test_bad_window_and_naive_timestamps_are_usage_errors(csv_city: Path, tmp_path: Path) -> None:
    person = a_case(csv_city)
    naive = run(
        "analyze", csv_city, "--person", person, "--from", "2020-02-11T00:00:00", "--out", tmp_path
    )
    assert naive.exit_code == 2 and "no UTC offset" in naive.output
    backwards = run(
        "analyze",
        csv_city,
        "--person",
        person,
        "--from",
        "2020-02-12T00:00:00Z",
        "--to",
        "2020-02-11T00:00:00Z",
        "--out",
        tmp_path,
    )
    assert backwards.exit_code == 2 and "--to must come after --from" in backwards.output


def test_broken_rows_of_the_subject_are_reported_and_skipped(
    csv_city: Path, tmp_path: Path
) -> None:
    city = tmp_path / "city"
    shutil.copytree(csv_city, city)
    person = a_case(city)
    with open(city / "subscribers.csv", newline="") as handle:
        subscriber = next(r for r in csv.DictReader(handle) if r["person_ref"] == person)
    with open(city / "telecom_records.csv", "a") as handle:
        handle.write(
            f"{subscriber['carrier']},{subscriber['subscriber']},2020-02-11 12:00:00,NOCELL,data\n"
        )
    result = run("analyze", city, "--person", person, "--no-contacts", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "break the data contract" in result.stderr


def test_finding_17_explicit_interview_or_cases_files_must_be_whole(
    csv_city: Path, tmp_path: Path
) -> None:
    """Issue #17, finding 17: an empty or binary --interview was ignored (exit 0), a
    binary --cases silently searched every stay, and a case dated 9999-12-31 printed a
    traceback. A file named on the command line is refused in one line, exit 1."""
    person = a_case(csv_city)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    dated = tmp_path / "dated.csv"
    dated.write_text(
        "case_id,person_ref,confirmed_date,onset_date,region\n"
        f"C1,{person},9999-12-31,0001-01-01,Jung-gu\n"
    )
    for option, given, table, reason in [
        ("--interview", empty, "interview_visits", "empty file: no header row"),
        ("--interview", binary, "interview_visits", "header is not valid UTF-8"),
        ("--cases", binary, "cases", "header is not valid UTF-8"),
        ("--cases", empty, "cases", "empty file: no header row"),
        ("--cases", dated, "cases", "9999-12-31 out of range (must be 1900-01-01 to 2100-12-31)"),
    ]:
        for contacts in ([], ["--no-contacts"]):
            result = run(
                "analyze", csv_city, "--person", person, option, given, *contacts,
                "--out", tmp_path / "out",
            )  # fmt: skip
            assert result.exit_code == 1, result.output
            assert f"{given} breaks the {table} contract: {given}:" in result.output
            assert reason in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before anything was traced or written


def test_evaluate_reports_recall_precision_and_error_per_input(
    csv_city: Path, tmp_path: Path
) -> None:
    result = run("evaluate", csv_city, "--subjects", 8, "--json", tmp_path / "eval.json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "eval.json").read_text())
    assert [r["input"] for r in rows] == ["all sources", "telecom only"]
    for row in rows:
        assert 0.5 <= row["recall"] <= 1 and 0.5 <= row["precision"] <= 1
        assert row["visits"] > 20
    assert "recall" in result.stdout


def test_evaluate_needs_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "subscribers.csv").write_text("carrier,subscriber,person_ref\nSKT,010-1,P1\n")
    result = run("evaluate", tmp_path)
    assert result.exit_code == 1
    assert "only simulated datasets can be evaluated" in result.output


def test_output_zone_can_be_chosen_and_a_bad_zone_is_a_usage_error(
    csv_city: Path, tmp_path: Path
) -> None:
    person = a_case(csv_city)
    result = run(
        "analyze", csv_city, "--person", person, "--no-contacts", "--tz", "UTC", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "+00:00" in (tmp_path / "stays.csv").read_text()
    bad = run("analyze", csv_city, "--person", person, "--tz", "Mars/Olympus", "--out", tmp_path)
    assert bad.exit_code == 2 and "unknown time zone" in bad.output
