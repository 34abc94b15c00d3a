"""Column conversion with per-row problems: raw values in, contract types out.

Each function takes one column as read from a file (strings from CSV, or
whatever type a Parquet file holds) and returns the converted column plus the
rows that are wrong and why. The fast path is vectorised Arrow compute; a
per-value Python look happens only on a column already known to be broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.formats.schemas import (
    FIRST_DATE,
    LAST_DATE,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    TIMESTAMP,
    Column,
    Kind,
)

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"
_TIMESTAMP = _DATETIME + _OFFSET
_NAIVE_TIMESTAMP = _DATETIME + "$"

# Values are quoted in reasons only for columns that carry no personal identifier.
_QUOTE_LIMIT = 40


@dataclass
class Converted:
    """A converted column and the problems of its rows."""

    values: pa.Array
    # (boolean mask over rows, reason for each masked row or one reason for all)
    problems: list[tuple[np.ndarray, str | list[str]]] = field(default_factory=list)

    def flag(self, mask: np.ndarray, reason: str | Callable[[np.ndarray], list[str]]) -> None:
        if not mask.any():
            return
        self.problems.append((mask, reason(mask) if callable(reason) else reason))


def _mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array (nulls as False) as a NumPy mask."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool)


def _quote(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…")


def _values_at(array: pa.Array, mask: np.ndarray) -> list[object]:
    return array.filter(pa.array(mask)).to_pylist()


def _decode_utf8(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Binary → string; rows that are not valid UTF-8 become null and are flagged."""
    try:
        return array.cast(pa.string()), np.zeros(len(array), dtype=bool)
    except pa.ArrowInvalid:
        raw = array.to_pylist()
        bad = np.zeros(len(raw), dtype=bool)
        texts: list[str | None] = []
        for i, value in enumerate(raw):
            try:
                texts.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                bad[i] = True
                texts.append(None)
        return pa.array(texts, pa.string()), bad


def _as_text(array: pa.Array, result: Converted) -> pa.Array:
    """Any column as strings, flagging invalid UTF-8."""
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        text, bad = _decode_utf8(array)
        result.flag(bad, "not valid UTF-8")
        return text
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array.cast(pa.string())


def _blank(text: pa.Array) -> np.ndarray:
    return _mask(pc.or_(pc.is_null(text), pc.equal(pc.utf8_trim_whitespace(text), "")))


