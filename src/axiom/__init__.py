"""Axiom: an open market-intelligence pipeline.

Sources feed pipelines, pipelines publish to the bus, consumers are the only writers of
the stores. The backends are chosen by URL in :mod:`axiom.settings`.
"""

from __future__ import annotations

__version__ = "0.1.0"
