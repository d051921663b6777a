"""Persistence ports (:mod:`axiom.stores.base`) and their adapters."""
