"""Query answers masked for the reader the bus names (the query layer's one wrapper)."""

from __future__ import annotations

from typing import Any

from ledger.domain.sensitivity import (
    FULL_CLEARANCE,
    NO_CLEARANCE,
    Clearance,
    current_clearance,
    mask_profile,
    reading_with,
)
from projections.masking import masked

ANSWER = {
    "customers": [{"customer_id": "c1", "profile": {"basic": {"email": "a@b.cn"}}}],
    "proposals": [{"proposal_id": "p1", "changes": {"basic.email": "new@b.cn"}}],
    "reflects_position": 7,
}


def answer(_query: Any) -> dict[str, Any]:
    return ANSWER


NARROWEST = Clearance.narrowest({"basic.email"})


def test_without_a_reader_clearance_the_answer_is_masked_as_for_the_narrowest() -> None:
    seen = masked(answer, NARROWEST)(None)
    assert seen["customers"][0]["profile"]["basic"]["email"] == "a***@b.cn"
    assert seen["proposals"][0]["changes"] == {"basic.email": "n***@b.cn"}


def test_only_full_clearance_set_explicitly_shows_every_field() -> None:
    with reading_with(FULL_CLEARANCE):
        seen = masked(answer, NARROWEST)(None)
    assert seen["customers"][0]["profile"]["basic"]["email"] == "a@b.cn"
    assert seen["proposals"][0]["changes"] == {"basic.email": "new@b.cn"}


def test_code_without_the_policy_at_hand_masks_every_field() -> None:
    """``NO_CLEARANCE``, what reading with none set means where no policy is at hand,
    hides every path, sensitive or not."""
    assert current_clearance() is NO_CLEARANCE
    profile = {"basic": {"name": "ACME", "email": "a@b.cn"}, "source_channel": "fair"}
    masked_profile, paths = mask_profile(profile, current_clearance())
    assert masked_profile == {"basic": {"name": "***", "email": "a***@b.cn"},
                              "source_channel": "***"}
    assert paths == ["basic.email", "basic.name", "source_channel"]
    assert NO_CLEARANCE.readable(["basic.name", "basic.phone"]) == []


def test_a_reader_without_clearance_sees_profiles_and_changes_masked() -> None:
    with reading_with(Clearance(frozenset({"basic.email"}))):
        seen = masked(answer, Clearance(frozenset()))(None)
    assert seen["customers"][0]["profile"]["basic"]["email"] == "a***@b.cn"
    assert seen["customers"][0]["masked_fields"] == ["basic.email"]
    assert seen["proposals"][0]["changes"] == {"basic.email": "n***@b.cn"}
    assert seen["reflects_position"] == 7
