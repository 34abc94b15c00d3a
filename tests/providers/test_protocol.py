"""The agent protocol's codec: every method round-trips through JSON and an answer file,
and answer files that break the protocol are refused with a reason, never half-read."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from epitrace.providers import protocol
from epitrace.providers.protocol import Limits, ProtocolError
from epitrace.providers.queries import (
    Circle,
    DailyWindow,
    MerchantTime,
    PlaceTimePresence,
    ProviderStore,
    QueryRefused,
    SubjectExtract,
)

UTC = dt.UTC


def first_row(store: Path, name: str) -> dict[str, Any]:
    files = sorted(store.glob(f"{name}.parquet")) or sorted(store.glob(f"{name}/*/*.parquet"))
    return pq.read_table(files[0]).slice(0, 1).to_pylist()[0]


def over_the_wire(asked: dict[str, Any]) -> dict[str, Any]:
    """What the agent receives: the question after JSON encoding and decoding."""
    return json.loads(json.dumps(asked))


def round_trip(store: ProviderStore, asked: dict[str, Any]) -> dict[str, pa.Table]:
    """Answer as the agent does, pack, unpack as the hub does; the hub's copy."""
    received = over_the_wire(asked)
    name = protocol.fingerprint(received)
    assert name == protocol.fingerprint(asked)
    blob = protocol.pack_answers([name], [protocol.answer(store, received)])
    (answer,) = protocol.unpack_answers(blob, [name])
    return answer


def day_window(ts: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=2)


@pytest.fixture(scope="module")
def carrier(stores: Path) -> ProviderStore:
    return ProviderStore(stores / "skt")


@pytest.fixture(scope="module")
def issuer(stores: Path) -> ProviderStore:
    return ProviderStore(stores / "bc")


@pytest.fixture(scope="module")
def association(stores: Path) -> ProviderStore:
    return ProviderStore(stores / "credit-finance-association")


@pytest.fixture(scope="module")
def operator(stores: Path) -> ProviderStore:
    return ProviderStore(stores / "kakao")


# --- every method round-trips ---


def test_lookup_round_trip(carrier: ProviderStore) -> None:
    person = first_row(carrier.folder, "subscribers")["person_ref"]
    asked = protocol.question(
        "lookup", registry="subscribers", column="person_ref", values=[person, person]
    )
    assert asked["args"]["values"] == [person]  # the same question, whatever the order
    got = round_trip(carrier, asked)
    want = carrier.lookup("subscribers", "person_ref", [person])
    assert got["subscribers"].equals(want) and want.num_rows >= 1


def test_whole_registry_round_trip(association: ProviderStore) -> None:
    asked = protocol.question(
        "whole_registry", registry="merchants", columns=["merchant_id", "lat", "lon"]
    )
    got = round_trip(association, asked)["merchants"]
    want = association.whole_registry("merchants", ["merchant_id", "lat", "lon"])
    assert got.column_names == ["merchant_id", "lat", "lon"]
    assert got.num_rows == want.num_rows > 0
    assert got.column("merchant_id").to_pylist() == want.column("merchant_id").to_pylist()


def test_subject_extract_round_trip_at_a_carrier(carrier: ProviderStore) -> None:
    record = first_row(carrier.folder, "telecom_by_subscriber")
    start, end = day_window(record["ts"])
    query = SubjectExtract(record["subscriber"], start, end)
    got = round_trip(carrier, protocol.question("subject_extract", query=query))
    want = carrier.subject_extract(query)
    assert set(got) == {"telecom_records", "cells"}
    for name in got:
        assert got[name].equals(want[name])
    assert got["telecom_records"].num_rows >= 1


def test_subject_extract_asks_only_for_the_tables_named(issuer: ProviderStore) -> None:
    payment = first_row(issuer.folder, "card_transactions_by_card")
    start, end = day_window(payment["ts"])
    query = SubjectExtract(payment["card_id"], start, end)
    asked = protocol.question("subject_extract", query=query, tables=["card_transactions"])
    got = round_trip(issuer, asked)
    assert set(got) == {"card_transactions"}
    assert got["card_transactions"].equals(issuer.subject_extract(query)["card_transactions"])


