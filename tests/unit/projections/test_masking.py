"""Query answers masked for the reader the bus names (the query layer's one wrapper)."""

from __future__ import annotations

from typing import Any

from ledger.domain.sensitivity import Clearance, reading_with
from projections.masking import masked

ANSWER = {
    "customers": [{"customer_id": "c1", "profile": {"basic": {"email": "a@b.cn"}}}],
    "proposals": [{"proposal_id": "p1", "changes": {"basic.email": "new@b.cn"}}],
    "reflects_position": 7,
}


def answer(_query: Any) -> dict[str, Any]:
    return ANSWER


def test_without_a_reader_clearance_the_answer_passes_untouched() -> None:
    assert masked(answer)(None) is ANSWER


def test_a_reader_without_clearance_sees_profiles_and_changes_masked() -> None:
    with reading_with(Clearance(frozenset({"basic.email"}))):
        seen = masked(answer)(None)
    assert seen["customers"][0]["profile"]["basic"]["email"] == "a***@b.cn"
    assert seen["customers"][0]["masked_fields"] == ["basic.email"]
    assert seen["proposals"][0]["changes"] == {"basic.email": "n***@b.cn"}
    assert seen["reflects_position"] == 7
