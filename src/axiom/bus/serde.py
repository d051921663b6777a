"""The versioned message envelope and its codec (orjson).

Every value on the bus is one JSON object::

    {"type": "price_bars", "v": 1, "key": "AAPL", "ts": 1732500000000,
     "source": "ingestion", "payload": {...}}

Producers call :func:`encode`; consumers call :func:`decode`, which raises
:class:`~axiom.errors.MessageError` for anything that is not a valid envelope, so the
runner can route it to the DLQ. Readers accept every ``v`` up to :data:`VERSION`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from axiom.errors import MessageError

VERSION = 1
_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded message value."""

    type: str
    v: int
    key: str | None
    ts: int
    source: str
    payload: Any


def encode(
    type_: str, payload: Any, *, key: str | None, source: str, ts: int | None = None
) -> bytes:
    """Serialise ``payload`` in an envelope; numpy arrays go through natively."""
    env = {
        "type": type_,
        "v": VERSION,
        "key": key,
        "ts": int(time.time() * 1000) if ts is None else ts,
        "source": source,
        "payload": payload,
    }
    return orjson.dumps(env, option=_OPTS)


def decode(raw: bytes, *, expect_type: str | None = None) -> Envelope:
    """Parse and check an envelope; raises MessageError saying what is wrong."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MessageError("envelope is not a JSON object")
    missing = [k for k in ("type", "v", "ts", "source", "payload") if k not in obj]
    if missing:
        raise MessageError(f"envelope lacks {', '.join(missing)}")
    if not isinstance(obj["v"], int) or not 1 <= obj["v"] <= VERSION:
        raise MessageError(f"unsupported envelope version {obj['v']!r}")
    if expect_type is not None and obj["type"] != expect_type:
        raise MessageError(f"expected a '{expect_type}' message, got '{obj['type']}'")
    return Envelope(
        obj["type"], obj["v"], obj.get("key"), int(obj["ts"]), str(obj["source"]), obj["payload"]
    )
