"""The extractor named by ``AXIOM_LLM``: ``offline`` or ``anthropic:<model>``.

Called once per worker (thread pool or Ray actor) by the company-graph agent. A typo gets
the nearest valid name; the Claude extractor is imported only when asked for, so the
``llm`` extra costs nothing until used.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from axiom.errors import ConfigError

if TYPE_CHECKING:
    from axiom.agents.costs import CostGovernor
    from axiom.agents.extractors.base import Extractor
    from axiom.settings import Settings

KINDS = ("offline", "anthropic")


def open_extractor(settings: Settings, governor: CostGovernor) -> Extractor:
    """The extractor of ``settings.llm``; raises ConfigError for an unknown name."""
    kind = settings.llm.split(":", 1)[0].strip().lower()
    if kind == "offline":
        from axiom.agents.extractors.rules import RulesExtractor

        return RulesExtractor.from_settings(settings)
    if kind == "anthropic":
        from axiom.agents.extractors.claude import ClaudeExtractor

        return ClaudeExtractor.from_settings(settings, governor)
    near = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else "; use 'offline' or 'anthropic:<model>'"
    raise ConfigError(f"unknown extractor AXIOM_LLM='{settings.llm}'{hint}")
