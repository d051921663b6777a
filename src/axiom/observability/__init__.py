"""Metrics (defined once, in :mod:`axiom.observability.metrics`) and their exposition."""
