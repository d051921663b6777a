"""The one hierarchy of expected errors.

Every error a user can cause or meet in normal operation derives from :class:`AxiomError`
and reaches the user as one line (the CLI prints ``str(err)`` and exits non-zero, no
traceback). Anything else is a bug and keeps its traceback.

::

    AxiomError
    ├── ConfigError                 malformed setting or unknown backend URL
    │   └── MissingExtraError       the adapter's optional dependency is not installed
    ├── InputError                  bad user input
    │   ├── UnknownUniverseError    no such index / universe name
    │   ├── UnknownSymbolError      symbol not in the universe or the stores
    │   ├── DateRangeError          unparsable or empty date range
    │   └── UnknownPipelineError    no such pipeline in the catalog
    ├── BackendError                a backend failed or cannot be reached
    │   ├── BackendUnavailableError the server is down / unreachable (names it)
    │   └── TopicError              unknown topic, partition or offset out of range
    ├── MessageError                a message cannot be decoded or validated (goes to DLQ)
    ├── PipelineError               a pipeline step failed for a reason worth one line
    └── LLMError                    the language model failed or refused (after retries)
        └── BudgetExceededError     the run's LLM budget is spent; the run stops cleanly
"""

from __future__ import annotations


class AxiomError(Exception):
    """Base of every expected error; ``str(err)`` is the one line shown to the user."""


class ConfigError(AxiomError):
    """A setting is malformed or names a backend that does not exist."""


class MissingExtraError(ConfigError):
    """An adapter needs an optional dependency that is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'axiom[{extra}]'")
        self.extra = extra


class InputError(AxiomError):
    """The user gave input Axiom cannot act on."""


class UnknownUniverseError(InputError):
    """No universe (index) of that name."""


class UnknownSymbolError(InputError):
    """The symbol is not known to the universe or the stores."""


class DateRangeError(InputError):
    """A date or date range cannot be parsed or is empty."""


class UnknownPipelineError(InputError):
    """No pipeline of that name in the catalog."""


class BackendError(AxiomError):
    """A backend failed while serving a request."""


class BackendUnavailableError(BackendError):
    """A backend cannot be reached; the message names it and its URL."""


class TopicError(BackendError):
    """An unknown topic or partition, or an offset outside the log."""


class MessageError(AxiomError):
    """A message cannot be decoded or fails validation; consumers send it to the DLQ."""


class PipelineError(AxiomError):
    """A pipeline step failed for a reason that can be said in one line."""


class LLMError(AxiomError):
    """The language model could not give an answer (after the retries it was allowed)."""


class BudgetExceededError(LLMError):
    """The configured LLM budget would be exceeded; no further call is made."""
