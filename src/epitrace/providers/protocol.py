"""What travels between the hub and an agency's agent: questions as JSON, answers as a zip.

A **question** is one call of a provider store's bounded queries
(``providers/queries.py``), written as ``{"method": ..., "args": {...}}`` with
timestamps in ISO 8601 (UTC). Only the methods in ``METHODS`` exist; anything
else is refused before a store is touched.

An **answer file** holds the answers to a task's questions, in order: a zip with
``manifest.json`` (format version, the question fingerprints, and for each answer
its table names and row counts) and one Parquet file per table,
``<index>/<table>.parquet``. Every table must have the schema its name promises
(``ANSWER_SCHEMAS``); ``unpack_answers`` checks sizes before inflating anything,
so a zip bomb or a stray file is refused with a reason, never half-read.

The same question always has the same **fingerprint** (SHA-256 of its canonical
JSON): the hub never asks twice, and knows which answer goes with which question.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from epitrace.defaults import DEFAULT_TZ
from epitrace.errors import EpitraceError
from epitrace.formats.schemas import table
from epitrace.providers.queries import (
    CARD_DIRECTORY_SCHEMA,
    CHECKIN_SCHEMA,
    MERCHANT_TIME_SCHEMA,
    PRESENCE_SCHEMA,
    Circle,
    DailyWindow,
    MerchantTime,
    PlaceTimePresence,
    ProviderStore,
    QueryRefused,
    SubjectExtract,
)

FORMAT = "epitrace-answers/1"
METHODS = (
    "lookup",
    "whole_registry",
    "subject_extract",
    "issuers_holding",
    "presence",
    "merchant_time",
)
ISSUERS_SCHEMA = pa.schema([("issuer", pa.string())])
# Every table an answer may carry, and its schema.
ANSWER_SCHEMAS: dict[str, pa.Schema] = {
    **{
        name: table(name).arrow_schema
        for name in (
            "subscribers",
            "card_holders",
            "cells",
            "merchants",
            "telecom_records",
            "card_transactions",
            "transit_taps",
            "entry_logs",
            "gps_points",
        )
    },
    "card_directory": CARD_DIRECTORY_SCHEMA,
    "presence": PRESENCE_SCHEMA,
    "checkins": CHECKIN_SCHEMA,
    "payments": MERCHANT_TIME_SCHEMA,
    "issuers": ISSUERS_SCHEMA,
}
REGISTRIES = ("subscribers", "card_holders", "cells", "merchants")
# The columns a lookup may match on: identifiers only. A lookup by carrier or
# issuer would copy a whole registry of people, which no approval covers.
LOOKUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscribers": ("subscriber", "person_ref"),
    "card_holders": ("card_id", "person_ref"),
    "cells": ("cell_id",),
    "merchants": ("merchant_id",),
}
MAX_LOOKUP_VALUES = 10_000
# Fixed member times: the same answers always pack to the same bytes (and checksum),
# so an agent restarted after a crash re-sends exactly what the hub may already hold.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ProtocolError(EpitraceError, ValueError):
    """A question or an answer file that does not follow this protocol."""


@dataclass(frozen=True)
class Limits:
    """Bounds on an answer file, checked before anything is inflated."""

    max_file_bytes: int = 256 * 1024 * 1024
    max_inflated_bytes: int = 1024 * 1024 * 1024
    max_members: int = 2_000


# --- questions ---


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ProtocolError("timestamps must carry a time zone")
    return value.astimezone(dt.UTC).isoformat()


def _when(value: object, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ProtocolError(f"{name} must be an ISO 8601 timestamp")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(f"{name} is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise ProtocolError(f"{name} has no UTC offset")
    return parsed


def _circle_json(place: Circle) -> dict[str, float]:
    return {"lat": place.lat, "lon": place.lon, "radius_m": place.radius_m}


def _daily_json(daily: DailyWindow | None) -> dict[str, str] | None:
    if daily is None:
        return None
    return {
        "start": daily.start.isoformat(),
        "end": daily.end.isoformat(),
        "timezone": daily.tz,
    }


def question(method: str, **args: Any) -> dict[str, Any]:
    """A question as JSON-ready data. ``args`` are what the store method takes."""
    if method not in METHODS:
        raise ProtocolError(f"unknown method {method!r}")
    if method == "subject_extract":
        query: SubjectExtract = args["query"]
        body: dict[str, Any] = {
            "identifier": query.identifier,
            "start": _iso(query.start),
            "end": _iso(query.end),
        }
        if args.get("tables"):
            body["tables"] = sorted(args["tables"])
        return {"method": method, "args": body}
    if method == "presence":
        presence: PlaceTimePresence = args["query"]
        return {
            "method": method,
            "args": {
                "places": [_circle_json(p) for p in presence.places],
                "start": _iso(presence.start),
                "end": _iso(presence.end),
                "daily": _daily_json(presence.daily),
                "min_dwell_min": presence.min_dwell_min,
            },
        }
    if method == "merchant_time":
        paid: MerchantTime = args["query"]
        return {
            "method": method,
            "args": {
                "start": _iso(paid.start),
                "end": _iso(paid.end),
                "merchant_ids": list(paid.merchant_ids),
                "near": _circle_json(paid.near) if paid.near is not None else None,
                "margin_min": paid.margin_min,
                "include_online": paid.include_online,
            },
        }
    if method == "lookup":
        return {
            "method": method,
            "args": {
                "registry": args["registry"],
                "column": args["column"],
                "values": sorted(set(args["values"])),
            },
        }
    if method == "whole_registry":
        return {
            "method": method,
            "args": {"registry": args["registry"], "columns": list(args["columns"])},
        }
    return {"method": method, "args": {"person_ref": args["person_ref"]}}


def fingerprint(asked: Mapping[str, Any]) -> str:
    """SHA-256 of the question's canonical JSON: the same question, the same name."""
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _args(asked: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if not isinstance(asked, Mapping):
        raise ProtocolError("a question must be a JSON object")
    method, args = asked.get("method"), asked.get("args")
    if method not in METHODS:
        raise ProtocolError(f"unknown method {method!r}")
    if not isinstance(args, Mapping):
        raise ProtocolError(f"{method}: args must be a JSON object")
    return str(method), dict(args)


def _circle(value: object, name: str) -> Circle:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{name} must be an object with lat, lon, radius_m")
    try:
        return Circle(float(value["lat"]), float(value["lon"]), float(value["radius_m"]))
    except (KeyError, TypeError, ValueError):
        raise ProtocolError(f"{name} needs numeric lat, lon and radius_m") from None


def _daily(value: object) -> DailyWindow | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ProtocolError("daily must be an object with start, end, timezone")
    try:
        return DailyWindow(
            dt.time.fromisoformat(value["start"]),
            dt.time.fromisoformat(value["end"]),
            value.get("timezone", DEFAULT_TZ),
        )
    except (KeyError, TypeError, ValueError):
        raise ProtocolError("daily needs start and end as HH:MM[:SS]") from None


def _strings(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{name} must be a list of strings")
    return value


def to_query(asked: Mapping[str, Any]) -> tuple[str, Any]:
    """(method, the validated query object or arguments). Refused beyond hard limits."""
    method, args = _args(asked)
    try:
        if method == "subject_extract":
            identifier = args.get("identifier")
            if not isinstance(identifier, str):
                raise ProtocolError("subject_extract: identifier must be a string")
            if args.get("tables") is not None:
                _strings(args["tables"], "tables")
            return method, SubjectExtract(
                identifier, _when(args.get("start"), "start"), _when(args.get("end"), "end")
            )
        if method == "presence":
            places = args.get("places")
            if not isinstance(places, list):
                raise ProtocolError("places must be a list")
            return method, PlaceTimePresence(
                tuple(_circle(p, "place") for p in places),
                _when(args.get("start"), "start"),
                _when(args.get("end"), "end"),
                _daily(args.get("daily")),
                float(args.get("min_dwell_min", 0.0)),
            )
        if method == "merchant_time":
            near = args.get("near")
            if not isinstance(args.get("include_online", False), bool):
                raise ProtocolError("merchant_time: include_online must be true or false")
            return method, MerchantTime(
                _when(args.get("start"), "start"),
                _when(args.get("end"), "end"),
                tuple(_strings(args.get("merchant_ids", []), "merchant_ids")),
                _circle(near, "near") if near is not None else None,
                float(args.get("margin_min", 0.0)),
                bool(args.get("include_online", False)),
            )
    except QueryRefused as refused:
        raise ProtocolError(f"{method}: {refused.reason}") from None
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"{method}: {error}") from None
    return method, args


def answer(store: ProviderStore, asked: Mapping[str, Any]) -> dict[str, pa.Table]:
    """Answer one question from the agency's own store: named tables.

    Raises ProtocolError for a malformed question and QueryRefused for one the store
    will not answer (beyond limits, not its kind of data).
    """
    method, query = to_query(asked)
    if method == "subject_extract":
        return store.subject_extract(query, asked["args"].get("tables"))
    if method == "presence":
        found = store.presence(query)
        return {"checkins" if store.kind == "entry_operator" else "presence": found}
    if method == "merchant_time":
        return {"payments": store.merchant_time(query)}
    if method == "issuers_holding":
        person_ref = query.get("person_ref")
        if not isinstance(person_ref, str) or not person_ref.strip():
            raise ProtocolError("issuers_holding: person_ref must be a non-empty string")
        issuers = store.issuers_holding(person_ref)
        return {"issuers": pa.table({"issuer": pa.array(issuers, pa.string())})}
    registry = str(query.get("registry", ""))
    if registry not in REGISTRIES:
        raise QueryRefused(f"{registry!r} is not a registry this exchange asks about")
    if method == "whole_registry":
        columns = _strings(query.get("columns"), "columns")
        unknown = sorted(set(columns) - set(ANSWER_SCHEMAS[registry].names))
        if not columns or unknown:
            raise ProtocolError(f"whole_registry: {registry} has no columns {unknown or '[]'}")
        return {registry: store.whole_registry(registry, columns)}
    column = query.get("column")
    if column not in LOOKUP_COLUMNS[registry]:
        raise QueryRefused(
            f"lookup in {registry} matches only on {', '.join(LOOKUP_COLUMNS[registry])}"
        )
    values = _strings(query.get("values"), "values")
    if len(values) > MAX_LOOKUP_VALUES:
        raise QueryRefused(f"lookup of more than {MAX_LOOKUP_VALUES:,} values")
    return {registry: store.lookup(registry, str(column), values)}


# --- answer files ---


def pack_answers(fingerprints: Sequence[str], answers: Sequence[Mapping[str, pa.Table]]) -> bytes:
    """The answer file for a task: one entry per question, in the task's order."""
    if len(fingerprints) != len(answers):
        raise ProtocolError("one answer per question")
    manifest: dict[str, Any] = {"format": FORMAT, "answers": []}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, (name, tables) in enumerate(zip(fingerprints, answers, strict=True)):
            counts = {}
            for table_name, rows in sorted(tables.items()):
                if table_name not in ANSWER_SCHEMAS:
                    raise ProtocolError(f"answer table {table_name!r} is not in the protocol")
                sink = io.BytesIO()
                pq.write_table(rows, sink, compression="zstd")
                _write_member(archive, f"{index}/{table_name}.parquet", sink.getvalue())
                counts[table_name] = rows.num_rows
            manifest["answers"].append({"question": name, "tables": counts})
        _write_member(archive, "manifest.json", json.dumps(manifest, sort_keys=True).encode())
    return buffer.getvalue()


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    member = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o600 << 16
    archive.writestr(member, data)


def sha256_of(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _open_archive(blob: bytes, limits: Limits) -> zipfile.ZipFile:
    if len(blob) > limits.max_file_bytes:
        raise ProtocolError(
            f"answer file is {len(blob):,} bytes, more than the limit of {limits.max_file_bytes:,}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile:
        raise ProtocolError("answer file is not a zip archive") from None
    members = archive.infolist()
    names = [m.filename for m in members]
    if len(set(names)) != len(names):
        raise ProtocolError("answer file holds the same file twice")
    if len(members) > limits.max_members:
        raise ProtocolError(f"answer file holds {len(members)} files, more than allowed")
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_inflated_bytes:
        raise ProtocolError(f"answer file inflates to {inflated:,} bytes, more than allowed")
    return archive


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except KeyError:
        raise ProtocolError("answer file has no manifest.json") from None
    except (ValueError, zipfile.BadZipFile) as error:
        raise ProtocolError(f"manifest.json is unreadable: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProtocolError(f"answer file is not in format {FORMAT}")
    if not isinstance(manifest.get("answers"), list):
        raise ProtocolError("manifest.json lists no answers")
    return manifest


def _is_text(kind: pa.DataType) -> bool:
    checks = (pa.types.is_string, pa.types.is_large_string)
    checks += (pa.types.is_binary, pa.types.is_large_binary)
    return any(check(kind) for check in checks)


def _fixed_width(kind: pa.DataType) -> bool:
    try:
        return kind.bit_width > 0
    except ValueError:  # variable width: strings, lists
        return False


def _decoded_bytes(data: pa.Table) -> int:
    """Bytes the table takes once its dictionary-encoded columns are decoded."""
    total = 0
    for column in data.columns:
        if not pa.types.is_dictionary(column.type):
            total += column.nbytes
            continue
        for chunk in column.chunks:
            total += chunk.indices.nbytes
            values = chunk.dictionary
            if _is_text(values.type):
                lengths = pc.binary_length(values)
                total += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0)
            else:
                total += len(chunk) * max(values.type.bit_width // 8, 1)
    return total


def _parquet(archive: zipfile.ZipFile, member: str, budget: list[int]) -> pa.Table:
    """A member read as Arrow, refused before decoding when it would exceed ``budget``
    (what is left of the inflated-bytes limit): Parquet compresses and dictionary-
    encodes on its own, so a small, honest-looking zip member can still be a bomb."""
    try:
        raw = archive.read(member)
        meta = pq.read_metadata(io.BytesIO(raw))
        stored = sum(
            meta.row_group(g).column(c).total_uncompressed_size
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        )
        schema = meta.schema.to_arrow_schema()
        # Fixed-width values repeated by run-length encoding take no room when stored.
        widths = sum(max(f.type.bit_width // 8, 1) for f in schema if _fixed_width(f.type))
        stored = max(stored, meta.num_rows * widths)
        if stored > budget[0]:
            raise ProtocolError(f"{member} inflates to {stored:,} bytes, more than allowed")
        texts = [f.name for f in schema if _is_text(f.type)]
        data = pq.ParquetFile(io.BytesIO(raw), read_dictionary=texts).read()  # still encoded
    except KeyError:
        raise ProtocolError(f"{member} is listed in the manifest but missing") from None
    except (pa.ArrowException, OSError, zipfile.BadZipFile) as error:
        raise ProtocolError(f"{member} is not a readable Parquet file: {error}") from None
    decoded = _decoded_bytes(data)
    if decoded > budget[0]:
        raise ProtocolError(f"{member} decodes to {decoded:,} bytes, more than allowed")
    budget[0] -= decoded
    return data


def _read_table(
    archive: zipfile.ZipFile, member: str, name: str, rows: object, budget: list[int]
) -> pa.Table:
    data = _parquet(archive, member, budget)
    schema = ANSWER_SCHEMAS[name]
    missing = [c for c in schema.names if c not in data.column_names]
    if missing and name not in REGISTRIES:  # whole_registry answers carry chosen columns
        raise ProtocolError(f"{member}: missing columns {', '.join(missing)}")
    try:
        fields = [schema.field(c) for c in data.column_names if c in schema.names]
        data = data.select([f.name for f in fields]).cast(pa.schema(fields))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ProtocolError(f"{member}: columns of the wrong type: {error}") from None
    if data.num_rows != rows:
        raise ProtocolError(f"{member}: {data.num_rows} rows, the manifest says {rows}")
    return data


def unpack_answers(
    blob: bytes, fingerprints: Sequence[str], limits: Limits | None = None
) -> list[dict[str, pa.Table]]:
    """Read and check an answer file against the questions it answers, in order."""
    limits = limits or Limits()
    budget = [limits.max_inflated_bytes]  # what every table together may take decoded
    with _open_archive(blob, limits) as archive:
        manifest = _read_manifest(archive)
        entries = manifest["answers"]
        answered = [e.get("question") if isinstance(e, dict) else None for e in entries]
        if answered != list(fingerprints):
            raise ProtocolError("answer file does not answer this task's questions, in order")
        expected = {"manifest.json"}
        answers = []
        for index, entry in enumerate(entries):
            tables = entry.get("tables")
            if not isinstance(tables, dict):
                raise ProtocolError(f"answer {index}: tables must be an object")
            found = {}
            for name, rows in tables.items():
                if name not in ANSWER_SCHEMAS:
                    raise ProtocolError(f"answer {index}: table {name!r} is not in the protocol")
                member = f"{index}/{name}.parquet"
                expected.add(member)
                found[name] = _read_table(archive, member, name, rows, budget)
            answers.append(found)
        strays = sorted(set(archive.namelist()) - expected)
        if strays:
            raise ProtocolError(f"answer file holds files no answer lists: {', '.join(strays)}")
    return answers
