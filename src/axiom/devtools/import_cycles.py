"""Fail if any import cycle exists among Axiom's modules (``make lint``).

Builds the module import graph with grimp (imports inside ``TYPE_CHECKING`` blocks
excluded, since they never run) and reports every strongly connected component larger
than one module, or a module importing itself.
"""

from __future__ import annotations

import sys

import grimp


def find_cycles(package: str = "axiom") -> list[list[str]]:
    """Every import cycle of ``package`` as a sorted list of modules."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    return cycles


def main() -> int:
    """Print the cycles; exit 1 if there is any."""
    cycles = find_cycles()
    for c in cycles:
        print("import cycle: " + " -> ".join(c))
    if not cycles:
        print("no import cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    raise SystemExit(main())
