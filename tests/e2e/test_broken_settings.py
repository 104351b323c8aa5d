"""Broken settings, each refused the same way whichever command meets it: one line naming
the environment variable (or the option given in its place, or the file and the key in
it) and what is wrong with it, never its value; a documented exit code; nothing written.

In process (Click's runner): every refusal here comes before anything is opened, so no
server or database process is needed; the key files' and the actor's, which need a ledger,
run the real command in a forked process (``run_ledger``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ledger.credentials import AuthenticationError
from ledger.crypto import KeyMaterialError, create_key_file
from ledger.domain.errors import ValidationFailedError
from service.cli import app
from service.first_admin import check_listening
from service.preflight import PathUnusableError
from tests.e2e.conftest import CLI_TIMEOUT, ledger_env
from tests.e2e.forked import run_ledger

pytestmark = pytest.mark.e2e

SECRET = "Not-For-Print-7731"


def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    return CliRunner().invoke(app, list(args), env=ledger_env(
        f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}", **env))


def one_line(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("LEDGER_POSTGRES_POOL_SIZE", "eight", "is not a valid integer"),
    ("LEDGER_POSTGRES_POOL_SIZE", "0", "greater than or equal to 1"),
    ("LEDGER_PORT", "70000", "less than or equal to 65535"),
    ("LEDGER_CONNECT_TIMEOUT", "1.5", "is not a valid integer"),
    ("LEDGER_ENVIRONMENT", "prod", "'development' or 'production'"),
    ("LEDGER_LOG_LEVEL", "loud", "'debug', 'info', 'warning' or 'error'"),
    ("LEDGER_RUN_PROJECTIONS", "maybe", "is not a valid boolean"),
    # NaN passes no bound: it read as "less than or equal to 300", which it is not either.
    ("LEDGER_READ_WAIT_TIMEOUT", "nan", "finite number"),
    ("LEDGER_PROJECTION_POLL_INTERVAL", "inf", "finite number"),
    # Empty: LEDGER_DATA_DIR= put the key files in the working directory.
    ("LEDGER_DATA_DIR", "", "is empty (leave it unset for the default)"),
    ("LEDGER_KEK_FILE", "  ", "is empty"),
    ("LEDGER_POLICY_FILE", "", "is empty"),
    ("LEDGER_DATABASE_URL", f"sqlite:///{'x.sqlite3 '}", "begins or ends with white space"),
    ("LEDGER_DATABASE_URL", "mysql://root@127.0.0.1/ledger", "must start with sqlite:///"),
    ("LEDGER_KEYSTORE_URL", "keys.sqlite3", "must start with sqlite:///"),
    ("LEDGER_DATABASE_URL", f"postgresql://u:{SECRET}@h:port/x", "the port is not a number"),
    # Alerts went nowhere, silently, until the first one was due.
    ("LEDGER_ALERT_WEBHOOK_URLS", f"http://127.0.0.1:9/hook,hooks.example/{SECRET}",
     "address 2 is not an http:// or https:// URL with a host"),
    ("LEDGER_EXTERNAL_URL", "ledger.example", "is not an http:// or https:// URL with a host"),
])
# serve's --tls-cert without --tls-key is refused right after the settings are read: were
# a broken setting accepted, the test would fail there instead of serving for ever.
@pytest.mark.parametrize("command", [["init"], ["serve", "--tls-cert", "cert.pem"],
                                     ["policy", "show"], ["customer", "find", "acme"]],
                         ids=" ".join)
def test_a_broken_setting_is_one_line_naming_its_variable_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        reason: str, command: list[str]) -> None:
    done = invoke(tmp_path, monkeypatch, *command, **{variable: value})

    line = one_line(done, ValidationFailedError.exit_code)
    assert f"[validation_failed]: {variable} is not valid: " in line
    assert reason in line
    assert SECRET not in done.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("variable", ["LEDGER_BACKUP_DIR", "LEDGER_BACKUP_KEYS_DIR"])
def test_a_backup_directory_that_is_a_file_is_named_at_start_not_at_the_first_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    (tmp_path / "backups").write_text("not a directory\n", encoding="utf-8")

    done = invoke(tmp_path, monkeypatch, "init", **{variable: str(tmp_path / "backups")})

    assert one_line(done, PathUnusableError.exit_code) == (
        f"error [path_unusable]: {variable} cannot be used: {tmp_path / 'backups'} is not a "
        "directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups"]


@pytest.mark.parametrize(("env", "conflict"), [
    ({"LEDGER_KEK": "a2V5", "LEDGER_KEK_FILE": "kek.key"},
     "LEDGER_KEK and LEDGER_KEK_FILE are both set: set only one"),
    ({"LEDGER_INDEX_KEY": "a2V5", "LEDGER_INDEX_KEY_FILE": "index.key"},
     "LEDGER_INDEX_KEY and LEDGER_INDEX_KEY_FILE are both set: set only one"),
    ({"LEDGER_BACKUP_KEY": "a2V5", "LEDGER_BACKUP_KEY_FILE": "backup.key"},
     "LEDGER_BACKUP_KEY and LEDGER_BACKUP_KEY_FILE are both set: set only one"),
    ({"LEDGER_CLIENT_RETRY_FIRST_DELAY": "5", "LEDGER_CLIENT_RETRY_LONGEST_DELAY": "1"},
     "LEDGER_CLIENT_RETRY_FIRST_DELAY is longer than LEDGER_CLIENT_RETRY_LONGEST_DELAY"),
], ids=["KEK", "index key", "backup key", "retry delays"])
def test_settings_that_contradict_each_other_are_refused_naming_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        conflict: str) -> None:
    """The value given inline used to win over the file, silently: two different KEKs."""
    done = invoke(tmp_path, monkeypatch, "init", **env)

    assert one_line(done, ValidationFailedError.exit_code) == (
        f"error [validation_failed]: the settings conflict: {conflict}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "env", "named"), [
    (["--database-url", "", "init"], {}, "--database-url is not valid: is empty"),
    (["init"], {"LEDGER_LANG": "klingon"}, "LEDGER_LANG is not valid: the ledger speaks en and "
                                           "zh-CN (zh, zh-Hans alike)"),
], ids=["empty --database-url", "unknown LEDGER_LANG"])
def test_a_global_option_or_variable_given_nothing_usable_is_refused_not_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str],
        named: str) -> None:
    """--database-url "" used the default database, and an unknown LEDGER_LANG English."""
    done = invoke(tmp_path, monkeypatch, *args, **env)

    assert f"error [validation_failed]: {named}" in one_line(done,
                                                             ValidationFailedError.exit_code)
    assert list(tmp_path.iterdir()) == []


def test_several_broken_settings_are_each_named_in_one_refusal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = invoke(tmp_path, monkeypatch, "init", LEDGER_PORT="x", LEDGER_WORKERS="0")

    assert done.exit_code == ValidationFailedError.exit_code, done.output
    assert done.stderr.splitlines() == [
        "error [validation_failed]: invalid settings: LEDGER_PORT, LEDGER_WORKERS",
        "  - LEDGER_PORT: is not a valid integer",
        "  - LEDGER_WORKERS: Input should be greater than or equal to 1"]


def test_an_option_given_for_a_setting_is_named_as_the_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve = invoke(tmp_path, monkeypatch, "serve", "--port", "0")
    database = invoke(tmp_path, monkeypatch, "--database-url", "nonsense", "init")

    assert "--port is not valid: Input should be greater than or equal to 1" in one_line(
        serve, ValidationFailedError.exit_code)
    assert "--database-url is not valid: must start with" in one_line(
        database, ValidationFailedError.exit_code)
    assert list(tmp_path.iterdir()) == []


def test_the_settings_refusal_reads_in_chinese_naming_the_same_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = invoke(tmp_path, monkeypatch, "--lang", "zh-CN", "init", LEDGER_PORT="x")

    assert one_line(done, ValidationFailedError.exit_code) == (
        "错误 [validation_failed]: LEDGER_PORT 无效：不是有效的整数")  # noqa: RUF001


def test_a_dotenv_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings are the environment's alone, as the README says: a .env file left in
    the working directory changes nothing (here it would break the start)."""
    (tmp_path / ".env").write_text("LEDGER_PORT=not-a-port\nLEDGER_DATA_DIR=\n",
                                   encoding="utf-8")

    done = invoke(tmp_path, monkeypatch, "--json", "policy", "show")

    assert done.exit_code == 0, done.output


