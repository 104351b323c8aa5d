"""The entry standard (CI-4), mandatory fields (CI-3) and change paths of a customer profile.

Given raw input as a caller sends it, when it is validated, then it is either stored in
one normalised form or refused with every bad field named, and never its value.
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from faker import Faker
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.domain.errors import ValidationFailedError
from ledger.domain.profile import (
    CHANGEABLE_PATHS,
    _normalise_text_fully,
    apply_changes,
    normalise_text,
    paths_overlap,
    validate_changes,
    validate_profile,
)
from ledger.policy import load_policy
from tests.factories import make_profile

MANDATORY = load_policy().mandatory_fields
PHONE_OR_EMAIL = "basic.phone | basic.email"


def valid(profile: dict[str, Any]) -> dict[str, Any]:
    return validate_profile(profile, MANDATORY)


def refusal(profile: Any, mandatory: list[list[str]] = MANDATORY) -> ValidationFailedError:
    with pytest.raises(ValidationFailedError) as caught:
        validate_profile(profile, mandatory)
    return caught.value


def full_width(text: str) -> str:
    """The same characters as typed with a Chinese input method's full-width mode."""
    return "".join(chr(ord(char) + 0xFEE0) if char != " " else "\u3000" for char in text)


def money(amount: Any, currency: str = "CNY") -> dict[str, Any]:
    return {"price_expectation": {"amount": amount, "currency": currency}}


