"""The binary COPY stream of price rows: key order across symbols of any byte length."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from axiom.domain.models import PriceBars
from axiom.stores.postgres_copy import PG_EPOCH_DAYS, PriceRows, _json


def _bars(symbol: str, n: int) -> PriceBars:
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n)
    close = np.linspace(10.0, 11.0, n)
    return PriceBars(symbol, days, close, close * 1.01, close * 0.99, close, np.full(n, 1e5))


def _keys(stream: bytes) -> list[tuple[str, int]]:
    """(symbol, day since 2000-01-01) of each tuple of a binary COPY stream."""
    assert stream.startswith(b"PGCOPY\n\xff\r\n\x00") and stream.endswith(b"\xff\xff")
    at, keys = 19, []
    while stream[at : at + 2] != b"\xff\xff":
        (fields,) = struct.unpack_from(">h", stream, at)
        at += 2
        values = []
        for _ in range(fields):
            (size,) = struct.unpack_from(">i", stream, at)
            values.append(stream[at + 4 : at + 4 + size])
            at += 4 + size
        keys.append((values[0].decode(), struct.unpack(">i", values[1])[0]))
    return keys


def test_rows_stream_in_key_order_whatever_the_symbol_widths() -> None:
    symbols = ["BRK.B", "A", "AAPL", "AA", "Z", "MSFT", "ZZ", "B"]  # widths interleave
    bars = [_bars(s, 7) for s in symbols]
    rows = PriceRows.from_bars(bars)
    for per_chunk in (3, 32_768):  # runs cut into chunks, or whole
        keys = _keys(b"".join(rows.copy_chunks(rows_per_chunk=per_chunk)))
        assert len(keys) == 7 * len(symbols)
        assert keys == sorted(keys)
        first_day = int(np.datetime64("2024-01-01", "D").astype(np.int64)) - PG_EPOCH_DAYS
        assert keys[0] == ("A", first_day)
        assert {k[0] for k in keys} == set(symbols)


def test_json_values_are_copied_as_compact_json_and_non_finite_floats_refused() -> None:
    value = {"z": 2.5, "names": ["Nestlé", 'A"B'], "n": None, "deep": {"x": [1, 1e-300]}}
    text = _json(value)
    assert text is not None and json.loads(text) == value
    assert ", " not in text and '": ' not in text  # compact separators
    assert _json(None) is None
    assert _json({"text": "null"}) == '{"text":"null"}'
    for bad in ({"z": float("nan")}, [1.0, float("inf")], {"d": {"x": [float("-inf")]}}):
        with pytest.raises(ValueError, match="NaN or infinity"):
            _json(bad)