# The policy file --------------------------------------------------------------------------

POLICY_CASES = {
    "missing": (None, "does not exist"),
    "a directory": ("directory", "is not a regular file"),
    "a device": ("/dev/zero", "is not a regular file"),
    # Opening it fails (as an unreadable file does for an account other than root's): this
    # was path_unusable, exit 73, where a missing policy file was validation_failed, exit 3.
    "a link to itself": ("loop", "cannot be read (Too many levels of symbolic links)"),
    "too large": ("#" * (1024 * 1024 + 1), "is larger than 1048576 bytes"),
    "not UTF-8": ("locale = 'en'\n".encode("utf-16"), "is not UTF-8 text"),
    "not TOML": ("locale = = 'en'\n", "is not valid TOML: "),
    "an unknown key": ("[login]\nmax_failure = 3\n",
                       "is not valid: login.max_failure: unknown key (the keys are those of "
                       "src/ledger/policy_defaults.toml)"),
    "a table where a value belongs": ("[timezone]\nname = 'UTC'\n",
                                      "is not valid: timezone: Input should be a valid string"),
    "a value where a table belongs": ("login = 5\n", "is not valid: login: Input should be a "
                                                     "valid dictionary"),
    "a value out of range": ("key_change_deadline_working_days = 0\n",
                             "is not valid: key_change_deadline_working_days: Input should be "
                             "greater than or equal to 1"),
    "a wrong type": ("key_change_deadline_working_days = 'five'\n",
                     "is not valid: key_change_deadline_working_days: is not a valid integer"),
}