def _cast_valid(text: pa.Array, ok: np.ndarray, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast the rows in ``ok`` to ``target``; other rows become null.

    Returns the cast array and a mask of rows that passed the pattern check but
    still could not be cast (say, month 13), found one by one only when the
    vectorised cast fails.
    """
    keep = pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string()))
    try:
        return keep.cast(target), np.zeros(len(text), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values: list[object] = []
        failed = np.zeros(len(text), dtype=bool)
        for i, value in enumerate(keep.to_pylist()):
            try:
                values.append(None if value is None else pa.scalar(value).cast(target).as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                failed[i] = True
                values.append(None)
        return pa.array(values, target), failed


def _parse_text(column: Column, text: pa.Array, result: Converted) -> pa.Array:
    """Parse strings into the column's type, flagging values that do not parse."""
    stripped = pc.utf8_trim_whitespace(text)
    blank = _blank(text)
    if column.kind is Kind.FLOAT:
        pattern, what = _NUMBER, "not a number"
    elif column.kind is Kind.INT:
        pattern, what = _INTEGER, "not a whole number"
    elif column.kind is Kind.DATE:
        pattern, what = _DATE, "not a date (YYYY-MM-DD)"
    else:
        pattern, what = _TIMESTAMP, "not an ISO 8601 timestamp with a UTC offset"
    ok = _mask(pc.match_substring_regex(stripped, pattern)) & ~blank
    unparsable = ~ok & ~blank
    if column.kind is Kind.TIMESTAMP:
        naive = _mask(pc.match_substring_regex(stripped, _NAIVE_TIMESTAMP)) & unparsable
        result.flag(
            naive,
            lambda m: [
                f"timestamp without UTC offset: {_quote(v)}" for v in _values_at(stripped, m)
            ],
        )
        unparsable &= ~naive
    result.flag(unparsable, lambda m: [f"{what}: {_quote(v)}" for v in _values_at(stripped, m)])
    values, failed = _cast_valid(stripped, ok, column.arrow_type)
    result.flag(failed, lambda m: [f"{what}: {_quote(v)}" for v in _values_at(stripped, m)])
    return values


def _from_native(column: Column, array: pa.Array, result: Converted) -> pa.Array | None:
    """Convert a typed (Parquet) column; None when its type cannot hold this column."""
    kind, atype = column.kind, array.type
    if kind is Kind.TIMESTAMP and pa.types.is_timestamp(atype):
        if atype.tz is None:
            result.flag(np.ones(len(array), dtype=bool), "timestamp without UTC offset")
            return pa.nulls(len(array), TIMESTAMP)
        return array.cast(TIMESTAMP)
    if kind is Kind.DATE and pa.types.is_date(atype):
        return array.cast(pa.date32())
    numeric = pa.types.is_integer(atype) or pa.types.is_floating(atype)
    if kind is Kind.FLOAT and numeric:
        values = array.cast(pa.float64())
        # pandas writes NaN for a missing value; NaN is never a usable measurement.
        return pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
    if kind is Kind.INT and pa.types.is_integer(atype):
        return array.cast(pa.int64())
    if kind is Kind.INT and pa.types.is_floating(atype):
        whole = _mask(pc.equal(pc.floor(array), array))
        bad = ~whole & ~_mask(pc.is_null(array)) & ~_mask(pc.is_nan(array))
        result.flag(bad, lambda m: [f"not a whole number: {v}" for v in _values_at(array, m)])
        return pc.if_else(pa.array(whole), array, pa.scalar(None, atype)).cast(pa.int64())
    return None


def _check_text(column: Column, text: pa.Array, result: Converted) -> pa.Array:
    limit = MAX_ID_CHARS if column.kind is Kind.ID else MAX_TEXT_CHARS
    lengths = pc.utf8_length(text)
    result.flag(_mask(pc.greater(lengths, limit)), f"longer than {limit} characters")
    if column.choices is not None:
        known = _mask(pc.is_in(text, value_set=pa.array(column.choices)))
        unknown = ~known & ~_mask(pc.is_null(text)) & ~_mask(pc.equal(text, ""))
        allowed = ", ".join(column.choices)
        result.flag(
            unknown, lambda m: [f"{_quote(v)} is not one of {allowed}" for v in _values_at(text, m)]
        )
    return text


def _check_range(column: Column, values: pa.Array, result: Converted) -> None:
    if column.kind is Kind.DATE:
        early = pc.less(values, pa.scalar(FIRST_DATE, pa.date32()))
        late = pc.greater(values, pa.scalar(LAST_DATE, pa.date32()))
        result.flag(
            _mask(pc.or_(early, late)),
            lambda m: [
                f"{v} out of range (must be {FIRST_DATE} to {LAST_DATE})"
                for v in _values_at(values, m)
            ],
        )
    if column.kind is Kind.FLOAT:
        result.flag(_mask(pc.is_inf(values)), "not a finite number")
    if column.min is not None:
        if column.min_exclusive:
            low, rule = pc.less_equal(values, column.min), f"must be > {column.min:g}"
        else:
            low, rule = pc.less(values, column.min), f"must be ≥ {column.min:g}"
        result.flag(
            _mask(low), lambda m: [f"{v} out of range ({rule})" for v in _values_at(values, m)]
        )
    if column.max is not None:
        high = pc.greater(values, column.max)
        result.flag(
            _mask(high),
            lambda m: [
                f"{v} out of range (must be ≤ {column.max:g})" for v in _values_at(values, m)
            ],
        )


def convert_column(column: Column, array: pa.Array | pa.ChunkedArray) -> Converted:
    """Convert one raw column to the contract type of ``column``, with per-row problems."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    result = Converted(values=pa.nulls(len(array), column.arrow_type))
    native = None if column.kind in (Kind.ID, Kind.TEXT) else _from_native(column, array, result)
    if native is not None:
        values = native
    elif column.kind in (Kind.ID, Kind.TEXT):
        values = _check_text(column, _as_text(array, result), result)
    else:
        values = _parse_text(column, _as_text(array, result), result)
    # A value that failed to parse is already flagged; only genuinely absent ones are "missing".
    flagged = np.zeros(len(array), dtype=bool)
    for mask, _ in result.problems:
        flagged |= mask
    if column.kind in (Kind.ID, Kind.TEXT):
        absent = _mask(pc.is_null(values))
        empty = _mask(pc.equal(values, ""))
        if column.kind is Kind.ID and not column.nullable:
            result.flag((absent | empty) & ~flagged, "empty identifier")
        elif not column.nullable:
            result.flag(absent & ~flagged, "missing value")
        if column.nullable:  # "may be empty": an empty string means no value
            values = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), values)
    else:
        absent = _mask(pc.is_null(values)) & ~flagged
        if not column.nullable:
            result.flag(absent, "missing value")
        _check_range(column, values, result)
    result.values = values.cast(column.arrow_type)
    return result
