"""The financial relationship vocabulary of text extraction.

Extractors (rule-based and LLM) may only emit these types; the graph stores them as edge
types in upper case (``supplier_of`` -> ``SUPPLIER_OF``). Direction is always
*subject company -> counterparty*: "Apple is a customer of TSMC" is ``customer_of``
from Apple to TSMC.
"""

from __future__ import annotations

#: type -> one-line meaning (also the enum and descriptions of the LLM tool schema).
RELATION_TYPES: dict[str, str] = {
    "supplier_of": "the subject supplies goods or services to the counterparty",
    "customer_of": "the subject buys goods or services from the counterparty",
    "competes_with": "the subject and the counterparty compete in a market",
    "partner_of": "the subject has a partnership, alliance or joint venture with the counterparty",
    "subsidiary_of": "the subject is owned or controlled by the counterparty",
    "parent_of": "the subject owns or controls the counterparty",
    "invests_in": "the subject holds an equity stake in or invested in the counterparty",
    "licenses_from": "the subject licenses technology, IP or brands from the counterparty",
    "acquired": "the subject acquired the counterparty (completed or agreed)",
}

#: Types that read the same in both directions; still stored as the subject asserted them
#: (one edge per asserting company), and read with ``direction="both"``.
SYMMETRIC: frozenset[str] = frozenset({"competes_with", "partner_of"})


def edge_type(relation: str) -> str:
    """Graph edge type for a vocabulary relation (``supplier_of`` -> ``SUPPLIER_OF``)."""
    return relation.upper()


def is_known(relation: str) -> bool:
    """True when ``relation`` is in the vocabulary (the validator drops anything else)."""
    return relation in RELATION_TYPES