def policy_file(tmp_path: Path, contents: str | bytes | None) -> str:
    path = tmp_path / "policy.toml"
    if contents == "directory":
        path.mkdir()
    elif contents == "loop":
        path.symlink_to(path)
    elif isinstance(contents, str) and contents.startswith("/"):
        return contents
    elif isinstance(contents, bytes):
        path.write_bytes(contents)
    elif contents is not None:
        path.write_text(contents, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case", list(POLICY_CASES))
# serve reads the policy where init does (bootstrap), after taking its port: were a broken
# policy accepted, it would serve for ever, so init stands for it here.
@pytest.mark.parametrize("command", ["policy show", "init", "keys status"])
def test_every_broken_policy_file_is_validation_failed_in_one_line_naming_file_and_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, command: str) -> None:
    contents, reason = POLICY_CASES[case]
    path = policy_file(tmp_path, contents)
    before = sorted(p.name for p in tmp_path.iterdir())

    done = invoke(tmp_path, monkeypatch, *command.split(), LEDGER_POLICY_FILE=path)

    line = one_line(done, ValidationFailedError.exit_code)
    assert f"[validation_failed]: LEDGER_POLICY_FILE: the policy file {path} " in line
    assert reason in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_several_bad_keys_in_the_policy_are_each_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = policy_file(tmp_path, "[login]\nmax_failure = 3\n[passwords]\nmin_length = 'x'\n")

    done = invoke(tmp_path, monkeypatch, "policy", "show", LEDGER_POLICY_FILE=path)

    assert done.exit_code == ValidationFailedError.exit_code, done.output
    lines = done.stderr.splitlines()
    assert lines[0] == (f"error [validation_failed]: LEDGER_POLICY_FILE: the policy file {path} "
                        "has invalid values: login.max_failure, passwords.min_length")
    assert lines[1:] == [
        "  - login.max_failure: unknown key (the keys are those of "
        "src/ledger/policy_defaults.toml)",
        "  - passwords.min_length: is not a valid integer"]


# Key files --------------------------------------------------------------------------------

