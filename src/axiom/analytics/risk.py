"""DebtRank-style shock propagation over a typed, weighted, directed company graph.

Follows Battiston et al. (2012), "DebtRank: Too Central to Fail?". Every node has a
relative distress ``h`` in ``[0, 1]`` (0 = untouched, 1 = defaulted) and a state:
``U`` undistressed, ``D`` distressed, ``I`` inactive. A node that becomes distressed
passes its whole distress to its neighbours exactly once, in the round after it became
distressed, then turns inactive (it may still take further losses, but never propagates
again). That rule is what keeps the process finite on graphs with cycles.

Direction convention: an edge ``src -> dst`` of type ``t`` and weight ``w`` means
"distress at ``src`` hurts ``dst``" with impact ``w * type_weights[t]``. Relationship
types listed in ``symmetric_types`` (``correlated``, ``peer`` by default) are undirected
and hurt both ways. Parallel edges add up. The impact matrix is stored *inbound*:
``inbound[j, i]`` is the impact of ``i`` on ``j``, so one round is a CSR mat-vec. Each
row of ``inbound`` sums to at most 1 (rows above 1 are scaled down, or every row is
normalised, see :meth:`ImpactGraph.from_edges`), so a node can lose at most everything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from axiom.domain.models import FloatArray, RiskScore
from axiom.errors import InputError

IntArray = npt.NDArray[np.int64]
Normalize = Literal["cap", "row"]
DEFAULT_SYMMETRIC_TYPES = ("correlated", "peer")


@dataclass(frozen=True, slots=True, eq=False)
class ImpactGraph:
    """Nodes, their economic weights and the inbound impact matrix; built once per graph.

    Built by the risk pipeline with :meth:`from_edges` and reused for every scenario.
    Guarantees: ``inbound`` is ``(N, N)`` CSR with non-negative entries, no self-impact,
    and row sums ``<= 1``; ``value`` is non-negative and sums to 1.
    """

    node_ids: tuple[str, ...]
    inbound: sparse.csr_array
    value: FloatArray

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @classmethod
    def from_edges(
        cls,
        node_ids: Sequence[str],
        src_idx: npt.ArrayLike,
        dst_idx: npt.ArrayLike,
        weights: npt.ArrayLike,
        types: Sequence[str] | npt.NDArray[np.str_],
        type_weights: Mapping[str, float],
        *,
        symmetric_types: Collection[str] = DEFAULT_SYMMETRIC_TYPES,
        value: npt.ArrayLike | None = None,
        normalize: Normalize = "cap",
    ) -> ImpactGraph:
        """Build the impact matrix from parallel edge arrays.

        ``src_idx``/``dst_idx`` index ``node_ids``; the impact of one edge is
        ``weights[e] * type_weights[types[e]]``. Every type that occurs must be in
        ``type_weights`` (a weight of 0 switches a type off), so a misspelt type fails
        loudly instead of silently carrying nothing. ``normalize="cap"`` scales down only
        the rows whose inbound impact exceeds 1; ``"row"`` scales every non-empty row to 1
        (each node fully exposed to its neighbours, as in the original paper's
        leverage-capped setting). ``value`` (e.g. revenue) is normalised to sum 1;
        default: equal values. Raises InputError on any inconsistent input.
        """
        n = len(node_ids)
        src = np.asarray(src_idx, dtype=np.int64).ravel()
        dst = np.asarray(dst_idx, dtype=np.int64).ravel()
        w = np.asarray(weights, dtype=np.float64).ravel()
        kinds = np.asarray(types, dtype=str).ravel()
        if not src.shape == dst.shape == w.shape == kinds.shape:
            raise InputError("src_idx, dst_idx, weights and types must have equal lengths")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise InputError(f"edge endpoint outside 0..{n - 1}")
        if not np.all(np.isfinite(w)) or bool(np.any(w < 0)):
            raise InputError("edge weights must be finite and >= 0")
        bad = [k for k, v in type_weights.items() if not (np.isfinite(v) and v >= 0)]
        if bad:
            raise InputError(f"type weights must be finite and >= 0: {sorted(bad)}")
        uniq, inverse = np.unique(kinds, return_inverse=True)
        missing = sorted(str(k) for k in uniq if str(k) not in type_weights)
        if missing:
            raise InputError(f"no type weight for relationship types {missing}")
        per_type = np.array([type_weights[str(k)] for k in uniq], dtype=np.float64)
        both = np.array([str(k) in symmetric_types for k in uniq], dtype=bool)
        impact = w * per_type[inverse] if uniq.size else w
        twin = both[inverse] if uniq.size else np.zeros(0, dtype=bool)
        rows = np.concatenate([dst, src[twin]])
        cols = np.concatenate([src, dst[twin]])
        data = np.concatenate([impact, impact[twin]])
        keep = (rows != cols) & (data > 0)
        inbound = sparse.csr_array((data[keep], (rows[keep], cols[keep])), shape=(n, n))
        inbound.sum_duplicates()
        inbound = _normalise_rows(inbound, normalize)
        return cls(tuple(node_ids), inbound, _node_values(value, n))

    def index(self, node_id: str) -> int:
        """Position of ``node_id``; raises InputError if the graph does not have it."""
        try:
            return self.node_ids.index(node_id)
        except ValueError as exc:
            raise InputError(f"node {node_id!r} is not in the impact graph") from exc

    def shock_vector(self, shocks: Mapping[str, float]) -> FloatArray:
        """Initial distress by node id, e.g. ``{"company:ACME": 1.0}``, as an ``(N,)`` array."""
        lookup = {k: i for i, k in enumerate(self.node_ids)}
        h0 = np.zeros(self.n)
        for node_id, level in shocks.items():
            if node_id not in lookup:
                raise InputError(f"node {node_id!r} is not in the impact graph")
            h0[lookup[node_id]] = level
        return _check_shock(h0)


def _normalise_rows(m: sparse.csr_array, normalize: Normalize) -> sparse.csr_array:
    sums = np.asarray(m.sum(axis=1)).ravel()
    if normalize == "cap":
        scale = np.where(sums > 1.0, 1.0 / np.maximum(sums, 1.0), 1.0)
    elif normalize == "row":
        scale = np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 1.0)
    else:
        raise InputError(f"unknown normalize mode {normalize!r}; use 'cap' or 'row'")
    counts = np.diff(m.indptr)
    m.data *= np.repeat(scale, counts)
    return m


def _node_values(value: npt.ArrayLike | None, n: int) -> FloatArray:
    if value is None:
        return np.full(n, 1.0 / n) if n else np.zeros(0)
    v = np.asarray(value, dtype=np.float64).ravel()
    if v.shape != (n,) or not np.all(np.isfinite(v)) or bool(np.any(v < 0)) or v.sum() <= 0:
        raise InputError(f"node values must be {n} finite non-negative numbers, not all 0")
    out: FloatArray = v / v.sum()
    return out


def _check_shock(h0: FloatArray) -> FloatArray:
    if not np.all(np.isfinite(h0)) or bool(np.any(h0 < 0)) or bool(np.any(h0 > 1)):
        raise InputError("shock levels must be in [0, 1]")
    return h0


@dataclass(frozen=True, slots=True)
class DebtRankRound:
    """One round of propagation; round 0 is the initial shock itself."""

    round: int
    newly_distressed: int
    loss: float  # sum_i v_i * h_i after the round


@dataclass(frozen=True, slots=True, eq=False)
class DebtRankResult:
    """Outcome of one scenario.

    ``h`` is the final distress per node; ``first_round[i]`` the round in which node ``i``
    first had ``h > 0`` (0 for shocked nodes, -1 if never); ``rounds`` holds every round
    from 0; ``debtrank`` is the paper's ``R``: value-weighted final loss minus the initial
    shock's loss. ``converged`` is False only if ``max_rounds`` cut propagation short.
    """

    h: FloatArray
    first_round: IntArray
    rounds: tuple[DebtRankRound, ...]
    debtrank: float
    initial_loss: float
    total_loss: float
    converged: bool

    def to_risk_scores(
        self, graph: ImpactGraph, scenario_id: str, *, min_loss: float = 0.0
    ) -> list[RiskScore]:
        """One :class:`RiskScore` per node with ``h > min_loss`` (``symbol`` = node id)."""
        idx = np.flatnonzero(self.h > min_loss)
        return [
            RiskScore(
                scenario_id,
                graph.node_ids[i],
                float(self.h[i]),
                int(self.first_round[i]),
                shocked=bool(self.first_round[i] == 0),
            )
            for i in idx.tolist()
        ]


def debtrank(
    graph: ImpactGraph,
    shocks: Mapping[int, float] | npt.ArrayLike,
    *,
    max_rounds: int = 100,
) -> DebtRankResult:
    """Propagate an initial distress through ``graph`` until no node is distressed.

    Called by the risk pipeline once per scenario. ``shocks`` maps node index to initial
    distress, or is an ``(N,)`` array of it, each in ``[0, 1]``. Round ``k`` does
    ``h <- min(1, h + inbound @ (h * [state == D]))``; nodes that were ``D`` become ``I``
    and nodes with ``h > 0`` that were ``U`` become ``D``. Guarantees: ``h`` never
    decreases and stays in ``[0, 1]``; it ends after at most ``N + 1`` rounds (or
    ``max_rounds``) because every node propagates once. Raises InputError on a bad shock.
    """
    n = graph.n
    if isinstance(shocks, Mapping):
        h = np.zeros(n)
        for i, level in shocks.items():
            if not 0 <= int(i) < n:
                raise InputError(f"shocked node index {i} outside 0..{n - 1}")
            h[int(i)] = level
    else:
        h = np.array(shocks, dtype=np.float64).ravel()
        if h.shape != (n,):
            raise InputError(f"shock vector must have {n} entries, got {h.shape[0]}")
    h = _check_shock(h)
    v = graph.value
    distressed = h > 0
    touched = distressed.copy()
    first_round = np.where(distressed, 0, -1).astype(np.int64)
    initial_loss = float(v @ h)
    rounds = [DebtRankRound(0, int(distressed.sum()), initial_loss)]
    converged = True
    k = 0
    while distressed.any():
        if k >= max_rounds:
            converged = False
            break
        k += 1
        h = np.minimum(1.0, h + graph.inbound @ np.where(distressed, h, 0.0))
        distressed = (h > 0) & ~touched
        touched |= distressed
        first_round[distressed] = k
        rounds.append(DebtRankRound(k, int(distressed.sum()), float(v @ h)))
    total = float(v @ h)
    return DebtRankResult(
        h=h,
        first_round=first_round,
        rounds=tuple(rounds),
        debtrank=total - initial_loss,
        initial_loss=initial_loss,
        total_loss=total,
        converged=converged,
    )
