"""Masks query answers for the current reader's clearance (AC-1, ST-4, P5).

Every query handler is wrapped once, in ``bootstrap()``: in an answer, each customer's
``profile`` has the fields the reader is not cleared for masked (and lists them in
``masked_fields``), and each proposal's ``changes`` has those paths' values masked. The
clearance comes from the bus, which asked the authoriser; trusted code calling a query
directly (no clearance set) gets the answer untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ledger.domain.sensitivity import (
    Clearance,
    current_clearance,
    mask_changes,
    mask_profile,
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


def masked(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``handler`` answering with the current reader's hidden fields masked."""
    @wraps(handler)
    def answer(query: Any) -> Any:
        result = handler(query)
        clearance = current_clearance()
        return result if clearance is None else mask_answer(result, clearance)

    return answer
