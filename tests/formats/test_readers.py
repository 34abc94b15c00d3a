"""Reading contract tables: types, problems with file/line/column/reason, no silent drops."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from epitrace.formats.problems import ContractError
from epitrace.formats.readers import (
    MAX_COLUMNS,
    MAX_HEADER_BYTES,
    MAX_LISTED_PER_COLUMN,
    read_dataset_table,
    read_table,
)
from epitrace.formats.schemas import TABLES, empty_table, table
from epitrace.formats.writers import conform, write_table

KST = dt.timezone(dt.timedelta(hours=9))

TELECOM_HEADER = "carrier,subscriber,ts,cell_id,event\n"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def problems_of(loaded) -> list[str]:
    return [str(p) for p in loaded.problems]


def test_good_csv_reads_with_contract_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "telecom_records.csv",
        TELECOM_HEADER + "SKT,010-1234-5678,2020-03-02T08:15:00+09:00,C17,call\n"
        "SKT,010-1234-5678,2020-03-02T08:20:30Z,C18,update\n",
    )
    loaded = read_table(path)
    assert loaded.ok
    assert loaded.table.schema == table("telecom_records").arrow_schema
    assert loaded.table.column("ts").to_pylist() == [
        dt.datetime(2020, 3, 2, 8, 15, tzinfo=KST),
        dt.datetime(2020, 3, 2, 8, 20, 30, tzinfo=dt.UTC),
    ]
    assert (loaded.rows_read, loaded.rows_rejected) == (2, 0)


def test_unknown_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path / "subscribers.csv",
        "note,carrier,subscriber,person_ref,plan\nx,KT,010-1,P000001,basic\n",
    )
    loaded = read_table(path)
    assert loaded.ok
    assert loaded.table.column_names == ["carrier", "subscriber", "person_ref"]


def test_each_bad_value_is_named_by_line_and_column_and_its_row_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cells.csv",
        "carrier,cell_id,lat,lon,radius_m\n"
        "SKT,C1,35.87,128.60,300\n"
        "SKT,C2,95,128.60,300\n"
        "SKT,C3,35.87,east,300\n"
        "SKT,C4,35.87,128.60,0\n"
        "SKT,,35.87,128.60,300\n",
    )
    loaded = read_table(path, label="cells.csv")
    assert problems_of(loaded) == [
        "cells.csv:3: lat: 95.0 out of range (must be ≤ 90)",
        "cells.csv:4: lon: not a number: 'east'",
        "cells.csv:5: radius_m: 0.0 out of range (must be > 0)",
        "cells.csv:6: cell_id: empty identifier",
    ]
    assert loaded.table.column("cell_id").to_pylist() == ["C1"]
    assert (loaded.rows_read, loaded.rows_rejected) == (5, 4)


def test_timestamp_without_offset_is_an_error_not_a_guess(tmp_path: Path) -> None:
    path = write(
        tmp_path / "telecom_records.csv", TELECOM_HEADER + "SKT,010-1,2020-03-02T08:15:00,C1,call\n"
    )
    loaded = read_table(path, label="t.csv")
    assert problems_of(loaded) == [
        "t.csv:2: ts: timestamp without UTC offset: '2020-03-02T08:15:00'"
    ]
    assert loaded.table.num_rows == 0


def test_impossible_date_that_looks_right_is_caught(tmp_path: Path) -> None:
    path = write(
        tmp_path / "telecom_records.csv",
        TELECOM_HEADER + "SKT,010-1,2020-02-30T08:15:00+09:00,C1,call\n"
        "SKT,010-1,2020-02-28T08:15:00+09:00,C1,call\n",
    )
    loaded = read_table(path, label="t.csv")
    assert [p.line for p in loaded.problems] == [2]
    assert loaded.table.num_rows == 1


def test_ragged_rows_and_blank_lines_keep_line_numbers_right(tmp_path: Path) -> None:
    path = write(
        tmp_path / "telecom_records.csv",
        TELECOM_HEADER + "SKT,010-1,2020-03-02T08:15:00+09:00,C1,call\n"  # line 2
        "\n"  # line 3: blank
        "SKT,010-1,2020-03-02T08:16:00+09:00\n"  # line 4: short
        "SKT,010-1,2020-03-02T08:17:00+09:00,C1,ping\n"  # line 5: bad event
        "SKT,010-1,2020-03-02T08:18:00+09:00,C1,sms,x\n"  # line 6: long
        "SKT,010-1,bad,C1,call\n",
    )  # line 7: bad ts
    loaded = read_table(path, label="t.csv")
    assert [(p.line, p.column) for p in loaded.problems] == [
        (4, "-"),
        (5, "event"),
        (6, "-"),
        (7, "ts"),
    ]
    assert (loaded.rows_read, loaded.rows_rejected) == (5, 4)


def test_line_numbers_stay_right_across_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("epitrace.formats.readers.CSV_BLOCK_BYTES", 1 << 12)
    rows = [f"SKT,010-1,2020-03-02T08:15:00+09:00,C{i},call\n" for i in range(5000)]
    bad_lines = {17, 2500, 4999}
    for line in bad_lines:
        rows[line - 2] = "SKT,010-1,2020-03-02T08:15:00+09:00,C1,bogus\n"
    rows[3000 - 2] = "SKT,short\n"
    loaded = read_table(write(tmp_path / "telecom_records.csv", TELECOM_HEADER + "".join(rows)))
    assert sorted(p.line for p in loaded.problems) == sorted([*bad_lines, 3000])
    assert loaded.table.num_rows == 5000 - 4


def test_missing_required_column_rejects_every_row_and_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path / "telecom_records.csv",
        "carrier,subscriber,cell_id,event\nSKT,010-1,C1,call\nSKT,010-1,C2,call\n",
    )
    loaded = read_table(path, label="t.csv")
    assert problems_of(loaded) == ["t.csv:1: ts: missing required column"]
    assert (loaded.rows_read, loaded.rows_rejected) == (2, 2)


def test_missing_optional_column_reads_as_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path / "gps_points.csv",
        "person_ref,ts,lat,lon\nP1,2020-03-02T08:15:00+09:00,35.8,128.6\n",
    )
    loaded = read_table(path)
    assert loaded.ok
    assert loaded.table.column("accuracy_m").to_pylist() == [None]


def test_empty_values_allowed_only_where_the_contract_says_may_be_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cases.csv",
        "case_id,person_ref,confirmed_date,onset_date,region\n"
        "C1,P1,2020-03-02,,Jung-gu\n"
        "C2,P2,,2020-03-01,Jung-gu\n",
    )
    loaded = read_table(path, label="cases.csv")
    assert problems_of(loaded) == ["cases.csv:3: confirmed_date: missing value"]
    assert loaded.table.column("onset_date").to_pylist() == [None]


def test_end_before_start_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "interview_visits.csv",
        "person_ref,start,end,place_name,address,lat,lon\n"
        "P1,2020-03-02T10:00:00+09:00,2020-03-02T09:00:00+09:00,Cafe,,,\n",
    )
    loaded = read_table(path, label="iv.csv")
    assert problems_of(loaded) == ["iv.csv:2: end: end before start"]


def test_bad_utf8_is_reported_on_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "merchants.csv",
        b"merchant_id,name,category,address,lat,lon\n"
        b"M1,Good,cafe,Jung-gu,35.8,128.6\n"
        b"M2,Bad\xff\xfe,cafe,Jung-gu,35.8,128.6\n",
    )
    loaded = read_table(path, label="m.csv")
    assert problems_of(loaded) == ["m.csv:3: name: not valid UTF-8"]
    assert loaded.table.column("merchant_id").to_pylist() == ["M1"]


def test_utf8_bom_and_korean_text_are_fine(tmp_path: Path) -> None:
    path = write(
        tmp_path / "merchants.csv",
        "\ufeffmerchant_id,name,category,address,lat,lon\n"
        "M1,동성로 카페,cafe,대구 중구 동성로 1,35.8691,128.5958\n",
    )
    loaded = read_table(path)
    assert loaded.ok
    assert loaded.table.column("name").to_pylist() == ["동성로 카페"]


def test_overlong_identifier_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "subscribers.csv", f"carrier,subscriber,person_ref\nSKT,{'9' * 65},P1\n"
    )
    assert problems_of(read_table(path, label="s.csv")) == [
        "s.csv:2: subscriber: longer than 64 characters"
    ]


def test_problems_are_listed_up_to_a_bound_then_summarised(tmp_path: Path) -> None:
    n = MAX_LISTED_PER_COLUMN + 50
    rows = "".join(f"SKT,C{i},35.8,999,300\n" for i in range(n))
    loaded = read_table(write(tmp_path / "cells.csv", "carrier,cell_id,lat,lon,radius_m\n" + rows))
    assert loaded.rows_rejected == n
    assert len(loaded.problems) == MAX_LISTED_PER_COLUMN + 1
    assert any("... and 50 more rows" in p.reason for p in loaded.problems)


def test_parquet_round_trip_and_problems_by_row(tmp_path: Path) -> None:
    ts = pa.array([dt.datetime(2020, 3, 2, tzinfo=dt.UTC)] * 3, pa.timestamp("ms", tz="Asia/Seoul"))
    data = pa.table(
        {
            "person_ref": ["P1", "P1", ""],
            "ts": ts,
            "lat": [35.8, 91.0, 35.8],
            "lon": [128.6, 128.6, 128.6],
            "accuracy_m": [5.0, None, float("nan")],
        }
    )
    path = tmp_path / "gps_points.parquet"
    pq.write_table(data, path)
    loaded = read_table(path, label="g.parquet")
    assert problems_of(loaded) == [
        "g.parquet:3: lat: 91.0 out of range (must be ≤ 90)",
        "g.parquet:4: person_ref: empty identifier",
    ]
    assert loaded.table.schema == table("gps_points").arrow_schema
    assert loaded.table.column("ts").type == pa.timestamp("us", tz="UTC")


def test_parquet_naive_timestamps_are_an_error(tmp_path: Path) -> None:
    data = pa.table(
        {
            "person_ref": ["P1"],
            "ts": pa.array([dt.datetime(2020, 3, 2)]),
            "lat": [35.8],
            "lon": [128.6],
        }
    )
    pq.write_table(data, tmp_path / "gps_points.parquet")
    loaded = read_table(tmp_path / "gps_points.parquet")
    assert [p.reason for p in loaded.problems] == ["timestamp without UTC offset"]
    assert loaded.rows_rejected == 1


def test_truncated_parquet_is_a_clear_problem(tmp_path: Path) -> None:
    good = write_table(table("cells").arrow_schema.empty_table(), tmp_path, "cells")
    data = good.read_bytes()
    (tmp_path / "cells.parquet").write_bytes(data[: len(data) // 2])
    loaded = read_table(tmp_path / "cells.parquet", label="cells.parquet")
    assert len(loaded.problems) == 1
    assert loaded.problems[0].reason.startswith("not a readable Parquet file")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_writers_and_readers_agree_for_every_table(tmp_path: Path, fmt: str) -> None:
    for name in TABLES:
        empty = table(name).arrow_schema.empty_table()
        write_table(empty, tmp_path, name, fmt)  # type: ignore[arg-type]
        loaded = read_dataset_table(tmp_path, name)
        assert loaded is not None and loaded.ok, name
        assert loaded.table.schema == table(name).arrow_schema


def test_csv_written_in_local_zone_reads_back_to_the_same_instants(tmp_path: Path) -> None:
    instants = [
        dt.datetime(2020, 3, 2, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2020, 3, 2, 0, 0, 0, 500_000, tzinfo=dt.UTC),
    ]
    data = pa.table(
        {
            "person_ref": ["P1", "P2"],
            "ts": pa.array(instants, pa.timestamp("us", "UTC")),
            "lat": [35.8, 35.9],
            "lon": [128.6, 128.7],
            "accuracy_m": [None, 3.5],
        }
    )
    path = write_table(data, tmp_path, "gps_points", "csv", tz="Asia/Seoul")
    assert "+09:00" in path.read_text()
    assert read_table(path).raise_for_problems().equals(data.cast(table("gps_points").arrow_schema))


def test_raise_for_problems_lists_them(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", "carrier,subscriber,person_ref\nSKT,,P1\n")
    with pytest.raises(ContractError, match=r"subscribers.csv:2: subscriber: empty identifier"):
        read_table(path).raise_for_problems()


def test_same_table_in_both_formats_is_ambiguous(tmp_path: Path) -> None:
    write_table(table("cells").arrow_schema.empty_table(), tmp_path, "cells", "csv")
    write_table(table("cells").arrow_schema.empty_table(), tmp_path, "cells", "parquet")
    with pytest.raises(ContractError, match="keep one"):
        read_dataset_table(tmp_path, "cells")


def test_a_file_arrows_parser_rejects_is_read_line_by_line_with_the_same_reports(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "telecom_records.csv",
        TELECOM_HEADER.encode() + b"SKT,010-1,2020-03-02T08:15:00+09:00,C1,call\n"
        b"\x80\xff\n"  # line 3: short, not UTF-8
        b"SKT,010-1,2020-03-02T08:16:00+09:00,C\xff1,call\n"  # line 4: bad UTF-8
        b"\n"  # line 5: blank
        b"SKT,010-1,2020-03-02T08:17:00+09:00,C2,ping\n"  # line 6: bad event
        b"SKT,010-1,2020-03-02T08:18:00+09:00,C3,sms\n",
    )
    loaded = read_table(path, label="t.csv")
    assert [str(p) for p in loaded.problems] == [
        "t.csv:3: -: expected 5 fields, found 1",
        "t.csv:4: cell_id: not valid UTF-8",
        "t.csv:6: event: 'ping' is not one of call, sms, data, update",
    ]
    assert loaded.table.column("cell_id").to_pylist() == ["C1", "C3"]
    assert (loaded.rows_read, loaded.rows_rejected) == (5, 3)


def test_finding_6_wide_header_refused_in_linear_time(tmp_path: Path) -> None:
    """Issue #17, finding 6: a header of 200,000 columns took minutes (a quadratic
    duplicate check). Too wide a header is refused in one line before any row is parsed,
    and the widest accepted header is checked in linear time. The bound below only
    guards against the quadratic blow-up (about a minute here); it is not a benchmark."""
    cells = "carrier,cell_id,lat,lon,radius_m"
    began = time.perf_counter()
    too_many = write(tmp_path / "cells.csv", cells + ",x" * 200_000 + "\n")
    assert problems_of(read_table(too_many, label="c.csv")) == [
        "c.csv:1: -: header has 200,005 columns; at most 10,000 are read"
    ]
    too_long = write(tmp_path / "cells.csv", cells + "".join(f",x{i}" for i in range(200_000)))
    assert problems_of(read_table(too_long, label="c.csv")) == [
        f"c.csv:1: -: header line longer than {MAX_HEADER_BYTES:,} bytes"
    ]
    widest = write(tmp_path / "cells.csv", ",".join(["cell_id", cells] * (MAX_COLUMNS // 6)))
    assert problems_of(read_table(widest, label="c.csv")) == [
        f"c.csv:1: {name}: column appears more than once" for name in sorted(cells.split(","))
    ]
    assert time.perf_counter() - began < 5


def test_finding_17_case_dates_outside_1900_to_2100_are_contract_problems(tmp_path: Path) -> None:
    """Issue #17, finding 17: 0001-01-01 or 9999-12-31 passed the reader and overflowed
    the date arithmetic of every command that used them (a traceback)."""
    path = write(
        tmp_path / "cases.csv",
        "case_id,person_ref,confirmed_date,onset_date,region\n"
        "C1,P1,9999-12-31,2020-02-01,Jung-gu\n"
        "C2,P2,2020-02-12,0001-01-01,Jung-gu\n"
        "C3,P3,2100-12-31,1900-01-01,Jung-gu\n",
    )
    loaded = read_table(path, label="cases.csv")
    assert problems_of(loaded) == [
        "cases.csv:2: confirmed_date: 9999-12-31 out of range (must be 1900-01-01 to 2100-12-31)",
        "cases.csv:3: onset_date: 0001-01-01 out of range (must be 1900-01-01 to 2100-12-31)",
    ]
    assert loaded.table.column("case_id").to_pylist() == ["C3"]


def test_a_stays_table_from_before_the_districts_still_writes_and_reads(tmp_path: Path) -> None:
    spec = table("stays")
    old = [c for c in spec.column_names if c not in ("sido", "sigungu", "emd", "sigungu_code")]
    written = conform(empty_table("stays").select(old), spec)
    assert written.schema == spec.arrow_schema
    with pytest.raises(ValueError, match="missing columns lat"):
        conform(empty_table("stays").drop_columns(["lat"]), spec)
    path = write_table(written, tmp_path, "stays", "csv")
    assert read_table(path).raise_for_problems().column_names == spec.column_names
