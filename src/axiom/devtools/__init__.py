"""Checks run by ``make lint``; not imported by Axiom itself."""
