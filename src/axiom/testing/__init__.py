"""Test support that ships with Axiom: local stand-ins for services that cannot run offline."""
