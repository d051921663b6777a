"""Kafka's default partitioner, bit for bit.

A keyed message goes to ``toPositive(murmur2(utf8(key))) % partitions``, exactly as the Java
client's ``BuiltInPartitioner.partitionForKey`` computes it, so a key lands on the same
partition whether the embedded log or a Kafka broker stores it, and a topic written by one
can be read by the other's consumers with the same per-key order.

Unkeyed messages use Kafka's *uniform sticky* strategy: a producer keeps sending to one
partition until about ``batch_bytes`` have gone there, then moves to the next, so unkeyed
traffic is spread evenly over time without one tiny batch per partition.
"""

from __future__ import annotations

from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF

#: Kafka's ``batch.size`` default: bytes sent to one partition before an unkeyed switch.
DEFAULT_STICKY_BATCH_BYTES = 16_384


def _to_signed32(value: int) -> int:
    """Reinterpret the low 32 bits of ``value`` as a Java ``int``."""
    value &= _MASK32
    return value - 0x1_0000_0000 if value & 0x8000_0000 else value


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: 32-bit MurmurHash2, seed ``0x9747b28c``, signed result.

    Called by :func:`partition_for_key`; pure and deterministic. The result equals the
    Java client's for every input (Java ``int`` overflow and ``>>>`` reproduced on
    unsigned 32-bit values, the signed value returned at the end).
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = ((h * _M) & _MASK32) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return _to_signed32(h)


def to_positive(value: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not ``abs``, which overflows)."""
    return value & 0x7FFFFFFF


@lru_cache(maxsize=65_536)
def partition_for_key(key: str, num_partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (UTF-8 encoded).

    Called by producers for every keyed message; keys repeat (symbols), hence the cache.
    Raises ValueError if ``num_partitions`` is not positive.
    """
    if num_partitions < 1:
        raise ValueError(f"a topic has at least one partition, got {num_partitions}")
    return to_positive(murmur2(key.encode("utf-8"))) % num_partitions


class StickyPartitioner:
    """Chooses partitions for unkeyed messages of one producer, per topic.

    Owned by a producer and called once per unkeyed ``send``; not thread-safe (the
    producer serialises sends). Guarantees every partition of a topic is used in turn, each
    for roughly ``batch_bytes`` of values, so unkeyed load is spread evenly.
    """

    def __init__(self, batch_bytes: int = DEFAULT_STICKY_BATCH_BYTES) -> None:
        if batch_bytes < 1:
            raise ValueError(f"batch_bytes must be positive, got {batch_bytes}")
        self._batch_bytes = batch_bytes
        # topic -> [current partition, bytes sent to it since the last switch]
        self._state: dict[str, list[int]] = {}

    def partition(self, topic: str, num_partitions: int, size: int) -> int:
        """The partition for the next unkeyed message of ``size`` bytes on ``topic``."""
        if num_partitions < 1:
            raise ValueError(f"a topic has at least one partition, got {num_partitions}")
        state = self._state.get(topic)
        if state is None:
            # Start producers at different partitions so several of them spread load.
            state = [to_positive(murmur2(f"{id(self)}:{topic}".encode())) % num_partitions, 0]
            self._state[topic] = state
        if state[1] >= self._batch_bytes:
            state[0] = (state[0] + 1) % num_partitions
            state[1] = 0
        state[0] %= num_partitions
        state[1] += max(size, 1)
        return state[0]
