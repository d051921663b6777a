"""Backend-neutral pieces of the graph stores: ids, canonical form, digest, path search.

Shared by :mod:`axiom.stores.graph_embedded` and any server adapter, so that every
backend derives bare-node labels the same way, validates ``direction`` the same way and
computes :meth:`~axiom.stores.base.GraphStore.checksum` over the same canonical text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from axiom.errors import InputError, MessageError

T = TypeVar("T")

DIRECTIONS = ("both", "out", "in")
_SEP = "\x1f"  # unit separator: cannot clash with ids or JSON text
_JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


def split_node_id(node_id: str) -> tuple[str, str]:
    """``label:key`` -> ``(label, key)``, splitting at the first ``:``.

    Called before anything is written, for every edge endpoint.

    Raises:
        MessageError: the id has no ``:`` or an empty label, so it names no node; the
            graph builder sends the mutation to the DLQ.
    """
    label, sep, key = node_id.partition(":")
    if not sep or not label:
        raise MessageError(f"node id {node_id!r} is not of the form 'label:key'")
    return label, key


def check_direction(direction: str) -> str:
    """The direction, or an InputError naming the allowed values."""
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    return direction


def props_json(props: Mapping[str, Any]) -> str:
    """Canonical JSON of a property map: sorted keys at every level, no whitespace."""
    return orjson.dumps(props, option=_JSON_OPTS).decode()


def canonical_weight(weight: float) -> str:
    """The weight rounded to 10 significant digits, so float noise does not move a digest."""
    return format(float(weight), ".10g")


def graph_digest(
    nodes: Iterable[tuple[str, str, str, str]],
    edges: Iterable[tuple[str, str, str, float, str]],
) -> str:
    """blake2b of the canonical text of a graph.

    ``nodes`` are ``(id, label, key, props_json)`` sorted by id and ``edges`` are
    ``(src, type, dst, weight, props_json)`` sorted by ``(src, type, dst)``, with props
    from :func:`props_json`. Equal graphs give equal digests whatever order they were
    written in, on every backend that follows this recipe.
    """
    h = hashlib.blake2b(digest_size=32)
    for node_id, label, key, props in nodes:
        h.update(f"N{_SEP}{node_id}{_SEP}{label}{_SEP}{key}{_SEP}{props}\n".encode())
    for src, typ, dst, weight, props in edges:
        w = canonical_weight(weight)
        h.update(f"E{_SEP}{src}{_SEP}{typ}{_SEP}{dst}{_SEP}{w}{_SEP}{props}\n".encode())
    return h.hexdigest()


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (bounded SQL parameter lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _walk(parents: Mapping[str, str | None], node: str) -> list[str]:
    path = [node]
    parent = parents[node]
    while parent is not None:
        path.append(parent)
        parent = parents[parent]
    return path


def bidirectional_path(
    src: str,
    dst: str,
    expand: Callable[[list[str]], Iterable[tuple[str, str]]],
    max_hops: int,
) -> list[str] | None:
    """Shortest undirected path by breadth-first search from both ends.

    ``expand(frontier)`` returns ``(from, to)`` pairs for every edge touching a frontier
    node (one set-based query per layer). The side with the smaller frontier grows by a
    whole layer at a time; the first layer that meets the other side holds only shortest
    paths, and among them the one through the smallest meeting id (parents chosen by
    smallest id) is returned, so the answer is deterministic.

    Returns:
        The node ids from ``src`` to ``dst`` with at most ``max_hops`` edges, or None.
    """
    fwd: dict[str, str | None] = {src: None}
    bwd: dict[str, str | None] = {dst: None}
    fwd_frontier, bwd_frontier = [src], [dst]
    depth = 0
    while fwd_frontier and bwd_frontier and depth < max_hops:
        grow_fwd = len(fwd_frontier) <= len(bwd_frontier)
        seen, other = (fwd, bwd) if grow_fwd else (bwd, fwd)
        frontier = fwd_frontier if grow_fwd else bwd_frontier
        found: dict[str, str] = {}
        for a, b in expand(frontier):
            if b not in seen and (b not in found or a < found[b]):
                found[b] = a
        seen.update(found)
        depth += 1
        meets = sorted(n for n in found if n in other)
        if meets:
            mid = meets[0]
            return _walk(fwd, mid)[::-1] + _walk(bwd, mid)[1:]
        nxt = sorted(found)
        if grow_fwd:
            fwd_frontier = nxt
        else:
            bwd_frontier = nxt
    return None
