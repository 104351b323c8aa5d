"""Masking sensitive fields for readers without clearance (P5, ST-4)."""

from __future__ import annotations

from ledger.domain.sensitivity import (
    Clearance,
    mask_changes,
    mask_email,
    mask_phone,
    mask_profile,
)

PROFILE = {
    "basic": {"name": "上海明远贸易有限公司", "phone": "+8613800138000",
              "email": "sales@mingyuan.cn"},
    "contacts": [{"name": "王芳", "title": "采购经理", "phone": "+8613900001234"}],
    "credit": {"rating": "AA", "credit_limit": {"amount": "500000", "currency": "CNY"}},
}


def test_a_phone_keeps_its_country_code_and_last_four_digits() -> None:
    assert mask_phone("+8613800001234") == "+86******1234"
    assert mask_phone("+14155552671") == "+1******2671"


def test_an_email_keeps_its_first_letter_and_domain() -> None:
    assert mask_email("sales@mingyuan.cn") == "s***@mingyuan.cn"


def test_hidden_fields_are_masked_and_named_and_the_rest_is_untouched() -> None:
    clearance = Clearance(frozenset({"basic.phone", "contacts", "credit", "basic.fax"}))
    masked, paths = mask_profile(PROFILE, clearance)
    assert paths == ["basic.phone", "contacts", "credit"]  # an empty fax is not "masked"
    assert masked["basic"] == {"name": "上海明远贸易有限公司", "phone": "+86******8000",
                               "email": "sales@mingyuan.cn"}
    assert masked["contacts"] == [{"name": "***", "title": "***", "phone": "+86******1234"}]
    assert masked["credit"] == {"rating": "***",
                                "credit_limit": {"amount": "***", "currency": "CNY"}}
    assert PROFILE["basic"]["phone"] == "+8613800138000"  # the original is not changed


def test_a_change_set_masks_the_values_of_hidden_paths() -> None:
    clearance = Clearance(frozenset({"credit"}))
    assert mask_changes({"credit.rating": "A", "basic.fax": "+862112345678"}, clearance) == {
        "credit.rating": "***", "basic.fax": "+862112345678"}
