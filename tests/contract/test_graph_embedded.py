"""The embedded SQLite graph store: the graph contract, plus what only the file store has."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from axiom.domain.models import Edge, Node
from axiom.errors import BackendUnavailableError, ConfigError, InputError, MessageError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.graph_embedded import EmbeddedGraphStore

from .graph_contract import EDGES, NODES, GraphStoreContract


def _store(tmp_path: Path) -> EmbeddedGraphStore:
    return EmbeddedGraphStore.from_url(
        f"embedded://{tmp_path / 'graph.db'}", Settings(home=tmp_path / "home")
    )


class TestEmbeddedGraphStore(GraphStoreContract):
    __test__ = True

    @pytest.fixture
    def graph(self, tmp_path: Path) -> Iterator[EmbeddedGraphStore]:
        store = _store(tmp_path)
        yield store
        store.close()


def test_default_url_lives_in_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with open_backend("graph", "embedded://", settings) as store:
        assert isinstance(store, EmbeddedGraphStore)
        assert store.path == settings.home_dir / "graph.db"
        store.merge_nodes(NODES)
    assert (settings.home_dir / "graph.db").exists()


def test_second_store_on_the_same_file_sees_the_data(tmp_path: Path) -> None:
    with _store(tmp_path) as writer, _store(tmp_path) as reader:
        writer.merge_nodes(NODES)
        writer.merge_edges(EDGES)
        assert reader.counts() == writer.counts()
        assert reader.checksum() == writer.checksum()
        writer.delete_edges([("Company:TSM", "SUPPLIES", "Company:AAPL")])
        assert reader.counts().relationships["SUPPLIES"] == 1


def test_another_process_reads_what_was_written(tmp_path: Path) -> None:
    with _store(tmp_path) as writer:
        writer.merge_nodes(NODES)
        writer.merge_edges(EDGES)
        expected = writer.checksum()
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from axiom.stores.graph_embedded import EmbeddedGraphStore\n"
            "with EmbeddedGraphStore(Path(sys.argv[1])) as g:\n"
            "    c = g.counts()\n"
            "    print(c.total_nodes, c.total_relationships, g.checksum())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "graph.db")],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()
    assert out == ["7", "7", expected]


def test_malformed_endpoint_is_rejected_before_writing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        batch = [Edge("Company:A", "SUPPLIES", "Company:B"), Edge("Company:A", "X", "no-label")]
        with pytest.raises(MessageError, match="no-label"):
            store.merge_edges(batch)
        assert store.counts().total_relationships == 0
        assert store.counts().total_nodes == 0


def test_unknown_direction_is_an_input_error(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.merge_edges(EDGES)
        with pytest.raises(InputError, match="direction"):
            store.neighbors("Company:AAPL", direction="sideways")


def test_zero_hops_and_zero_limit_return_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.merge_edges(EDGES)
        assert store.neighbors("Company:AAPL", hops=0) == []
        assert store.neighbors("Company:AAPL", limit=0) == []
        assert store.neighbors("Company:AAPL", edge_types=[]) == []
        nodes, edges = store.subgraph(["Company:AAPL", "Company:NOPE"], hops=0)
        assert [n.id for n in nodes] == ["Company:AAPL"]
        assert edges == []


def test_edges_iterate_across_pages(tmp_path: Path) -> None:
    types = ["CORRELATED_WITH", "SUPPLIES", "OTHER"]
    many = [
        Edge(f"Company:S{i:05d}", types[i % 3], "Company:HUB", i / 30_000) for i in range(30_000)
    ]
    with _store(tmp_path) as store:
        assert store.merge_edges(many) == 30_000
        assert len(list(store.edges())) == 30_000
        one = list(store.edges(["SUPPLIES"]))
        assert [e.src for e in one] == sorted(e.src for e in many if e.type == "SUPPLIES")
        two = list(store.edges(["CORRELATED_WITH", "SUPPLIES"]))
        assert [(e.src, e.type) for e in two] == sorted(
            (e.src, e.type) for e in many if e.type != "OTHER"
        )
        assert len(store.neighbors("Company:HUB")) == 30_000


def test_duplicate_keys_in_one_batch_keep_the_last(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        n = store.merge_edges(
            [Edge("Company:A", "T", "Company:B", 0.1), Edge("Company:A", "T", "Company:B", 0.2)]
        )
        assert n == 1
        assert [e.weight for e in store.edges()] == [0.2]
        assert (
            store.merge_nodes([Node("Company", "A", {"v": 1}), Node("Company", "A", {"v": 2})]) == 1
        )
        assert store.node("Company:A") == Node("Company", "A", {"v": 2})


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    store.close()
    with pytest.raises(BackendUnavailableError, match="closed"):
        store.counts()


def test_other_scheme_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedded://"):
        EmbeddedGraphStore.from_url("neo4j://127.0.0.1:7687", Settings(home=tmp_path))
