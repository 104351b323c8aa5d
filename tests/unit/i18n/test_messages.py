# ruff: noqa: RUF001 - the Chinese texts hold full-width punctuation, as Chinese does
"""A message is its English template and parameters: it reads, compares and is stored as
English, and renders in Chinese only when a reader asks for it."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, Field, ValidationError

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import PermissionDeniedError, Problem, ValidationFailedError
from ledger.domain.messages import (
    Message,
    as_message,
    english,
    fill,
    localised,
    message,
    rendered,
)
from ledger.domain.problems import problems_from
from ledger.i18n import CHINESE, ENGLISH, render, translator
from ledger.integrity.keys import read_key_file
from ledger.policy import load_policy
from service.preflight import PathUnusableError, _unusable_because

ZH = translator(CHINESE)


def test_a_message_is_its_english_text_and_keeps_template_and_parameters() -> None:
    text = message("your password is older than {days} days: please change it", days=90)

    assert text == "your password is older than 90 days: please change it"
    assert isinstance(text, str)
    assert (text.template, dict(text.params)) == (
        "your password is older than {days} days: please change it", {"days": 90})
    assert text.rendered(ZH) == "您的密码已超过 90 天：请修改"
    assert text.rendered(translator(ENGLISH)) == text


def test_a_text_given_as_a_parameter_is_read_in_the_language_too() -> None:
    none = message("{operation} is not allowed for this account (roles: {roles})",
                   operation="register-customer", roles=message("none"))

    assert none == "register-customer is not allowed for this account (roles: none)"
    assert none.rendered(ZH) == "此账户不允许 register-customer（角色：无）"
    listed = fill("Read models lag the log: {models}.",
                  {"models": (message("{name} ({lag} events behind)", name="customers", lag=3),
                              message("{name} ({lag} events behind)", name="audit", lag=4))},
                  ZH)
    assert listed == "Read models lag the log: customers（落后 3 个事件）, audit（落后 4 个事件）."


def test_a_plain_literal_is_its_own_template_and_an_unknown_text_stays_english() -> None:
    assert rendered("no customer with this id", ZH) == "没有此 ID 的客户"
    assert rendered("a text no catalogue has", ZH) == "a text no catalogue has"
    assert render("JSON nested deeper than {levels} levels", {"levels": 32}, CHINESE) == (
        "JSON 嵌套超过 32 层")


def test_errors_and_problems_keep_code_and_field_and_translate_only_the_message() -> None:
    denial = PermissionDeniedError("requests are not allowed from this network")
    invalid = ValidationFailedError([Problem("basic.name", "must not contain control "
                                                           "characters")])

    assert denial.as_dict() == {"code": "permission_denied", "details": {},
                                "message": "requests are not allowed from this network"}
    assert denial.as_dict(ZH) == {"code": "permission_denied", "details": {},
                                  "message": "不允许来自此网络的请求"}
    assert invalid.message == "invalid input in: basic.name"
    assert invalid.as_dict(ZH) == {"code": "validation_failed",
                                   "message": "以下字段输入无效：basic.name",
                                   "details": {"problems": [{"field": "basic.name",
                                                             "message": "不得包含控制字符"}]}}
    # The error itself, and what a log or an event would take from it, stays English.
    assert invalid.details["problems"] == [{"field": "basic.name",
                                            "message": "must not contain control characters"}]


class _Limits(BaseModel):
    name: str = Field(max_length=3)
    initial: str = Field(max_length=1)
    count: int = Field(ge=1)
    since: date


def test_pydantics_messages_are_its_templates_with_their_limits_and_read_in_chinese() -> None:
    try:
        _Limits.model_validate({"name": "abcdef", "initial": "ab", "count": 0})
    except ValidationError as error:
        problems = problems_from(error.errors(include_input=False, include_url=False),
                                 default="input")
    by_field = {p.field: p for p in problems}

    assert {f: p.message for f, p in by_field.items()} == {
        "name": "String should have at most 3 characters",
        "initial": "String should have at most 1 character",
        "count": "Input should be greater than or equal to 1", "since": "Field required"}
    assert {f: rendered(p.message, ZH) for f, p in by_field.items()} == {
        "name": "字符串最多只能有 3 个字符", "initial": "字符串最多只能有 1 个字符",
        "count": "输入应大于或等于 1", "since": "必填字段"}
    assert isinstance(by_field["name"].message, Message)


def test_the_compiled_catalogue_answers_gettext_lookups_and_never_its_header() -> None:
    chinese = translator(CHINESE)

    assert chinese("no account with this username") == "没有此用户名的账户"
    assert chinese("a text the catalogue lacks") == "a text the catalogue lacks"
    # gettext keeps the PO header under msgid "": an empty text must stay empty
    assert chinese("") == ""


def test_an_answer_is_localised_where_it_holds_messages_and_left_alone_elsewhere() -> None:
    answer = {"statement": message("a legal hold was in force"), "hold_ids": ["h-1"],
              "steps": ({"note": message("none"), "position": 3},), "name": "none"}

    assert localised(answer, ZH) == {"statement": "当时有法律保全处于有效期内",
                                     "hold_ids": ["h-1"],
                                     "steps": ({"note": "无", "position": 3},),
                                     "name": "none"}  # a value from the data is the data
    assert localised(answer, english) is answer


def test_operator_errors_read_in_chinese_with_their_reasons(tmp_path) -> None:
    missing = tmp_path / "signing.key"
    with pytest.raises(KeyMaterialError) as raised:
        read_key_file(missing)
    refused = raised.value
    with pytest.raises(ValidationFailedError) as policy_raised:
        load_policy(missing)
    no_policy = policy_raised.value
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")
    under_a_file = PathUnusableError(message(
        "{setting} cannot be used: {path} {reason}", setting="LEDGER_DATA_DIR",
        path=str(a_file / "var"), reason=as_message(_unusable_because(a_file / "var", True))))

    assert refused.message == f"signing key {missing}: file does not exist"
    assert refused.as_dict(ZH)["message"] == f"签名密钥 {missing}：文件不存在"
    assert no_policy.as_dict(ZH)["message"] == (
        f"LEDGER_POLICY_FILE：策略文件 {missing} 不存在")
    assert no_policy.as_dict(ZH)["details"]["problems"] == [
        {"field": "LEDGER_POLICY_FILE", "message": "不存在"}]
    assert under_a_file.as_dict(ZH)["message"] == (
        f"LEDGER_DATA_DIR 无法使用：{a_file / 'var'} 位于 {a_file} 之下，而它是一个文件")


def test_a_generated_password_stays_bold_and_literal_in_either_language() -> None:
    from service.cli import common

    text = message("First administrator: {username}, one-time password {password} (shown "
                   "once; also in {path}, readable by you only). Log in and change it.",
                   username="admin", password="Pw9[/]x[bold]", path="/var/admin")
    shown = {}
    for language in (ENGLISH, CHINESE):
        common.choose_language(language)
        shown[language] = common.emphasised(text, "username", "password")
    common.choose_language(None)

    assert shown[ENGLISH].plain == str(text)
    assert shown[CHINESE].plain == ("首个管理员：admin，一次性密码 Pw9[/]x[bold]（仅显示一次；"
                                    "另存于 /var/admin，仅您可读）。请登录并修改密码。")
    for styled in shown.values():
        assert sorted(styled.plain[s.start:s.end] for s in styled.spans
                      if s.style == "bold") == ["Pw9[/]x[bold]", "admin"]
