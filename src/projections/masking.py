"""Masks query answers for the current reader's clearance (AC-1, ST-4, P5).

Every query handler is wrapped once, in ``bootstrap()``: in an answer, each customer's
``profile`` has the fields the reader is not cleared for masked (and lists them in
``masked_fields``), and each proposal's ``changes`` has those paths' values masked. The
clearance comes from the bus, which asked the authoriser. Masking fails closed: a handler
called with no clearance set answers as for the narrowest one, every sensitive field of the
policy masked; code that needs them all reads with full clearance, explicitly and audited
(``Ledger.reading_in_full``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ledger.domain.sensitivity import (
    NO_CLEARANCE,
    Clearance,
    current_clearance,
    mask_changes,
    mask_profile,
    reading_with,
)


def mask_answer(answer: Any, clearance: Clearance) -> Any:
    """A copy of ``answer`` with every hidden field of every profile and change set masked."""
    if isinstance(answer, list):
        return [mask_answer(item, clearance) for item in answer]
    if not isinstance(answer, dict):
        return answer
    masked = {key: mask_answer(value, clearance) for key, value in answer.items()
              if key not in ("profile", "changes")}
    if isinstance(answer.get("profile"), dict):
        masked["profile"], hidden = mask_profile(answer["profile"], clearance)
        masked["masked_fields"] = hidden
    if isinstance(answer.get("changes"), dict):
        masked["changes"] = mask_changes(answer["changes"], clearance)
    return {key: masked[key] for key in [*answer, *masked] if key in masked}


def masked(handler: Callable[[Any], Any], narrowest: Clearance) -> Callable[[Any], Any]:
    """``handler`` answering with the current reader's hidden fields masked; with no
    clearance set, with every field ``narrowest`` hides masked."""
    @wraps(handler)
    def answer(query: Any) -> Any:
        clearance = current_clearance()
        if clearance is NO_CLEARANCE:
            clearance = narrowest
        # Set for the handler too: what it may search or group by follows the same rule.
        with reading_with(clearance):
            result = handler(query)
        return mask_answer(result, clearance)

    return answer
