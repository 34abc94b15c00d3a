"""NumPy arrays to Arrow columns, without a Python loop over rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from epitrace.formats.schemas import TIMESTAMP


def labels(values: Sequence[str] | pa.Array, index: np.ndarray) -> pa.Array:
    """Strings ``values[index]``: a small vocabulary expanded to many rows in C++."""
    vocabulary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return vocabulary.take(pa.array(np.asarray(index, dtype=np.int64)))


def labels_or_null(values: Sequence[str] | pa.Array, index: np.ndarray) -> pa.Array:
    """Like ``labels`` but an index below 0 gives an empty (null) value."""
    index = np.asarray(index, dtype=np.int64)
    vocabulary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return vocabulary.take(pa.array(np.where(index < 0, 0, index), mask=index < 0))


def timestamps(seconds: np.ndarray) -> pa.Array:
    """UTC instants from epoch seconds (float seconds keep microseconds)."""
    micros = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pa.array(micros, type=TIMESTAMP)


def floats(values: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.float64), type=pa.float64(), mask=null_mask)