@pytest.fixture(params=["zh_CN", "en_US"])
def profile(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A complete profile as a caller would send it, in Chinese or in English."""
    return make_profile(request.param, seed=7)


# CI-4 phones ----------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "stored"), [
    ("+86 138 1234 5678", "+8613812345678"),
    ("+86-138-1234-5678", "+8613812345678"),
    ("(+86) 13812345678", "+8613812345678"),
    (full_width("+86 138 1234 5678"), "+8613812345678"),
    ("+1 (202) 555-0100", "+12025550100"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_international_phone_numbers_are_stored_in_e164(typed: str, stored: str) -> None:
    result = valid(make_profile(basic__phone=typed, basic__fax=typed))
    assert result["basic"]["phone"] == stored
    assert result["basic"]["fax"] == stored


@pytest.mark.parametrize("local", ["13812345678", "021 6234 5678", "008613812345678"])
def test_a_number_without_plus_and_country_code_is_refused_never_guessed(local: str) -> None:
    assert refusal(make_profile(basic__phone=local)).fields == ["basic.phone"]


def test_local_numbers_are_refused_in_fax_and_contacts_too() -> None:
    contacts = [{"name": "王芳", "phone": "13812345678"}]
    error = refusal(make_profile(basic__fax="01062345678", contacts=contacts))
    assert error.fields == ["basic.fax", "contacts.0.phone"]


@pytest.mark.parametrize("malformed", ["+86 1381234", "+86138123456789999", "call me"])
def test_a_malformed_international_number_is_refused(malformed: str) -> None:
    assert refusal(make_profile(basic__phone=malformed)).fields == ["basic.phone"]


# CI-4 emails ----------------------------------------------------------------------------

def test_emails_are_trimmed_and_lower_cased() -> None:
    contacts = [{"name": "Li Wei", "email": "Li.Wei@Example.ORG"}]
    result = valid(make_profile(basic__email="  Sales.Dept@Example.COM ", contacts=contacts))
    assert result["basic"]["email"] == "sales.dept@example.com"
    assert result["contacts"][0]["email"] == "li.wei@example.org"


@pytest.mark.parametrize("malformed", [
    "sales", "sales@", "sales@example", "sales@@example.com", "sales dept@example.com",
    "sales@example..com", "sales@example.invalid",
])
def test_a_malformed_email_is_refused(malformed: str) -> None:
    assert refusal(make_profile(basic__email=malformed)).fields == ["basic.email"]


# CI-4 names and text --------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "stored"), [
    ("  北京星辰科技有限公司  ", "北京星辰科技有限公司"),
    ("北京\u3000星辰 \t 科技\n有限公司", "北京 星辰 科技 有限公司"),
    ("\uf9dc盛贸易", "\u9686盛贸易"),  # a CJK compatibility ideograph becomes the unified one
    ("Cafe\u0301   Lumie\u0300re Ltd", "Café Lumière Ltd"),
])
def test_names_are_trimmed_nfc_normalised_and_whitespace_collapsed(typed: str, stored: str
                                                                   ) -> None:
    result = valid(make_profile(basic__name=typed, basic__legal_representative=typed))
    assert result["basic"]["name"] == stored
    assert result["basic"]["legal_representative"] == stored


def test_addresses_and_free_text_are_normalised_the_same_way() -> None:
    address = {"country": "CN", "city": " 上海 ", "street": "南京西路\u3000\u3000100号"}
    result = valid(make_profile(basic__address=address, basic__business_scope=" 软件  开发 "))
    assert result["basic"]["address"]["city"] == "上海"
    assert result["basic"]["address"]["street"] == "南京西路 100号"
    assert result["basic"]["business_scope"] == "软件 开发"


def test_a_name_longer_than_the_limit_is_refused() -> None:
    assert refusal(make_profile(basic__name="长" * 201)).fields == ["basic.name"]


# CI-4 country codes ---------------------------------------------------------------------

@pytest.mark.parametrize("country", ["CN", "US", "HK", "TW", "DE"])
def test_country_codes_from_the_iso_list_are_accepted(country: str) -> None:
    result = valid(make_profile(basic__address={"country": country}))
    assert result["basic"]["address"]["country"] == country


@pytest.mark.parametrize("vague", ["XX", "China", "中国", "CHN", "", None])
def test_a_country_outside_the_fixed_list_is_refused(vague: Any) -> None:
    error = refusal(make_profile(basic__address={"country": vague, "city": "上海"}))
    assert error.fields == ["basic.address.country"]


# CI-4 money -----------------------------------------------------------------------------

def test_money_is_kept_as_an_exact_decimal_with_its_currency(profile: dict[str, Any]) -> None:
    result = valid({**profile, "needs": money("1234567.50", "USD")})
    stored = result["needs"]["price_expectation"]
    assert stored == {"amount": "1234567.50", "currency": "USD"}
    assert Decimal(stored["amount"]) == Decimal("1234567.50")


def test_a_float_amount_is_refused_because_it_may_already_have_lost_digits() -> None:
    error = refusal(make_profile(needs=money(1234.5)))
    assert error.fields == ["needs.price_expectation.amount"]
    assert "not a float" in error.problems[0].message


@pytest.mark.parametrize("amount", ["1234.5", 1234])
def test_a_string_or_integer_amount_is_kept_exactly(amount: Any) -> None:
    result = valid(make_profile(needs=money(amount)))
    assert Decimal(result["needs"]["price_expectation"]["amount"]) == Decimal(str(amount))


@pytest.mark.parametrize("lossy", [0.1 + 0.2, 1 / 3, "1.23456"])
def test_an_amount_with_more_than_four_places_is_refused_not_rounded(lossy: Any) -> None:
    error = refusal(make_profile(needs=money(lossy)))
    assert error.fields == ["needs.price_expectation.amount"]


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "一千元", None])
def test_an_amount_that_is_not_a_finite_number_is_refused(amount: Any) -> None:
    error = refusal(make_profile(needs=money(amount)))
    assert error.fields == ["needs.price_expectation.amount"]


@pytest.mark.parametrize("currency", ["RMB", "XYZ", "元", ""])
def test_a_currency_outside_iso_4217_is_refused(currency: str) -> None:
    error = refusal(make_profile(needs=money("10", currency)))
    assert error.fields == ["needs.price_expectation.currency"]


def test_money_without_a_currency_is_refused() -> None:
    error = refusal(make_profile(needs={"price_expectation": {"amount": "10"}}))
    assert error.fields == ["needs.price_expectation.currency"]


# CI-4 unknown fields --------------------------------------------------------------------

def test_unknown_fields_are_refused_at_every_level(profile: dict[str, Any]) -> None:
    profile = {**profile, "nickname": "x",
               "basic": {**profile["basic"], "wechat": "x",
                         "address": {"country": "CN", "floor": "3"}},
               "contacts": [{"name": "王芳", "qq": "12345"}]}
    error = refusal(profile)
    # Each unknown key is the caller's text: its parent is named, never the key itself.
    assert error.fields == ["basic", "basic.address", "contacts.0", "profile"]
    assert {p.message for p in error.problems} == {"names a field that does not exist"}
    for key in ("nickname", "wechat", "floor", "qq"):
        assert key not in str(error.as_dict())


def test_a_profile_that_is_not_an_object_is_refused() -> None:
    assert refusal(["not", "an", "object"]).fields == ["profile"]


# CI-3 mandatory fields ------------------------------------------------------------------

def test_an_empty_profile_names_every_mandatory_field_at_once() -> None:
    assert set(refusal({}).fields) == {
        "basic.name", "basic.legal_representative", "basic.address", PHONE_OR_EMAIL,
        "basic.business_scope", "source_channel"}


def test_missing_and_malformed_fields_are_all_named_in_one_refusal(
        profile: dict[str, Any]) -> None:
    basic = {**profile["basic"], "phone": "13812345678", "address": {"country": "ZZ"}}
    del basic["name"]
    error = refusal({**profile, "basic": basic, "source_channel": "fax_machine",
                     "needs": money("5", "RMB")})
    assert error.fields == ["basic.address.country", "basic.name", "basic.phone",
                            "needs.price_expectation.currency", "source_channel"]


@pytest.mark.parametrize("keep", ["phone", "email"])
def test_either_a_phone_or_an_email_is_enough(keep: str) -> None:
    drop = "email" if keep == "phone" else "phone"
    without: dict[str, Any] = {f"basic__{drop}": None}
    result = valid(make_profile(**without))
    assert result["basic"][keep] is not None
    assert result["basic"][drop] is None


def test_neither_phone_nor_email_is_refused_naming_both_alternatives() -> None:
    error = refusal(make_profile(basic__phone=None, basic__email=None))
    assert error.fields == [PHONE_OR_EMAIL]
    assert "basic.phone" in error.problems[0].message
    assert "basic.email" in error.problems[0].message


def test_whitespace_only_values_count_as_missing() -> None:
    error = refusal(make_profile(basic__name="   ", basic__legal_representative="\u3000",
                                 basic__business_scope="\t\n", basic__phone=" ",
                                 basic__email=""))
    assert set(error.fields) == {"basic.name", "basic.legal_representative",
                                 "basic.business_scope", PHONE_OR_EMAIL}


def test_an_empty_address_counts_as_missing() -> None:
    assert "basic.address" in refusal(make_profile(basic__address={})).fields


def test_the_mandatory_list_comes_from_the_policy() -> None:
    error = refusal(make_profile(basic__fax=None), mandatory=[["basic.fax"]])
    assert error.fields == ["basic.fax"]


def test_a_complete_profile_in_either_language_is_accepted(profile: dict[str, Any]) -> None:
    result = valid(profile)
    assert result["basic"]["name"] == profile["basic"]["name"].strip()
    assert result["source_channel"] == profile["source_channel"]


# Change paths ---------------------------------------------------------------------------

def test_a_change_returns_only_the_named_paths_normalised(profile: dict[str, Any]) -> None:
    current = valid(profile)
    changes = validate_changes(
        current, {"basic.phone": "+86 139 0000 1111", "business.business_type": " 批发 "},
        MANDATORY)
    assert changes == {"basic.phone": "+8613900001111", "business.business_type": "批发"}


def test_whole_valued_paths_replace_the_value(profile: dict[str, Any]) -> None:
    contacts = [{"name": " 赵六 ", "email": "ZHAO@Example.com"}]
    changes = validate_changes(valid(profile), {"contacts": contacts}, MANDATORY)
    assert changes["contacts"] == [{"name": "赵六", "title": None, "phone": None,
                                    "email": "zhao@example.com"}]


@pytest.mark.parametrize("path", ["basic", "basic.nickname", "basic.address.city", "id",
                                  "credit.credit_limit.amount", ""])
def test_an_unknown_change_path_is_refused(profile: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), {path: "x"}, MANDATORY)
    # The path is the caller's text: the entry is named by its place, never by what it says.
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("changes", "entry 0: is not a field that can be changed")]


def test_every_unknown_path_is_named_at_once(profile: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), {"basic.name": "新名", "colour": 1, "size": 2},
                         MANDATORY)
    assert [p.message for p in caught.value.problems] == [
        "entry 1: is not a field that can be changed",
        "entry 2: is not a field that can be changed"]
    assert "colour" not in str(caught.value.as_dict())


@pytest.mark.parametrize("changes", [None, {}, ["basic.name"]])
def test_a_change_naming_no_field_is_refused(profile: dict[str, Any], changes: Any) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), changes, MANDATORY)
    assert caught.value.fields == ["changes"]


@pytest.mark.parametrize(("changes", "named"), [
    ({"basic.name": "  "}, ["basic.name"]),
    ({"basic.legal_representative": None}, ["basic.legal_representative"]),
    ({"basic.address": None}, ["basic.address"]),
    ({"source_channel": None}, ["source_channel"]),
    ({"basic.phone": None, "basic.email": ""}, [PHONE_OR_EMAIL]),
])
def test_a_change_that_would_empty_a_mandatory_field_is_refused(
        profile: dict[str, Any], changes: dict[str, Any], named: list[str]) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), changes, MANDATORY)
    assert caught.value.fields == named


def test_removing_the_phone_is_fine_while_the_email_remains(profile: dict[str, Any]) -> None:
    assert validate_changes(valid(profile), {"basic.phone": None}, MANDATORY) == {
        "basic.phone": None}


def test_a_change_to_a_malformed_value_is_refused(profile: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), {"basic.phone": "13812345678",
                                          "credit.credit_limit": {"amount": 1, "currency": "R"}},
                         MANDATORY)
    assert caught.value.fields == ["basic.phone", "credit.credit_limit.currency"]


def test_applying_changes_leaves_the_original_profile_untouched(
        profile: dict[str, Any]) -> None:
    current = valid(profile)
    original = json.dumps(current, sort_keys=True)
    updated = apply_changes(current, {"basic.name": "新名", "credit": None})
    assert updated["basic"]["name"] == "新名"
    assert updated["credit"] is None
    assert json.dumps(current, sort_keys=True) == original


def test_every_changeable_path_is_one_a_proposal_may_name() -> None:
    assert {"basic.phone", "basic.address", "contacts", "credit", "credit.rating",
            "source_channel", "other.special_requirements"} <= CHANGEABLE_PATHS
    assert not {"basic", "basic.address.city", "profile"} & CHANGEABLE_PATHS


@pytest.mark.parametrize(("left", "right", "overlap"), [
    ("basic.phone", "basic.phone", True),
    ("credit", "credit.rating", True),
    ("credit.rating", "credit", True),
    ("basic.phone", "basic.email", False),
    ("basic.phone", "basic.phone_ext", False),
    ("credit", "credit_limit", False),
    ("contacts", "basic.phone", False),
])
def test_paths_overlap_when_setting_one_can_change_the_other(left: str, right: str,
                                                             overlap: bool) -> None:
    assert paths_overlap(left, right) is overlap


# No personal data in errors -------------------------------------------------------------

SECRET = "zhangsan1984"
LEAKY_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("local phone", {"basic__phone": "13912341984"}),
    ("malformed phone", {"basic__phone": f"+86 {SECRET}"}),
    ("bad email", {"basic__email": f"{SECRET}@"}),
    ("email with bad IDNA", {"basic__email": f"{SECRET}@xn--{SECRET}.com"}),
    ("email with bad IP literal", {"basic__email": f"{SECRET}@[IPv6:{SECRET}]"}),
    ("email with bad IPv4 literal", {"basic__email": f"{SECRET}@[1.2.3.{SECRET}]"}),
    ("over-long name", {"basic__name": SECRET * 20}),
    ("unknown country", {"basic__address": {"country": SECRET}}),
    ("bad channel", {"source_channel": SECRET}),
    ("bad money", {"needs": money(SECRET, SECRET)}),
    ("bad contact", {"contacts": [{"name": "", "phone": SECRET, "email": SECRET}]}),
]


@pytest.mark.parametrize("overrides", [case for _, case in LEAKY_INPUTS],
                         ids=[label for label, _ in LEAKY_INPUTS])
def test_a_refusal_never_repeats_the_refused_value(overrides: dict[str, Any]) -> None:
    error = refusal(make_profile(**overrides))
    reported = str(error) + json.dumps(error.as_dict(), ensure_ascii=False)
    assert error.fields
    assert SECRET not in reported
    assert "1984" not in reported


def test_a_refused_change_never_repeats_the_refused_value(profile: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        validate_changes(valid(profile), {"basic.email": f"{SECRET}@[IPv6:{SECRET}]",
                                          "basic.name": " "}, MANDATORY)
    reported = str(caught.value) + json.dumps(caught.value.as_dict(), ensure_ascii=False)
    assert caught.value.fields == ["basic.email", "basic.name"]
    assert SECRET not in reported


@pytest.mark.parametrize("written", ["+86 21 6234 5678 ext. 801", "+862162345678#801",
                                     "+86 21-6234-5678 x801", "+86(21)62345678,,801",
                                     "+86 21 6234 5678;ext=801"])
def test_a_phone_with_an_extension_is_refused_rather_than_cut(written: str) -> None:
    error = refusal(make_profile(basic__phone=written))
    assert error.fields == ["basic.phone"]
    assert "extension" in error.problems[0].message


def test_a_phone_written_with_spaces_dashes_dots_and_brackets_is_stored_in_e164() -> None:
    profile = validate_profile(make_profile(basic__phone="+86 (21) 6234-5678"), MANDATORY)
    assert profile["basic"]["phone"] == "+862162345678"


def test_a_name_of_only_invisible_characters_is_missing() -> None:
    error = refusal(make_profile(basic__name="\u200b\u200b \u2060"))
    assert error.fields == ["basic.name"]
    assert error.problems[0].message == "is required"


# Text as people send it, control characters aside (those are refused, tested below).
sent_text = st.text(alphabet=st.characters(exclude_categories=["Cc"]) | st.sampled_from(
    "\t\n\r"), max_size=30)


@given(sent_text)
@example("Li Na")
@example("王芳")
@example("e\u0301t\u00e9")  # not NFC
@example("\u200bLi Na\u200d")  # invisible format characters at the ends
@example("Li\u3000Na")  # an ideographic space
@example(" Li  Na\t")
@settings(max_examples=500)
def test_the_quick_path_for_clean_text_gives_what_the_full_normalisation_gives(value: str
                                                                               ) -> None:
    assert normalise_text(value) == _normalise_text_fully(value)


# CI-4 control and invisible characters: one rule for every free-text field --------------

# Each free-text field of a profile, as the overrides that put a text there.
FREE_TEXT_FIELDS: dict[str, Any] = {
    "basic.name": lambda text: {"basic__name": text},
    "basic.legal_representative": lambda text: {"basic__legal_representative": text},
    "basic.business_scope": lambda text: {"basic__business_scope": text},
    "basic.address.street": lambda text: {"basic__address": {"country": "CN", "street": text}},
    "basic.address.postal_code": lambda text: {
        "basic__address": {"country": "CN", "postal_code": text}},
    "contacts.0.name": lambda text: {"contacts": [{"name": text}]},
    "needs.functional_needs": lambda text: {"needs": {"functional_needs": text}},
    "other.special_requirements": lambda text: {"other__special_requirements": text},
}


def with_text(field: str, text: str) -> dict[str, Any]:
    overrides: dict[str, Any] = FREE_TEXT_FIELDS[field](text)
    return make_profile(**overrides)


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS)
@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f", "\x85", "\x0b", "\x1f"],
                         ids=["NUL", "ESC", "DEL", "NEL", "VT", "US"])
def test_a_control_character_in_any_text_field_is_refused_naming_the_field(
        field: str, control: str) -> None:
    error = refusal(with_text(field, f"Ming{control}Yuan 8"))

    assert error.fields == [field]
    assert error.problems[0].message == "must not contain control characters"
    assert "Ming" not in json.dumps(error.as_dict())


@pytest.mark.parametrize(("typed", "stored"), [
    ("Ming\u200bYuan", "MingYuan"),              # zero-width space
    ("明\u200d远\u200c贸易", "明远贸易"),        # zero-width joiner and non-joiner
    ("\ufeffACME Trading", "ACME Trading"),     # a byte-order mark pasted from a file
    ("\u202eACME\u202c Ltd", "ACME Ltd"),       # bidi override and pop
    ("Bei\u00adjing \u2066Tech\u2069", "Beijing Tech"),  # soft hyphen, bidi isolate
    ("Cafe\u200b\u0301", "Café"),               # removed before NFC composes the accent
])
def test_invisible_format_characters_in_a_name_are_removed(typed: str, stored: str) -> None:
    result = valid(make_profile(basic__name=typed, contacts=[{"name": typed}]))
    assert result["basic"]["name"] == stored
    assert result["contacts"][0]["name"] == stored


def test_names_that_look_the_same_are_stored_the_same() -> None:
    plain = valid(make_profile(seed=3, basic__name="明远贸易"))
    disguised = valid(make_profile(seed=3, basic__name="\u200b明\u2060远\ufeff贸易\u200d"))
    assert disguised == plain


def test_line_breaks_and_tabs_in_pasted_text_become_single_spaces() -> None:
    address = {"country": "CN", "street": "南京西路100号\r\n3楼\t301室"}
    result = valid(make_profile(basic__address=address))
    assert result["basic"]["address"]["street"] == "南京西路100号 3楼 301室"


@given(sent_text)
@example("\u200b\u200d")
@example("a\u200b \u200bb")
@settings(max_examples=500)
def test_normalised_text_is_visible_single_spaced_nfc_and_a_fixed_point(value: str) -> None:
    normalised = normalise_text(value)

    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in normalised)
    assert normalised == normalised.strip() and "  " not in normalised
    assert all(c == " " or not c.isspace() for c in normalised)
    assert unicodedata.is_normalized("NFC", normalised)
    assert normalise_text(normalised) == normalised


@given(sent_text, st.characters(categories=["Cc"]).filter(lambda c: c not in "\t\n\r"),
       sent_text)
def test_text_holding_any_other_control_character_is_refused(before: str, control: str,
                                                             after: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        normalise_text(before + control + after)


@pytest.mark.parametrize("seed", range(40))
def test_chinese_names_and_addresses_are_kept_intact(seed: int) -> None:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    values = [fake.name(), fake.company(), fake.address(), fake.street_address(),
              fake.city(), fake.province(), fake.postcode()]
    assert [normalise_text(v) for v in values] == [" ".join(v.split()) for v in values]

    address = {"country": "CN", "region": fake.province(), "city": fake.city(),
               "street": fake.street_address(), "postal_code": fake.postcode()}
    profile = make_profile("zh_CN", seed=seed, basic__legal_representative=fake.name(),
                           basic__address=address, contacts=[{"name": fake.name()}])
    stored = valid(profile)
    for path in ("name", "legal_representative"):
        assert stored["basic"][path] == profile["basic"][path]
    assert stored["basic"]["address"] == address
    assert stored["contacts"][0]["name"] == profile["contacts"][0]["name"]