def test_subject_extract_at_the_association_and_gps(
    association: ProviderStore, stores: Path
) -> None:
    person = first_row(association.folder, "card_directory")["person_ref"]
    now = dt.datetime(2020, 2, 10, tzinfo=UTC)
    query = SubjectExtract(person, now, now + dt.timedelta(days=1))
    got = round_trip(association, protocol.question("subject_extract", query=query))
    assert got["card_directory"].equals(association.subject_extract(query)["card_directory"])
    gps = ProviderStore(stores / "gps")
    point = first_row(gps.folder, "gps_points")
    start, end = day_window(point["ts"])
    query = SubjectExtract(point["person_ref"], start, end)
    got = round_trip(gps, protocol.question("subject_extract", query=query))
    assert got["gps_points"].equals(gps.subject_extract(query)["gps_points"])
    assert got["gps_points"].num_rows >= 1


def test_issuers_holding_round_trip(association: ProviderStore) -> None:
    person = first_row(association.folder, "card_directory")["person_ref"]
    got = round_trip(association, protocol.question("issuers_holding", person_ref=person))
    assert got["issuers"].column("issuer").to_pylist() == association.issuers_holding(person)
    assert got["issuers"].num_rows >= 1


def test_presence_round_trip_at_a_carrier(carrier: ProviderStore) -> None:
    cell = first_row(carrier.folder, "cells")
    start = dt.datetime(2020, 2, 9, tzinfo=UTC)
    query = PlaceTimePresence(
        (Circle(cell["lat"], cell["lon"], 300.0),),
        start,
        start + dt.timedelta(days=3),
        DailyWindow(dt.time(22), dt.time(6)),
        min_dwell_min=5.0,
    )
    got = round_trip(carrier, protocol.question("presence", query=query))
    assert got["presence"].equals(carrier.presence(query))


def test_presence_at_an_entry_operator_answers_checkins(operator: ProviderStore) -> None:
    visit = first_row(operator.folder, "entry_logs")
    start, end = day_window(visit["ts"])
    query = PlaceTimePresence((Circle(visit["lat"], visit["lon"], 50.0),), start, end)
    got = round_trip(operator, protocol.question("presence", query=query))
    assert set(got) == {"checkins"}
    assert got["checkins"].equals(operator.presence(query))
    assert visit["visitor"] in got["checkins"].column("visitor").to_pylist()


def test_merchant_time_round_trip(issuer: ProviderStore) -> None:
    payment = first_row(issuer.folder, "card_transactions")
    start, end = day_window(payment["ts"])
    by_id = MerchantTime(start, end, merchant_ids=(payment["merchant_id"],), margin_min=30.0)
    got = round_trip(issuer, protocol.question("merchant_time", query=by_id))
    assert got["payments"].equals(issuer.merchant_time(by_id))
    merchant = first_row(issuer.folder, "merchants")
    near = MerchantTime(start, end, near=Circle(merchant["lat"], merchant["lon"], 500.0))
    got = round_trip(issuer, protocol.question("merchant_time", query=near))
    assert got["payments"].equals(issuer.merchant_time(near))


def test_answers_pack_to_the_same_bytes_every_time(carrier: ProviderStore) -> None:
    """A restarted agent re-sends exactly what the hub may already hold (same checksum)."""
    person = first_row(carrier.folder, "subscribers")["person_ref"]
    asked = protocol.question(
        "lookup", registry="subscribers", column="person_ref", values=[person]
    )
    name = protocol.fingerprint(asked)
    first = protocol.pack_answers([name], [protocol.answer(carrier, asked)])
    again = protocol.pack_answers([name], [protocol.answer(carrier, asked)])
    assert protocol.sha256_of(first) == protocol.sha256_of(again)
    assert {m.date_time for m in zipfile.ZipFile(io.BytesIO(first)).infolist()} == {
        protocol.ZIP_TIME
    }


# --- questions the store must not answer ---


