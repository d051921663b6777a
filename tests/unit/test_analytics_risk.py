from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from axiom.analytics.risk import DebtRankRound, ImpactGraph, debtrank
from axiom.errors import InputError

NODES = ("A", "B", "C", "D")


def _graph(
    edges: list[tuple[int, int, float, str]],
    type_weights: dict[str, float] | None = None,
    **kw: object,
) -> ImpactGraph:
    src, dst, w, types = zip(*edges, strict=True) if edges else ((), (), (), ())
    return ImpactGraph.from_edges(
        NODES,
        np.array(src, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        np.array(w, dtype=np.float64),
        list(types),
        type_weights or {"supplier": 1.0, "owns": 0.5, "peer": 1.0},
        **kw,  # type: ignore[arg-type]
    )


def _hand_graph() -> ImpactGraph:
    # A->B 0.5, A->C 0.2, B->C 0.4, C->D 0.5, and D->A 1.0 of a type weighted 0.5
    return _graph(
        [(0, 1, 0.5, "supplier"), (0, 2, 0.2, "supplier"), (1, 2, 0.4, "supplier"),
         (2, 3, 0.5, "supplier"), (3, 0, 1.0, "owns")]
    )  # fmt: skip


def _reference_debtrank(w_in: np.ndarray, h0: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Battiston et al. (2012) with explicit S/D/I states, one node at a time."""
    n = len(h0)
    h = h0.copy()
    state = ["D" if x > 0 else "U" for x in h]
    while "D" in state:
        new_h = h.copy()
        for i in range(n):
            inflow = sum(w_in[i, j] * h[j] for j in range(n) if state[j] == "D")
            new_h[i] = min(1.0, h[i] + inflow)
        state = [
            "I" if s == "D" else ("D" if s == "U" and new_h[i] > 0 else s)
            for i, s in enumerate(state)
        ]
        h = new_h
    return h


def test_hand_computed_example_round_by_round() -> None:
    g = _hand_graph()
    res = debtrank(g, {0: 0.8})
    # round 1: A (0.8) hits B by 0.5*0.8 = 0.4 and C by 0.2*0.8 = 0.16
    # round 2: B (0.4) hits C by 0.16 -> 0.32; C (0.16, its level when distressed) hits D
    #          by 0.5*0.16 = 0.08
    # round 3: D (0.08) hits A by 0.5*0.08 = 0.04 -> 0.84; A is inactive, nothing follows
    np.testing.assert_allclose(res.h, [0.84, 0.4, 0.32, 0.08], rtol=1e-12)
    assert res.first_round.tolist() == [0, 1, 1, 2]
    expected = [(0, 1, 0.2), (1, 2, 0.34), (2, 1, 0.4), (3, 0, 0.41)]
    assert [(r.round, r.newly_distressed) for r in res.rounds] == [e[:2] for e in expected]
    np.testing.assert_allclose([r.loss for r in res.rounds], [e[2] for e in expected])
    assert res.debtrank == pytest.approx(0.41 - 0.2)
    assert res.initial_loss == pytest.approx(0.2) and res.total_loss == pytest.approx(0.41)
    assert res.converged


def test_matches_reference_on_random_graph_and_h_is_monotonic() -> None:
    rng = np.random.default_rng(1)
    n, m = 120, 900
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    types = rng.choice(["supplier", "owns", "peer", "correlated"], m)
    tw = {"supplier": 0.8, "owns": 0.6, "peer": 0.3, "correlated": 0.2}
    value = rng.lognormal(0, 1, n)
    g = ImpactGraph.from_edges(
        [f"n{i}" for i in range(n)], src, dst, rng.uniform(0, 0.5, m), types, tw, value=value
    )
    h0 = np.zeros(n)
    h0[rng.choice(n, 3, replace=False)] = [1.0, 0.5, 0.2]
    res = debtrank(g, h0)
    want = _reference_debtrank(g.inbound.toarray(), h0, g.value)
    np.testing.assert_allclose(res.h, want, rtol=1e-12, atol=1e-15)
    steps = [debtrank(g, h0, max_rounds=k).h for k in range(len(res.rounds) + 1)]
    assert all(np.all(b >= a) for a, b in pairwise(steps))
    np.testing.assert_array_equal(steps[-1], res.h)
    losses = [r.loss for r in res.rounds]
    assert all(b >= a for a, b in pairwise(losses))
    assert np.all(res.h >= h0) and np.all(res.h <= 1.0)
    assert res.debtrank == pytest.approx(float(g.value @ (res.h - h0)))
    assert sum(r.newly_distressed for r in res.rounds) == int((res.h > 0).sum())


def test_zero_weights_do_not_propagate() -> None:
    g = _graph([(0, 1, 0.0, "supplier"), (1, 2, 0.0, "supplier")])
    assert g.inbound.nnz == 0
    res = debtrank(g, {0: 1.0})
    assert res.h.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert res.debtrank == 0.0
    assert res.first_round.tolist() == [0, -1, -1, -1]


def test_type_weight_zero_carries_nothing() -> None:
    edges = [(0, 1, 0.5, "supplier"), (0, 2, 0.9, "owns")]
    res = debtrank(_graph(edges, {"supplier": 1.0, "owns": 0.0}), {0: 1.0})
    np.testing.assert_allclose(res.h, [1.0, 0.5, 0.0, 0.0])
    res = debtrank(_graph(edges, {"supplier": 1.0, "owns": 0.5}), {0: 1.0})
    np.testing.assert_allclose(res.h, [1.0, 0.5, 0.45, 0.0])


def test_direction_and_symmetric_types() -> None:
    directed = _graph([(0, 1, 0.5, "supplier")])
    assert debtrank(directed, {1: 1.0}).h.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert debtrank(directed, {0: 1.0}).h.tolist() == [1.0, 0.5, 0.0, 0.0]
    peer = _graph([(0, 1, 0.5, "peer")])
    assert debtrank(peer, {1: 1.0}).h.tolist() == [0.5, 1.0, 0.0, 0.0]
    assert debtrank(peer, {0: 1.0}).h.tolist() == [1.0, 0.5, 0.0, 0.0]
    one_way = _graph([(0, 1, 0.5, "peer")], symmetric_types=())
    assert debtrank(one_way, {1: 1.0}).h.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_h_capped_at_one_and_inbound_capped() -> None:
    g = _graph([(0, 2, 0.9, "supplier"), (1, 2, 0.9, "supplier"), (2, 3, 3.0, "supplier")])
    sums = np.asarray(g.inbound.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, [0.0, 0.0, 1.0, 1.0])  # 1.8 and 3.0 scaled to 1
    res = debtrank(g, {0: 1.0, 1: 1.0})
    assert res.h.max() == 1.0
    np.testing.assert_allclose(res.h, [1.0, 1.0, 1.0, 1.0])
    row = _graph([(0, 2, 0.2, "supplier"), (1, 2, 0.2, "supplier")], normalize="row")
    np.testing.assert_allclose(row.inbound.toarray()[2], [0.5, 0.5, 0.0, 0.0])


def test_parallel_edges_add_and_self_loops_are_dropped() -> None:
    g = _graph([(0, 1, 0.2, "supplier"), (0, 1, 0.3, "supplier"), (2, 2, 0.9, "supplier")])
    assert g.inbound.toarray()[1, 0] == pytest.approx(0.5)
    assert g.inbound.nnz == 1


def test_values_weight_the_loss() -> None:
    g = _graph([(0, 1, 0.5, "supplier")], value=[1.0, 3.0, 0.0, 0.0])
    res = debtrank(g, {0: 1.0})
    assert res.initial_loss == pytest.approx(0.25)
    assert res.debtrank == pytest.approx(0.75 * 0.5)


def test_max_rounds_cuts_propagation() -> None:
    g = _graph([(0, 1, 1.0, "supplier"), (1, 2, 1.0, "supplier"), (2, 3, 1.0, "supplier")])
    res = debtrank(g, {0: 1.0}, max_rounds=2)
    assert not res.converged
    assert res.h.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert res.rounds[-1] == DebtRankRound(2, 1, 0.75)


def test_shock_by_id_and_risk_scores() -> None:
    g = _hand_graph()
    h0 = g.shock_vector({"A": 0.8})
    res = debtrank(g, h0)
    scores = res.to_risk_scores(g, "scn-1")
    assert [(s.symbol, s.round, s.shocked) for s in scores] == [
        ("A", 0, True),
        ("B", 1, False),
        ("C", 1, False),
        ("D", 2, False),
    ]
    assert scores[3].loss == pytest.approx(0.08)
    assert all(s.scenario_id == "scn-1" for s in scores)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(InputError, match="no type weight"):
        _graph([(0, 1, 0.5, "suplier")])
    with pytest.raises(InputError, match="outside"):
        _graph([(0, 7, 0.5, "supplier")])
    with pytest.raises(InputError, match="finite and >= 0"):
        _graph([(0, 1, -0.5, "supplier")])
    g = _hand_graph()
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        debtrank(g, {0: 1.5})
    with pytest.raises(InputError, match="outside"):
        debtrank(g, {9: 1.0})
    with pytest.raises(InputError, match="4 entries"):
        debtrank(g, np.zeros(3))
    with pytest.raises(InputError, match="not in the impact graph"):
        g.shock_vector({"Z": 1.0})
