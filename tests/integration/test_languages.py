# ruff: noqa: RUF001 - the Chinese texts hold full-width punctuation, as Chinese does
"""Every message in English and Simplified Chinese (SPEC P7, issue 17), in process: a
validation error, a permission denial and a login notice over HTTP, a table and an error on
the command line, and an alert; each reads correctly in both languages, the codes never
change, and nothing stored holds a translated text."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.domain.errors import PermissionDeniedError
from ledger.i18n import CHINESE, ENGLISH
from ledger.settings import sqlite_path_of
from service.alerts import RuleInputs, evaluate, webhook_payload
from service.bootstrap import Ledger
from service.cli import app
from service.client import LedgerClient
from service.client_transport import HttpTransport
from service.http import create_app
from tests.accounts import ONE_TIME, PASSWORD, create, open_account
from tests.conftest import FAST_HASHING_POLICY
from tests.factories import make_profile

pytestmark = pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB"}


@pytest.fixture
def http(sqlite_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_ledger), client=("127.0.0.1", 50000)) as client:
        yield client


def _login(http: TestClient, username: str, password: str = PASSWORD,
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = http.post("/auth/login", json={"username": username, "password": password},
                       headers=headers or {})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _register(http: TestClient, token: str, profile: dict[str, Any],
              headers: dict[str, str]) -> Any:
    return http.post("/commands/register-customer", json={"profile": profile},
                     headers={"Authorization": f"Bearer {token}", **headers})


def test_a_validation_error_reads_in_both_languages_with_the_same_code(
        sqlite_ledger: Ledger, http: TestClient) -> None:
    open_account(sqlite_ledger, "li.lei", "sales")
    token = _login(http, "li.lei")["token"]
    profile = make_profile("en_US", seed=3, basic__email="not an address")

    english = _register(http, token, profile, EN)
    chinese = _register(http, token, profile, ZH)

    assert english.status_code == chinese.status_code == 422
    assert (english.headers["content-language"], chinese.headers["content-language"]) == (
        ENGLISH, CHINESE)
    assert "Accept-Language" in chinese.headers["vary"]
    en, zh = english.json()["error"], chinese.json()["error"]
    assert en["code"] == zh["code"] == "validation_failed"
    assert en["message"] == "invalid input in: basic.email"
    assert zh["message"] == "以下字段输入无效：basic.email"
    assert en["details"]["problems"] == [{"field": "basic.email",
                                          "message": "is not a valid e-mail address"}]
    assert zh["details"]["problems"] == [{"field": "basic.email",
                                          "message": "不是有效的电子邮件地址"}]


def test_a_read_s_own_rule_reads_in_both_languages(sqlite_ledger: Ledger,
                                                   http: TestClient) -> None:
    """The rules a query states itself (its validators, not pydantic's) are translated too."""
    open_account(sqlite_ledger, "li.lei", "info_specialist")
    token = _login(http, "li.lei")["token"]
    answers = {language: http.get("/search/customers", params={"phone": "notaphone"},
                                  headers={"Authorization": f"Bearer {token}", **headers})
               for language, headers in (("en", EN), ("zh", ZH))}

    problems = {language: answer.json()["error"]["details"]["problems"]
                for language, answer in answers.items()}
    assert problems == {
        "en": [{"field": "query.phone",
                "message": "is not a phone number: digits, after a + for the country code"}],
        "zh": [{"field": "query.phone", "message": "不是电话号码：应为数字，国家代码前加 +"}]}


def test_a_permission_denial_reads_in_both_languages_and_is_stored_without_a_text(
        sqlite_ledger: Ledger, http: TestClient, sqlite_url: str) -> None:
    open_account(sqlite_ledger, "zhao.qiang", "technical", department="technical")
    token = _login(http, "zhao.qiang")["token"]
    profile = make_profile("en_US", seed=5)

    english = _register(http, token, profile, EN).json()["error"]
    chinese = _register(http, token, profile, ZH).json()["error"]
    traditional = _register(http, token, profile, {"Accept-Language": "zh-TW"})

    assert english["code"] == chinese["code"] == "permission_denied"
    assert english["message"] == ("register-customer is not allowed for this account "
                                  "(roles: technical)")
    assert chinese["message"] == "此账户不允许 register-customer（角色：technical）"
    # A Traditional Chinese reader gets the policy's default (en), not Simplified.
    assert traditional.headers["content-language"] == ENGLISH
    assert traditional.json()["error"]["message"] == english["message"]
    assert english["details"] == chinese["details"]
    # Each refusal is in the audit trail as codes and names, the same in both languages.
    denials = [event for event in _events(sqlite_ledger)
               if type(event).__name__ == "PermissionDenied"]
    assert len(denials) == 3
    assert len({repr(_facts(event)) for event in denials}) == 1
    _assert_nothing_stored_is_chinese(sqlite_ledger, sqlite_url)


def test_a_login_notice_reads_in_both_languages(sqlite_ledger: Ledger, http: TestClient,
                                                sqlite_url: str) -> None:
    create(sqlite_ledger, "han.mei")
    sqlite_ledger.runner.catch_up()

    english = _login(http, "han.mei", ONE_TIME, EN)
    chinese = _login(http, "han.mei", ONE_TIME, ZH)

    assert english["notices"] == ["change your one-time password now (change-password)"]
    assert chinese["notices"] == ["请立即修改您的一次性密码（change-password）"]
    assert english["password_change_required"] is chinese["password_change_required"] is True
    _assert_nothing_stored_is_chinese(sqlite_ledger, sqlite_url)


def test_a_failed_login_weak_password_bad_phone_or_country_and_contact_data_read_in_chinese(
        sqlite_ledger: Ledger, http: TestClient) -> None:
    # Texts that came from constants and libraries, not raise sites: each has its Chinese.
    open_account(sqlite_ledger, "li.lei", "sales")
    token = _login(http, "li.lei")["token"]
    headers = {"Authorization": f"Bearer {token}", **ZH}

    failed = http.post("/auth/login", json={"username": "li.lei", "password": "wrong"},
                       headers=ZH).json()["error"]
    weak = http.post("/commands/change-password", headers=headers, json={
        "username": "li.lei", "current_password": PASSWORD, "new_password": "short"})
    profile = make_profile("en_US", seed=3, basic__phone="not a phone")
    profile["basic"]["address"]["country"] = "XX"
    invalid = _register(http, token, profile, ZH).json()["error"]
    # An account's command keeps its reason in plaintext: no contact data in it.
    with_phone = http.post("/commands/change-password", headers=headers, json={
        "username": "li.lei", "current_password": PASSWORD,
        "new_password": "Autumn-Rain#2047", "reason": "call +86 138 0013 8000"})

    assert (failed["code"], failed["message"]) == ("unauthenticated", "用户名或密码错误")
    assert weak.status_code == 422
    assert {p["message"] for p in weak.json()["error"]["details"]["problems"]} == {
        "长度至少为 12 个字符", "必须包含数字", "必须包含特殊字符"}
    assert {p["field"]: p["message"] for p in invalid["details"]["problems"]} == {
        "basic.phone": "不是有效的电话号码",
        "basic.address.country": "不是 ISO 3166-1 二位字母国家代码"}
    assert with_phone.json()["error"]["details"]["problems"] == [
        {"field": "reason", "message": "不得包含电话号码或电子邮件地址：此文本以明文存储"}]


def test_without_accept_language_the_policys_locale_is_answered(
        make_ledger: Any, sqlite_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    # Top-level settings go before the file's first table.
    policy.write_text('locale = "zh-CN"\n' + FAST_HASHING_POLICY.read_text(encoding="utf-8"),
                      encoding="utf-8")
    ledger = make_ledger(sqlite_url, policy_file=policy)
    assert ledger.policy.locale == CHINESE
    with TestClient(create_app(ledger)) as client:
        unknown = client.get("/no-such-route")
        asked = client.get("/no-such-route", headers=EN)
        traditional = client.get("/no-such-route", headers={"Accept-Language": "zh-Hant"})

    assert (unknown.headers["content-language"], unknown.json()["error"]["message"]) == (
        CHINESE, "没有此路由")
    assert (asked.headers["content-language"], asked.json()["error"]["message"]) == (
        ENGLISH, "no such route")
    assert traditional.headers["content-language"] == CHINESE  # the policy's default


def test_a_cli_table_and_error_read_in_both_languages(
        sqlite_ledger: Ledger, sqlite_url: str, development_keys: Path,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    open_account(sqlite_ledger, "li.lei", "sales")
    monkeypatch.chdir(tmp_path)
    env = {"LEDGER_DATABASE_URL": sqlite_url, "LEDGER_DATA_DIR": str(development_keys),
           "LEDGER_POLICY_FILE": str(FAST_HASHING_POLICY), "LEDGER_LANG": "",
           "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}
    runner = CliRunner()

    english = runner.invoke(app, ["account", "list"], env=env)
    chinese = runner.invoke(app, ["--lang", "zh-CN", "account", "list"], env=env)
    by_variable = runner.invoke(app, ["account", "list"], env=env | {"LEDGER_LANG": "zh"})
    by_locale = runner.invoke(app, ["account", "list"], env=env | {"LANG": "zh_CN.UTF-8"})

    assert english.exit_code == chinese.exit_code == 0, (english.output, chinese.output)
    assert "username" in english.stdout and "last login at" in english.stdout
    assert "1 accounts; reflects event position" in english.stdout
    assert "用户名" in chinese.stdout and "最后登录时间" in chinese.stdout
    assert "1 个账户；反映至事件位置" in chinese.stdout
    assert "username" not in chinese.stdout
    assert "li.lei" in chinese.stdout  # the data is the data
    assert by_variable.stdout == by_locale.stdout == chinese.stdout

    refused = runner.invoke(app, ["--lang", "zh-CN", "account", "unlock", "nobody"], env=env)
    refused_en = runner.invoke(app, ["account", "unlock", "nobody"], env=env)
    assert refused.exit_code == refused_en.exit_code == 4
    assert "错误 [not_found]: 没有此用户名的账户" in refused.stderr
    assert "error [not_found]: no account with this username" in refused_en.stderr

    help_text = runner.invoke(app, ["--lang", "zh-CN", "account", "list", "--help"], env=env)
    assert "List accounts with their state and active roles." in help_text.stdout
    unknown = runner.invoke(app, ["--lang", "zh-TW", "account", "list"], env=env)
    assert unknown.exit_code == 2


def test_an_alert_reads_in_both_languages_and_is_recorded_in_english() -> None:
    rules = _alert_rules()
    inputs = RuleInputs(head_position=10, projection_positions={}, projection_last_progress={},
                        sealing_lag=0, audit_last_write=None, integrity_failed=False,
                        failed_logins_in_window=25, lockouts_in_window=0, overdue_faults=0,
                        backups={}, now=0.0)
    [burst] = [alert for alert in evaluate(rules, inputs) if alert.name == "FailedLoginBurst"]

    english = webhook_payload([(burst, 0.0, None)], "firing", language=ENGLISH)
    chinese = webhook_payload([(burst, 0.0, None)], "firing", language=CHINESE)

    minutes = rules.login_window_minutes
    assert english["alerts"][0]["annotations"]["summary"] == (
        f"25 failed logins in the last {minutes} minutes.")
    assert chinese["alerts"][0]["annotations"]["summary"] == (
        f"最近 {minutes} 分钟内有 25 次登录失败。")
    assert english["alerts"][0]["labels"] == chinese["alerts"][0]["labels"]
    # What the log and the fault register take from the alert is its English text.
    assert burst.summary == english["alerts"][0]["annotations"]["summary"]


def _alert_rules() -> Any:
    from service.policy import load_service_policy

    rules = load_service_policy(FAST_HASHING_POLICY).alerts
    assert rules.failed_logins_per_window and rules.failed_logins_per_window <= 25
    return rules


def _events(ledger: Ledger) -> list[Any]:
    return [ledger.store.mapper.to_domain_event(n) for n in ledger.store.read_log(0, 10_000)]


def _facts(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items()
            if k not in ("originator_id", "originator_version", "timestamp", "metadata")}


def _assert_nothing_stored_is_chinese(ledger: Ledger, sqlite_url: str) -> None:
    """No decoded event and no row of any table holds a Chinese character: the requests
    asked for Chinese, and what was stored is codes, names and English templates."""
    for event in _events(ledger):
        assert not CJK.search(repr(vars(event))), event
    with sqlite3.connect(sqlite_path_of(sqlite_url)) as database:
        tables = [name for (name,) in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in database.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    text = value.decode("utf-8", "ignore") if isinstance(value, bytes) else value
                    assert not (isinstance(text, str) and CJK.search(text)), (table, row)


def test_a_client_over_http_asks_for_its_language_and_reads_errors_in_it(
        sqlite_ledger: Ledger, http: TestClient) -> None:
    create(sqlite_ledger, "han.mei")
    sqlite_ledger.runner.catch_up()

    remote = LedgerClient(HttpTransport("http://testserver", username="han.mei",
                                        password=ONE_TIME, client=http, language=CHINESE))

    assert remote.session is not None
    assert remote.session["notices"] == ["请立即修改您的一次性密码（change-password）"]
    with pytest.raises(PermissionDeniedError) as refused:
        remote.register_customer(make_profile("en_US", seed=1))
    assert refused.value.code == "permission_denied"
    assert refused.value.message.startswith("暂不允许 register-customer：")


def test_cli_times_and_money_are_written_for_the_language_in_the_policys_zone(
        sqlite_ledger: Ledger, sqlite_url: str, development_keys: Path,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A policy whose time zone is not the default's (Asia/Shanghai): New York, -05:00 in
    # winter, so the table's times can only come from the policy.
    policy = tmp_path / "policy.toml"
    policy.write_text('timezone = "America/New_York"\n'
                      + FAST_HASHING_POLICY.read_text(encoding="utf-8"), encoding="utf-8")
    open_account(sqlite_ledger, "li.lei", "sales")
    open_account(sqlite_ledger, "qian.hui", "finance", department="finance")  # sees credit
    customer_id = LedgerClient.in_process(sqlite_ledger, "li.lei").register_customer(
        make_profile("en_US", seed=5, basic__name="Mingyuan Trading",
                     credit__credit_limit={"amount": "1234567.5", "currency": "CNY"}),
    )["aggregate_id"]
    monkeypatch.chdir(tmp_path)
    env = {"LEDGER_DATABASE_URL": sqlite_url, "LEDGER_DATA_DIR": str(development_keys),
           "LEDGER_POLICY_FILE": str(policy), "LEDGER_LANG": "", "LC_ALL": "",
           "LC_MESSAGES": "", "LANG": "C.UTF-8", "LEDGER_ACTOR": "li.lei"}
    runner = CliRunner()

    machine = runner.invoke(app, ["--json", "customer", "find", "ming"], env=env)
    english = runner.invoke(app, ["customer", "find", "ming"], env=env)
    chinese = runner.invoke(app, ["--lang", "zh-CN", "customer", "find", "ming"], env=env)
    finance = env | {"LEDGER_ACTOR": "qian.hui"}
    shown_en = runner.invoke(app, ["customer", "show", customer_id], env=finance)
    shown_zh = runner.invoke(app, ["--lang", "zh-CN", "customer", "show", customer_id],
                             env=finance)

    assert machine.exit_code == english.exit_code == chinese.exit_code == 0, machine.output
    updated_at = json.loads(machine.stdout)["customers"][0]["updated_at"]
    local = datetime.fromisoformat(updated_at).astimezone(ZoneInfo("America/New_York"))
    [row_en] = [line for line in english.stdout.splitlines() if customer_id in line]
    [row_zh] = [line for line in chinese.stdout.splitlines() if customer_id in line]
    # --json keeps ISO 8601; a person reads the moment in the policy's zone, by its offset
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", updated_at)
    assert updated_at not in row_en and updated_at not in row_zh
    assert f"{local:%B} {local.day}, {local.year}" in row_en and " EST" in row_en
    assert f"{local.hour % 12 or 12}:{local:%M:%S}\u202f{local:%p}" in row_en  # CLDR's space
    assert f"{local.year}年{local.month}月{local.day}日" in row_zh and "-0500" in row_zh
    assert f"{local:%H:%M:%S}" in row_zh
    # money as each language writes it, with CNY's two decimal places
    assert "CN¥1,234,567.50" in shown_en.stdout
    assert "¥1,234,567.50" in shown_zh.stdout and "CN¥" not in shown_zh.stdout
    assert '"amount"' not in shown_en.stdout + shown_zh.stdout
    # the table's title is the command line's words too
    assert f"Customer {customer_id}" in shown_en.stdout
    assert f"客户 {customer_id}" in shown_zh.stdout