@pytest.mark.parametrize(
    ("asked", "why"),
    [
        ({"method": "drop_table", "args": {}}, "unknown method"),
        ({"method": "lookup"}, "args must be a JSON object"),
        (["lookup"], "must be a JSON object"),
        (
            {"method": "subject_extract", "args": {"identifier": None, "start": "x", "end": "y"}},
            "identifier must be a string",
        ),
        (
            {
                "method": "subject_extract",
                "args": {"identifier": "010", "start": "2020-02-10T00:00:00", "end": "x"},
            },
            "no UTC offset",
        ),
        ({"method": "presence", "args": {"places": "here"}}, "places must be a list"),
        (
            {
                "method": "merchant_time",
                "args": {
                    "start": "2020-02-10T00:00:00+00:00",
                    "end": "2020-02-11T00:00:00+00:00",
                    "merchant_ids": ["M1"],
                    "include_online": "false",
                },
            },
            "include_online must be true or false",
        ),
        ({"method": "issuers_holding", "args": {"person_ref": None}}, "person_ref must be"),
        (
            {"method": "whole_registry", "args": {"registry": "merchants", "columns": ["pin"]}},
            "has no columns",
        ),
    ],
)
def test_malformed_questions_are_protocol_errors(
    association: ProviderStore, asked: Any, why: str
) -> None:
    with pytest.raises(ProtocolError, match=why):
        protocol.answer(association, asked)


def test_questions_beyond_the_limits_or_the_store_are_refused(
    carrier: ProviderStore, issuer: ProviderStore
) -> None:
    start = dt.datetime(2020, 2, 1, tzinfo=UTC)
    too_long = {
        "method": "subject_extract",
        "args": {
            "identifier": "010-0000-0000",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=40)).isoformat(),
        },
    }
    with pytest.raises(ProtocolError, match="longer than 31 days"):
        protocol.answer(carrier, too_long)
    near = Circle(37.5, 127.0, 100.0)
    presence = protocol.question(
        "presence", query=PlaceTimePresence((near,), start, start + dt.timedelta(days=1))
    )
    with pytest.raises(QueryRefused, match="does not answer place-time presence"):
        protocol.answer(issuer, presence)
    paid = protocol.question(
        "merchant_time", query=MerchantTime(start, start + dt.timedelta(days=1), near=near)
    )
    with pytest.raises(QueryRefused, match="does not answer merchant-time"):
        protocol.answer(carrier, paid)
    with pytest.raises(QueryRefused, match="not a public directory"):
        protocol.answer(
            carrier,
            protocol.question("whole_registry", registry="subscribers", columns=["subscriber"]),
        )
    with pytest.raises(QueryRefused, match="card directory"):
        protocol.answer(carrier, protocol.question("issuers_holding", person_ref="P000001"))


def test_a_lookup_matches_on_identifiers_only(carrier: ProviderStore) -> None:
    """By carrier it would copy every subscriber: no approval covers that."""
    bulk = protocol.question("lookup", registry="subscribers", column="carrier", values=["SKT"])
    with pytest.raises(QueryRefused, match="matches only on subscriber, person_ref"):
        protocol.answer(carrier, bulk)
    unknown = protocol.question("lookup", registry="people", column="name", values=["x"])
    with pytest.raises(QueryRefused, match="not a registry"):
        protocol.answer(carrier, unknown)
    many = protocol.question(
        "lookup",
        registry="subscribers",
        column="subscriber",
        values=[f"010-{i:08d}" for i in range(protocol.MAX_LOOKUP_VALUES + 1)],
    )
    with pytest.raises(QueryRefused, match="more than 10,000 values"):
        protocol.answer(carrier, many)


def test_a_question_fingerprint_names_the_question() -> None:
    one = {"method": "issuers_holding", "args": {"person_ref": "P1"}}
    assert protocol.fingerprint(one) == protocol.fingerprint(json.loads(json.dumps(one)))
    assert protocol.fingerprint(one) != protocol.fingerprint(
        {"method": "issuers_holding", "args": {"person_ref": "P2"}}
    )


# --- answer files the hub must refuse ---

FINGERPRINT = "f" * 64


def issuers(*names: str) -> dict[str, pa.Table]:
    return {"issuers": pa.table({"issuer": pa.array(list(names), pa.string())})}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def manifest(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"format": protocol.FORMAT, "answers": list(entries)}).encode()