def ledger(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_ledger(list(args), cwd=workdir, timeout=CLI_TIMEOUT, env=ledger_env(
        f"sqlite:///{workdir / 'var' / 'ledger.sqlite3'}", **env))


@pytest.mark.parametrize("variable", ["LEDGER_KEK_FILE", "LEDGER_INDEX_KEY_FILE"])
def test_a_key_file_others_may_read_is_refused_like_ssh_saying_how_to_fix_it(
        tmp_path: Path, variable: str) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key_file = keys / "a.key"
    create_key_file(key_file)
    key_file.chmod(0o644)

    refused = ledger(tmp_path, "init", **{variable: str(key_file)})

    assert refused.returncode == KeyMaterialError.exit_code, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert f"{variable}: " in lines[0]
    assert "is open to other users (mode 0644)" in lines[0]
    assert f"run chmod 600 {key_file}" in lines[0]
    assert key_file.read_text(encoding="ascii") not in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys"]  # no var/, no other key

    key_file.chmod(0o600)  # the fix the refusal names
    assert ledger(tmp_path, "init", **{variable: str(key_file)}).returncode == 0


def test_the_key_files_a_development_ledger_makes_are_accepted_when_it_starts_again(
        tmp_path: Path) -> None:
    first = ledger(tmp_path, "init")
    again = ledger(tmp_path, "--json", "keys", "status")

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    (tmp_path / "var" / "kek.key").chmod(0o640)
    shared = ledger(tmp_path, "--json", "keys", "status")
    assert shared.returncode == KeyMaterialError.exit_code, shared.stderr
    assert "var/kek.key is open to other users (mode 0640)" in shared.stderr


def test_a_key_file_named_with_an_empty_value_is_not_the_working_directory(
        tmp_path: Path) -> None:
    done = ledger(tmp_path, "init", LEDGER_KEK_FILE="")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "LEDGER_KEK_FILE is not valid: is empty" in done.stderr
    assert list(tmp_path.iterdir()) == []


# The actor ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("how", "source"), [("option", "--actor"), ("variable", "LEDGER_ACTOR")])
def test_an_actor_who_is_no_account_is_told_so_naming_where_the_name_came_from(
        tmp_path: Path, how: str, source: str) -> None:
    assert ledger(tmp_path, "init").returncode == 0
    args = ["--actor", "nobody.here"] if how == "option" else []
    env = {"LEDGER_ACTOR": "nobody.here"} if how == "variable" else {}

    done = ledger(tmp_path, *args, "change", "pending", **env)

    assert done.returncode == AuthenticationError.exit_code, done.stderr
    assert done.stderr.strip() == (
        f"error [unauthenticated]: the actor ({source}) is no account of this ledger: name an "
        "existing one with --actor or LEDGER_ACTOR (`ledger account list` shows them)")
    assert "nobody.here" not in done.stderr


# The metrics token file -----------------------------------------------------------------

@pytest.mark.parametrize(("contents", "reason"), [
    (None, "does not exist"), ("directory", "is not a regular file"),
    ("/dev/zero", "is not a regular file"), ("", "is empty"), ("\n  \n", "is empty"),
    (b"\xff\xfe token", "is not UTF-8 text")])
def test_a_metrics_token_file_that_holds_no_token_is_refused_at_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contents: str | bytes | None,
        reason: str) -> None:
    """Checked at start, not at the first scrape: a missing file made every scrape with the
    token a 500, and /dev/zero was read until memory ran out."""
    path = policy_file(tmp_path, contents)
    before = sorted(p.name for p in tmp_path.iterdir())

    done = invoke(tmp_path, monkeypatch, "init", LEDGER_METRICS_TOKEN_FILE=path)

    line = one_line(done, ValidationFailedError.exit_code)
    assert line == (f"error [validation_failed]: LEDGER_METRICS_TOKEN_FILE: the metrics token "
                    f"file {path} {reason}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("contents", "reason"), [
    (None, "file does not exist"), ("/dev/zero", "is not a regular file"),
    ("not a key\n", "not a PEM public key")])
def test_a_public_key_file_that_is_no_public_key_is_named_at_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contents: str | None,
        reason: str) -> None:
    """It was read only by the first verify or backup; /dev/zero was read for ever there."""
    path = policy_file(tmp_path, contents)
    before = sorted(p.name for p in tmp_path.iterdir())

    done = invoke(tmp_path, monkeypatch, "init", LEDGER_SIGNING_PUBLIC_KEY_FILE=path)

    assert one_line(done, ValidationFailedError.exit_code) == (
        f"error [validation_failed]: LEDGER_SIGNING_PUBLIC_KEY_FILE: public key {path}: "
        f"{reason}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("setting", ["LEDGER_HOST", "--host"])
def test_the_plain_http_refusal_names_what_chose_the_host(setting: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        check_listening("0.0.0.0", tls=False, insecure=False, setting=setting)  # noqa: S104

    assert refused.value.fields == [setting]
