"""Numeric columns inside JSON payloads: little-endian bytes, base64-encoded.

A price message carries thousands of bars; written as JSON numbers and ISO dates they cost
every producer and consumer a text conversion per value. Packed, a column is one string
that any language decodes with its base64 and little-endian array readers
(``"<f8"``: IEEE-754 doubles; ``"<i4"``: signed 32-bit integers). Readers also accept a
plain JSON list, so hand-written and older messages stay valid.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import numpy.typing as npt

from axiom.errors import MessageError

EPOCH_DAY = np.datetime64("1970-01-01", "D")


def pack(values: npt.ArrayLike, dtype: str) -> str:
    """``values`` as ``dtype`` (little-endian), base64 text."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def unpack(value: Any, dtype: str, name: str) -> npt.NDArray[Any]:
    """A packed string or a JSON list as a native-endian, writable array of ``dtype``."""
    native = np.dtype(dtype).newbyteorder("=")
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise MessageError(f"'{name}' is not base64: {exc}") from exc
        if len(raw) % native.itemsize:
            raise MessageError(f"'{name}' holds {len(raw)} bytes, not whole {dtype} values")
        return np.frombuffer(raw, dtype=dtype).astype(native)
    try:
        return np.asarray(value, dtype=native)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"'{name}' is not a list of numbers: {exc}") from exc


def unpack_tail(value: Any, dtype: str, name: str, k: int) -> tuple[npt.NDArray[Any], int]:
    """The last ``k`` values of a packed string or JSON list, and how many it holds.

    For a packed string only the base64 groups holding those values are decoded (and
    checked); the rest of the string is measured, not read. Raises MessageError when the
    string's length is not that of whole base64 groups of whole ``dtype`` values, or when
    the part read is not base64.
    """
    native = np.dtype(dtype).newbyteorder("=")
    if not isinstance(value, str):
        values = unpack(value, dtype, name)
        return values[max(0, values.shape[0] - k) :], int(values.shape[0])
    pad = len(value) - len(value.rstrip("="))
    size = len(value) // 4 * 3 - pad
    if len(value) % 4 or pad > 2 or size < 0 or size % native.itemsize:
        raise MessageError(f"'{name}' is not base64 of whole {dtype} values")
    n = size // native.itemsize
    take = min(max(k, 0), n)
    first = (n - take) * native.itemsize
    group = first // 3
    try:
        raw = binascii.a2b_base64(value[4 * group :], strict_mode=True)
    except binascii.Error as exc:
        raise MessageError(f"'{name}' is not base64: {exc}") from exc
    if len(raw) != size - 3 * group:
        raise MessageError(f"'{name}' is not base64 of whole {dtype} values")
    tail = np.frombuffer(raw, dtype=dtype, count=take, offset=first - 3 * group)
    return tail.astype(native), n


def pack_days(dates: npt.NDArray[np.datetime64]) -> str:
    """Dates as packed int32 days since 1970-01-01."""
    return pack((np.asarray(dates, dtype="datetime64[D]") - EPOCH_DAY).astype(np.int64), "<i4")


def unpack_days_tail(value: Any, k: int) -> tuple[npt.NDArray[np.datetime64], int]:
    """:func:`unpack_tail` of packed days since 1970-01-01, as ``datetime64[D]``."""
    days, n = unpack_tail(value, "<i4", "days", k)
    return EPOCH_DAY + days.astype(np.int64), n