def parquet(data: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(data, sink)
    return sink.getvalue()


def test_a_sound_answer_file_unpacks() -> None:
    blob = protocol.pack_answers([FINGERPRINT], [issuers("BC", "Hana")])
    (answer,) = protocol.unpack_answers(blob, [FINGERPRINT])
    assert answer["issuers"].column("issuer").to_pylist() == ["BC", "Hana"]


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not a zip archive"):
        protocol.unpack_answers(b"<html>proxy error</html>", [FINGERPRINT])


def test_an_oversized_file_is_refused_before_it_is_opened() -> None:
    blob = protocol.pack_answers([FINGERPRINT], [issuers("BC")])
    with pytest.raises(ProtocolError, match="more than the limit"):
        protocol.unpack_answers(blob, [FINGERPRINT], Limits(max_file_bytes=len(blob) - 1))


def test_a_zip_bomb_is_refused_before_anything_is_inflated() -> None:
    bomb = zipped({"manifest.json": manifest(), "0/issuers.parquet": b"\0" * (8 * 1024 * 1024)})
    assert len(bomb) < 64 * 1024
    with pytest.raises(ProtocolError, match="inflates to 8,388,6"):
        protocol.unpack_answers(bomb, [], Limits(max_inflated_bytes=1024 * 1024))


def test_a_member_lying_about_its_size_is_never_inflated_past_it() -> None:
    """Sizes in the zip's directory are checked; a member inflating beyond what it
    declares is cut at the declared size and fails its CRC."""
    table = parquet(issuers("BC")["issuers"])
    blob = bytearray(
        zipped(
            {
                "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 1}}),
                "0/issuers.parquet": table + b"\0" * (8 * 1024 * 1024),
            }
        )
    )
    lie = struct.pack("<I", len(table))
    member = zipfile.ZipFile(io.BytesIO(bytes(blob))).getinfo("0/issuers.parquet")
    local = member.header_offset
    # The central record repeats the local header's fields after its own version field.
    central = blob.find(bytes(blob[local + 6 : local + 26]), local + 30) - 8
    blob[local + 22 : local + 26] = lie
    blob[central + 24 : central + 28] = lie
    lying = zipfile.ZipFile(io.BytesIO(bytes(blob))).getinfo("0/issuers.parquet")
    assert lying.file_size == len(table)
    with pytest.raises(ProtocolError, match=r"issuers\.parquet is not a readable Parquet"):
        protocol.unpack_answers(bytes(blob), [FINGERPRINT], Limits(max_inflated_bytes=64 * 1024))


def test_a_parquet_bomb_inside_an_honest_zip_is_refused_before_decoding() -> None:
    """Parquet compresses and dictionary-encodes by itself: 20 MB of repeated issuer
    names fit in a few kB, with zip sizes that tell the truth."""
    repeated = pa.table({"issuer": pa.array(["x" * 1000] * 20_000)})
    bomb = parquet(repeated)
    assert len(bomb) < 64 * 1024
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 20_000}}),
            "0/issuers.parquet": bomb,
        }
    )
    with pytest.raises(ProtocolError, match=r"issuers\.parquet decodes to 20,080,000 bytes"):
        protocol.unpack_answers(blob, [FINGERPRINT], Limits(max_inflated_bytes=1024 * 1024))
    (answer,) = protocol.unpack_answers(blob, [FINGERPRINT])  # within the default limits
    assert answer["issuers"].equals(repeated)
    plain = pa.table({"issuer": pa.array([f"{i:0>1000}" for i in range(2_000)])})
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 2_000}}),
            "0/issuers.parquet": parquet(plain),
        }
    )
    with pytest.raises(ProtocolError, match=r"issuers\.parquet inflates to 2,0\d\d,\d{3} bytes"):
        protocol.unpack_answers(blob, [FINGERPRINT], Limits(max_inflated_bytes=1024 * 1024))


def test_repeated_numbers_are_measured_by_rows_not_by_their_stored_size() -> None:
    same = pa.table({"person_ref": ["P1"] * 200_000, "issuer": ["BC"] * 200_000})
    same = same.append_column("cards", pa.array([7] * 200_000, pa.int64()))
    blob = zipped(
        {
            "manifest.json": manifest(
                {"question": FINGERPRINT, "tables": {"card_directory": 200_000}}
            ),
            "0/card_directory.parquet": parquet(same),
        }
    )
    with pytest.raises(ProtocolError, match="inflates to 1,600,000 bytes"):
        protocol.unpack_answers(blob, [FINGERPRINT], Limits(max_inflated_bytes=1024 * 1024))


def test_too_many_members_are_refused() -> None:
    blob = zipped({f"{i}/x": b"" for i in range(11)})
    with pytest.raises(ProtocolError, match="holds 11 files"):
        protocol.unpack_answers(blob, [], Limits(max_members=10))


