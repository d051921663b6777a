"""``python -m axiom`` runs the command line."""

from __future__ import annotations

from axiom.cli import main

if __name__ == "__main__":
    main()
