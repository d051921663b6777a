"""Kafka's default partitioner, checked against the vectors of Kafka and librdkafka."""

from __future__ import annotations

from collections import Counter

import pytest

from axiom.bus.partitioner import StickyPartitioner, murmur2, partition_for_key, to_positive

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

# librdkafka src/rdmurmur2.c unittest (java_murmur2_results, unsigned hex)
_UNALIGNED = b"PreAmbleWillBeRemoved,ThePrePartThatIs"
LIBRDKAFKA_VECTORS = {
    b"kafka": 0xD067CF64,
    b"giberish123456789": 0x8F552B0C,
    b"1234": 0x9FC97B14,
    b"234": 0xE7C009CA,
    b"34": 0x873930DA,
    b"4": 0x5A4B5CA1,
    _UNALIGNED: 0x78424F1C,
    _UNALIGNED[1:]: 0x4A62B377,
    _UNALIGNED[2:]: 0xE0E4E09E,
    _UNALIGNED[3:]: 0x62B8B43F,
    b"": 0x106E08D9,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_java_client(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@pytest.mark.parametrize(("data", "expected"), LIBRDKAFKA_VECTORS.items())
def test_murmur2_matches_librdkafka(data: bytes, expected: int) -> None:
    assert murmur2(data) & 0xFFFFFFFF == expected
    assert -(2**31) <= murmur2(data) < 2**31


def test_empty_input_hashes_to_the_known_value() -> None:
    assert murmur2(b"") == 275646681


def test_to_positive_clears_the_sign_bit_like_java() -> None:
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(2**31)) == 0
    assert to_positive(479470107) == 479470107


def test_partition_for_key_is_to_positive_murmur2_modulo() -> None:
    assert partition_for_key("21", 100) == to_positive(-973932308) % 100 == 40
    assert partition_for_key("foobar", 6) == to_positive(-790332482) % 6
    assert partition_for_key("ünïcode", 7) == to_positive(murmur2("ünïcode".encode())) % 7
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for_key("k", 0)


def test_keys_spread_over_partitions() -> None:
    counts = Counter(partition_for_key(f"SYM{i}", 6) for i in range(6000))
    assert set(counts) == set(range(6))
    assert min(counts.values()) > 800


def test_sticky_partitioner_stays_then_rotates_through_every_partition() -> None:
    sticky = StickyPartitioner(batch_bytes=1000)
    chosen = [sticky.partition("t", 3, 250) for _ in range(24)]
    runs = [chosen[i : i + 4] for i in range(0, 24, 4)]
    assert all(len(set(run)) == 1 for run in runs), "4 x 250 bytes fill one batch"
    firsts = [run[0] for run in runs]
    assert firsts[:3] == [(firsts[0] + i) % 3 for i in range(3)]
    assert Counter(chosen) == {0: 8, 1: 8, 2: 8}


def test_sticky_partitioner_keeps_topics_apart_and_rejects_bad_input() -> None:
    sticky = StickyPartitioner(batch_bytes=10)
    first = sticky.partition("a", 2, 10)
    sticky.partition("b", 5, 10)
    assert sticky.partition("a", 2, 10) == (first + 1) % 2
    with pytest.raises(ValueError, match="batch_bytes"):
        StickyPartitioner(batch_bytes=0)
    with pytest.raises(ValueError, match="at least one partition"):
        sticky.partition("a", 0, 1)
