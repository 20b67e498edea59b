"""Vectorised string formatting with pyarrow compute (ids, timestamps, money).

Formatting tens of millions of values with Python string methods would dominate the run time;
these helpers stay in Arrow's C++ kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MONEY_TYPE = pa.decimal128(18, 2)
INT32 = pa.int32()


def fmt_id(
    prefix: str, numbers: np.ndarray, width: int, mask: np.ndarray | None = None
) -> pa.Array:
    """Formats integers as zero-padded ids, e.g. ``fmt_id("C", [1], 7) -> "C0000001"``.

    Args:
        prefix: Text before the number.
        numbers: Non-negative integers.
        width: Minimum number of digits.
        mask: Optional boolean array; True gives a null id.

    Returns:
        A pyarrow string array.
    """
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0"
    )
    out = pc.binary_join_element_wise(pa.scalar(prefix), digits, pa.scalar(""))
    if mask is not None:
        out = pc.if_else(pa.array(mask), pa.nulls(len(out), pa.string()), out)
    return out


def fmt_ts(epoch_seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Formats UTC epoch seconds as ISO-8601 strings ``YYYY-MM-DDTHH:MM:SSZ``.

    Args:
        epoch_seconds: Integer seconds since 1970-01-01 UTC.
        mask: Optional boolean array; True gives null.

    Returns:
        A pyarrow string array.
    """
    arr = pa.array(
        np.asarray(epoch_seconds, dtype=np.int64),
        type=pa.timestamp("s"),
        mask=None if mask is None else np.asarray(mask, dtype=bool),
    )
    # cast gives "YYYY-MM-DD HH:MM:SS" and is ~10x faster than pc.strftime.
    text = pc.binary_replace_slice(arr.cast(pa.string()), start=10, stop=11, replacement="T")
    return pc.binary_join_element_wise(text, pa.scalar("Z"), pa.scalar(""))


def fmt_money(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Converts integer cents to ``DECIMAL(18,2)`` (exact, no float rounding).

    Args:
        cents: Integer amounts in cents (may be negative).
        mask: Optional boolean array; True gives null.

    Returns:
        A pyarrow decimal128(18, 2) array.
    """
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    # decimal128 stores the unscaled value as a 16-byte little-endian two's complement integer.
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    validity = None
    if mask is not None:
        validity = pa.array(~np.asarray(mask, dtype=bool)).buffers()[1]
    return pa.Array.from_buffers(MONEY_TYPE, cents.size, [validity, pa.py_buffer(words.tobytes())])


def take_strings(choices: list[str | None], codes: np.ndarray) -> pa.Array:
    """Maps integer codes to strings from `choices` (None gives null)."""
    return pc.take(
        pa.array(choices, type=pa.string()), pa.array(np.asarray(codes, dtype=np.int64))
    )


def int_array(values: np.ndarray, mask: np.ndarray | None = None, type_: pa.DataType = INT32):
    """Builds an integer array with an optional null mask."""
    return pa.array(
        np.asarray(values).astype(type_.to_pandas_dtype()),
        type=type_,
        mask=None if mask is None else np.asarray(mask, dtype=bool),
    )
