"""Which language a reader gets: Accept-Language with its q-values on HTTP; --lang,
LEDGER_LANG, LC_ALL/LANG on the command line; else the policy's locale. Only Simplified
Chinese tags select Chinese: a Traditional Chinese reader is not served it silently."""

from __future__ import annotations

import pytest
from babel.core import negotiate_locale

from ledger.i18n import (
    CHINESE,
    ENGLISH,
    language_of_accept,
    language_of_environment,
    language_of_tag,
)


@pytest.mark.parametrize("tag", ["zh", "zh-CN", "zh-Hans", "zh-Hans-CN", "ZH-cn", "zh_CN",
                                 "zh_CN.UTF-8", "zh-SG", "zh-Hans-SG", "zh-Hans-TW",
                                 "zh_CN.gb18030@stroke"])
def test_simplified_chinese_tags_select_chinese(tag: str) -> None:
    assert language_of_tag(tag) == CHINESE


@pytest.mark.parametrize("tag", ["zh-TW", "zh-HK", "zh-MO", "zh-Hant", "zh-Hant-TW",
                                 "zh-Hant-CN", "zh_TW.UTF-8", "zh_HK.Big5", "zh-US", "fr",
                                 "fr-CA", "C", "POSIX", "C.UTF-8", "", "*", "x-private"])
def test_traditional_chinese_and_other_languages_select_none(tag: str) -> None:
    assert language_of_tag(tag) is None


@pytest.mark.parametrize("tag", ["en", "en-US", "en-GB", "en_GB.UTF-8", "EN-us", "en-150"])
def test_english_tags_select_english(tag: str) -> None:
    assert language_of_tag(tag) == ENGLISH


def test_babels_negotiation_alone_would_serve_traditional_readers_simplified() -> None:
    # Why the ledger decides by script (language_of_tag): Babel's negotiate_locale matches
    # strings and falls back to the bare language, so with "zh" offered a zh-TW or zh-Hant
    # reader would get it; and it knows no script, so zh-Hans would not match zh_CN.
    assert negotiate_locale(["zh-TW"], ["en", "zh"], sep="-") == "zh"
    assert negotiate_locale(["zh-Hant-TW"], ["en", "zh"], sep="-") == "zh"
    assert negotiate_locale(["zh-Hans"], ["en", "zh-CN"], sep="-") is None


@pytest.mark.parametrize(("header", "default", "chosen"), [
    ("zh-CN", ENGLISH, CHINESE),
    ("zh-Hans-CN,zh;q=0.9,en;q=0.8", ENGLISH, CHINESE),
    ("en-US,en;q=0.9,zh-CN;q=0.8", CHINESE, ENGLISH),
    # q-values decide, not the order in the header
    ("en;q=0.5, zh;q=0.9", ENGLISH, CHINESE),
    ("zh;q=0.4, en-GB;q=0.7", CHINESE, ENGLISH),
    # q=0 means "not this one"
    ("zh-CN;q=0, en;q=0.1", CHINESE, ENGLISH),
    ("zh-CN;q=0", ENGLISH, ENGLISH),
    # Traditional Chinese is not given Simplified: the policy's default
    ("zh-TW", ENGLISH, ENGLISH),
    ("zh-HK", CHINESE, CHINESE),
    ("zh-Hant", ENGLISH, ENGLISH),
    # ... unless the reader also accepts one the ledger speaks
    ("zh-TW, en;q=0.5", CHINESE, ENGLISH),
    ("fr-FR, de;q=0.8", CHINESE, CHINESE),
    ("*", CHINESE, CHINESE),
    ("", ENGLISH, ENGLISH),
    (None, CHINESE, CHINESE),
    ("zh;q=nonsense, en", CHINESE, ENGLISH),
])
def test_accept_language_is_honoured_with_its_q_values(header: str | None, default: str,
                                                       chosen: str) -> None:
    assert language_of_accept(header, default) == chosen


@pytest.mark.parametrize(("flag", "environ", "chosen"), [
    ("zh-CN", {"LEDGER_LANG": "en", "LANG": "en_US.UTF-8"}, CHINESE),
    (None, {"LEDGER_LANG": "zh", "LANG": "en_US.UTF-8"}, CHINESE),
    (None, {"LEDGER_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}, ENGLISH),
    (None, {"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, CHINESE),
    (None, {"LANG": "zh_CN.UTF-8"}, CHINESE),
    (None, {"LANG": "en_GB.UTF-8"}, ENGLISH),
    # POSIX: LC_ALL, when set, decides alone; C or Traditional Chinese give the policy's
    (None, {"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "policy"),
    (None, {"LANG": "zh_TW.UTF-8"}, "policy"),
    (None, {}, "policy"),
])
def test_the_command_line_takes_flag_then_variables_then_the_policy(
        flag: str | None, environ: dict[str, str], chosen: str) -> None:
    for policy in (ENGLISH, CHINESE):
        expected = policy if chosen == "policy" else chosen
        assert language_of_environment(flag, environ, policy) == expected
