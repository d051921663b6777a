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


def pack_days(dates: npt.NDArray[np.datetime64]) -> str:
    """Dates as packed int32 days since 1970-01-01."""
    return pack((np.asarray(dates, dtype="datetime64[D]") - EPOCH_DAY).astype(np.int64), "<i4")


def unpack_days(value: Any) -> npt.NDArray[np.datetime64]:
    """Packed days since 1970-01-01 back to ``datetime64[D]``."""
    return EPOCH_DAY + unpack(value, "<i4", "days").astype(np.int64)