def test_a_member_twice_is_refused() -> None:
    good = parquet(issuers("BC")["issuers"])
    buffer = io.BytesIO()
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(buffer, "w") as archive,
    ):
        archive.writestr("manifest.json", manifest({"question": FINGERPRINT, "tables": {}}))
        archive.writestr("0/issuers.parquet", good)
        archive.writestr("0/issuers.parquet", good)
    with pytest.raises(ProtocolError, match="same file twice"):
        protocol.unpack_answers(buffer.getvalue(), [FINGERPRINT])


def test_a_stray_member_is_refused() -> None:
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 1}}),
            "0/issuers.parquet": parquet(issuers("BC")["issuers"]),
            "../../etc/cron.d/job": b"* * * * * root sh",
        }
    )
    with pytest.raises(ProtocolError, match=r"files no answer lists: \.\./\.\./etc"):
        protocol.unpack_answers(blob, [FINGERPRINT])


def test_answers_in_the_wrong_order_are_refused() -> None:
    other = "e" * 64
    blob = protocol.pack_answers([other, FINGERPRINT], [issuers("A"), issuers("B")])
    with pytest.raises(ProtocolError, match="in order"):
        protocol.unpack_answers(blob, [FINGERPRINT, other])
    with pytest.raises(ProtocolError, match="in order"):
        protocol.unpack_answers(blob, [FINGERPRINT])


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ({"0/issuers.parquet": b""}, "no manifest.json"),
        ({"manifest.json": b"{not json"}, "manifest.json is unreadable"),
        ({"manifest.json": json.dumps({"format": "other/9"}).encode()}, "not in format"),
        (
            {"manifest.json": json.dumps({"format": protocol.FORMAT}).encode()},
            "lists no answers",
        ),
        (
            {"manifest.json": manifest({"question": FINGERPRINT, "tables": ["issuers"]})},
            "tables must be an object",
        ),
        (
            {
                "manifest.json": manifest({"question": FINGERPRINT, "tables": {"passwords": 1}}),
                "0/passwords.parquet": b"",
            },
            "'passwords' is not in the protocol",
        ),
        (
            {"manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 1}})},
            "listed in the manifest but missing",
        ),
        (
            {
                "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 1}}),
                "0/issuers.parquet": b"PAR1 definitely not parquet",
            },
            "not a readable Parquet file",
        ),
        (
            {
                "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 5}}),
                "0/issuers.parquet": parquet(issuers("BC")["issuers"]),
            },
            "1 rows, the manifest says 5",
        ),
    ],
)
def test_malformed_answer_files_are_refused_with_a_reason(
    members: dict[str, bytes], why: str
) -> None:
    with pytest.raises(ProtocolError, match=why):
        protocol.unpack_answers(zipped(members), [FINGERPRINT])


def test_tables_of_the_wrong_schema_are_refused() -> None:
    missing = pa.table({"carrier": ["SKT"], "subscriber": ["010"]})  # presence without the rest
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"presence": 1}}),
            "0/presence.parquet": parquet(missing),
        }
    )
    with pytest.raises(ProtocolError, match="missing columns person_ref, window_start"):
        protocol.unpack_answers(blob, [FINGERPRINT])
    wrong_type = pa.table({"person_ref": ["P1"], "issuer": ["BC"], "cards": ["two"]})
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"card_directory": 1}}),
            "0/card_directory.parquet": parquet(wrong_type),
        }
    )
    with pytest.raises(ProtocolError, match="columns of the wrong type"):
        protocol.unpack_answers(blob, [FINGERPRINT])


def test_extra_columns_are_dropped_not_passed_on() -> None:
    """Only the schema's columns reach the hub, whatever else an agent packs."""
    extra = pa.table({"issuer": ["BC"], "resident_number": ["800101-1234567"]})
    blob = zipped(
        {
            "manifest.json": manifest({"question": FINGERPRINT, "tables": {"issuers": 1}}),
            "0/issuers.parquet": parquet(extra),
        }
    )
    (answer,) = protocol.unpack_answers(blob, [FINGERPRINT])
    assert answer["issuers"].column_names == ["issuer"]
    assert pc.all(pc.equal(answer["issuers"].column("issuer"), "BC")).as_py()


def test_packing_refuses_tables_outside_the_protocol() -> None:
    with pytest.raises(ProtocolError, match="not in the protocol"):
        protocol.pack_answers([FINGERPRINT], [{"everything": pa.table({"a": [1]})}])
    with pytest.raises(ProtocolError, match="one answer per question"):
        protocol.pack_answers([FINGERPRINT, FINGERPRINT], [issuers("BC")])
