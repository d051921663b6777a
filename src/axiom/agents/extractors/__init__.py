"""Relationship extractors behind one port, chosen by ``AXIOM_LLM``."""
