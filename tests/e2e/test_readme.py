"""The README never lies: its Python runs, and every setting, route, error code, command and
option it names exists in the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer.main

from ledger.i18n import (
    CHINESE,
    ENGLISH,
    format_day,
    format_moment,
    format_money,
    format_number,
)
from ledger.policy import load_policy
from ledger.policy_access import ROLES
from ledger.settings import Settings
from service import errors
from service.bootstrap import Ledger
from service.cli import app
from service.http import create_app
from tests.e2e.conftest import CLI_TIMEOUT, start_server

REPOSITORY = Path(__file__).resolve().parents[2]
README = REPOSITORY / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
CLI: Any = typer.main.get_command(app)


def fenced(*languages: str) -> list[str]:
    return [body for language, body in FENCED.findall(TEXT) if language in languages]


def shell_code() -> list[str]:
    """Shell blocks, plain blocks and inline code: where commands and options appear."""
    return fenced("sh", "") + re.findall(r"`([^`\n]+)`", FENCED.sub("", TEXT))


def test_the_readme_starts_with_make_run_and_make_test() -> None:
    first = FENCED.search(TEXT)
    assert first is not None
    assert TEXT[:first.start()].strip().startswith("# ")
    assert "\n" not in TEXT[:first.start()].strip()  # nothing but the title comes before
    commands = [line.split("#")[0].strip() for line in first.group(2).splitlines()]
    assert commands == ["make run", "make test"]


def test_the_python_snippets_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    snippets = fenced("python")
    assert snippets, "the README shows no Python"
    working_directory, temporary = tmp_path / "cwd", tmp_path / "tmp"
    working_directory.mkdir()
    temporary.mkdir()
    monkeypatch.chdir(working_directory)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    for name in [key for key in os.environ if key.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    namespace: dict[str, Any] = {"__name__": "readme"}
    for number, code in enumerate(snippets, 1):
        exec(compile(code, f"README.md, python block {number}", "exec"), namespace)  # noqa: S102

    # The first snippet keeps everything in its temporary directory: no ./var of key files.
    assert list(working_directory.iterdir()) == []


def run_shell(code: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run shell lines as a reader would, strict: the first failing command fails them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    # The examples put ./.venv/bin first; here the venv running the tests stands in for it.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "400"  # a wide terminal: no table cell is folded inside a value
    return subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=6 * CLI_TIMEOUT,
                          check=False, stdin=subprocess.DEVNULL)


def test_the_command_line_and_http_examples_run_as_written_with_the_shipped_profile(
        tmp_path: Path) -> None:
    (example,) = [code for code in fenced("sh") if "customer register" in code]
    named = re.search(r"customer register (\S+\.json)", example)
    assert named, "the example registers a customer from a file"
    shipped = REPOSITORY / named.group(1)
    assert shipped.is_file(), f"{named.group(1)} is not in the repository"
    (tmp_path / shipped.parent.name).mkdir()
    shutil.copy(shipped, tmp_path / named.group(1))

    # The HTTP example continues the same shell: it keeps the functions defined so far.
    done = run_shell(f"{example}\ndeclare -f > shell-functions.sh", tmp_path)

    assert done.returncode == 0, done.stderr
    assert "verify-change accepted" in done.stdout
    assert "sales@mingyuan.cn" in done.stdout, "customer show has the verified e-mail"
    assert "ChangeVerified" in done.stdout, "the history shows the verification"
    (print_password,) = {code for code in shell_code()
                         if code.startswith("sed") and "initial-admin-password.txt" in code}
    password = run_shell(print_password, tmp_path).stdout.strip()
    assert f"admin, one-time password {password} " in done.stdout, "init printed it, once"
    again = run_shell("ledger init", tmp_path)
    assert again.returncode == 0 and password not in again.stdout + again.stderr
    assert "one-time password" not in again.stdout

    # Every curl example, in the README's order, continues that shell: none is left unrun.
    over_http = curl_examples()
    assert "/auth/login" in over_http[0], "the first one logs in"
    assert all("127.0.0.1:8000" in code for code in over_http), "make run's address"
    server = start_server(tmp_path, "sqlite:///var/ledger.sqlite3")  # the example's database
    try:
        searched = run_shell("source shell-functions.sh\n" + CURL_FAILS_ON_HTTP_ERRORS + "\n".join(
            code.replace("127.0.0.1:8000", server.base_url.removeprefix("http://"))
            for code in over_http), tmp_path)
    finally:
        server.stop()

    assert searched.returncode == 0, searched.stdout + searched.stderr + server.output()
    assert searched.stdout.split()[:2] == ["accepted", json.loads(shipped.read_text(
        encoding="utf-8"))["basic"]["name"]], "the password changed, then the search found her"


def curl_examples() -> list[str]:
    return [code for code in fenced("sh") if re.search(r"(?:^|[\s(|;])curl ", code)]


# A curl example "works" only if the service accepted it: an HTTP error fails its line
# (curl exits 0 on a 4xx of its own), with the error's body on the output for the reader.
CURL_FAILS_ON_HTTP_ERRORS = 'curl() { command curl --fail-with-body "$@"; }\n'


def test_no_curl_example_puts_raw_non_ascii_text_in_a_url() -> None:
    # Raw UTF-8 in a request line is refused (400) before any route sees it; such text is
    # sent with -G --data-urlencode instead.
    urls = [url for code in curl_examples()
            for url in re.findall(r"[\"']((?:\$BASE|https?://)[^\"']*)[\"']", code)]

    assert urls, "the curl examples name their URLs"
    assert all(url.isascii() for url in urls), urls


def test_the_settings_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(LEDGER_[A-Z_]+)` \| `?([^|`]*?)`? \|", TEXT, re.MULTILINE))
    defaults = {f"LEDGER_{name.upper()}": field.default
                for name, field in Settings.model_fields.items()}

    assert set(rows) == set(defaults)
    for name, documented in rows.items():
        assert documented.lower() == str(defaults[name]).lower(), name


def test_the_error_table_matches_the_one_mapping() -> None:
    rows = re.findall(r"^\| `([a-z_]+)`[^|]* \| `(\w+Error)` \| (\d+) \| (\d+) \|", TEXT,
                      re.MULTILINE)

    assert {code for code, *_ in rows} == {cls.code for cls in errors.ERROR_CLASSES}
    for code, exception, status, exit_code in rows:
        error_class = getattr(errors, exception)
        assert error_class.code == code
        assert (int(status), int(exit_code)) == (error_class.http_status,
                                                 error_class.exit_code), code


def test_the_masking_tables_state_the_default_policy() -> None:
    section = TEXT[TEXT.index("**Masking**"):TEXT.index("**Grants**")]
    access = load_policy().access
    levels = {level: re.findall(r"`([a-z_.]+)`", fields) for level, fields in
              re.findall(r"^\| `([a-z_]+)` \| (`.*`) \|$", section, re.MULTILINE)}
    header = re.search(r"^\| Role \|(.*)\|$", section, re.MULTILINE)
    assert header is not None
    columns = [cell.strip() for cell in header.group(1).split("|")]
    rows = {role: [cell.strip() for cell in cells.split("|")[:-1]] for role, cells in
            re.findall(r"^\| `([a-z_]+)` \|((?: (?:clear|masked) \|)+)$", section,
                       re.MULTILINE)}

    assert {level: set(paths) for level, paths in levels.items()} == {
        level: set(paths) for level, paths in access.sensitive_fields.items()}
    assert set(columns) == set(access.sensitive_fields)
    assert set(rows) == set(ROLES)
    for role, cells in rows.items():
        cleared = {level for level, cell in zip(columns, cells, strict=True) if cell == "clear"}
        assert cleared == set(access.clearance.get(role, [])), role


def test_the_projections_section_names_every_read_model(sqlite_ledger: Ledger) -> None:
    section = TEXT[TEXT.index("## Projections"):TEXT.index("## Accounts, login and roles")]
    first = section.split("\n\n")[1]  # the paragraph that lists them
    words = ["Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve"]
    count = words.index(first.split()[0]) + 7

    assert set(re.findall(r"`([a-z_]+)`", first)) >= set(sqlite_ledger.runner.projections)
    assert count == len(sqlite_ledger.runner.projections)


# Each policy default the README states in its prose, read back from the README and
# compared with the default policy (the masking tables are the test above's).
POLICY_DEFAULTS: list[tuple[str, Any]] = [
    (r"A password older than (\d+) days brings a reminder",
     lambda p: p.passwords.rotation_days),
    (r"(\d+) consecutive failed logins lock the account", lambda p: p.login.max_failed_attempts),
    (r"valid for (\d+) hours", lambda p: p.login.session_lifetime_minutes // 60),
    (r"valid for \d+ hours and (\d+) idle minutes", lambda p: p.login.session_idle_minutes),
    (r"`login\.totp_required_roles` \(default `(\w+)`\)",
     lambda p: ",".join(p.login.totp_required_roles)),
    (r"`high_privilege_roles` \(([^)]*)\)",
     lambda p: ", ".join(f"`{role}`" for role in p.access.high_privilege_roles)),
    (r"the grants unused for (\d+) days", lambda p: p.access.grant_unused_days),
    (r"the policy's `locale` \(default `(\w+)`\)", lambda p: p.locale),
    (r"the policy's `timezone` \(default\s+`([\w/]+)`\)", lambda p: p.timezone),
    (r"`training\.pass_mark` \(default (\d+)\)", lambda p: p.training.pass_mark),
    (r"`training\.period_months` \(6 or 12, default (\d+)\)",
     lambda p: p.training.period_months),
    (r"`training\.new_employee_months`, default (\d+) months",
     lambda p: p.training.new_employee_months),
    (r"`training\.warning_days`\s+\(default (\d+)\)", lambda p: p.training.warning_days),
    (r"With `training\.required_for_grants` \(default (on)\)",
     lambda p: "on" if p.training.required_for_grants else "off"),
    # Each course, then the roles it qualifies for, in the policy's order.
    (r"the default policy has\s+(`customer-data-handling`.*?)\.\s", lambda p: [
        name for course, spec in p.training.courses.items() for name in (course, *spec.roles)]),
]


@pytest.mark.parametrize(("pattern", "default"), POLICY_DEFAULTS,
                         ids=[pattern[:40] for pattern, _ in POLICY_DEFAULTS])
def test_each_policy_default_the_readme_states_is_the_default(pattern: str, default: Any
                                                              ) -> None:
    stated = re.search(pattern, TEXT, re.DOTALL)

    assert stated is not None, f"the README no longer says {pattern!r}"
    value = default(load_policy())
    if isinstance(value, list):
        assert re.findall(r"`([^`]+)`", stated.group(1)) == value
    else:
        assert " ".join(stated.group(1).split()) == str(value)


def test_the_formats_table_is_what_babel_writes_in_each_language() -> None:
    rows = dict((label, (english, chinese)) for label, english, chinese in re.findall(
        r"^\| (a moment|a day|a count|money \(CNY\)) \| `([^`]*)` \| `([^`]*)` \|$", TEXT,
        re.MULTILINE))
    shanghai = ZoneInfo("Asia/Shanghai")
    moment = datetime(2026, 11, 27, 11, 0, tzinfo=shanghai)
    written = {"a moment": lambda language: format_moment(moment, language, shanghai),
               "a day": lambda language: format_day(date(2026, 3, 9), language),
               "a count": lambda language: format_number(1234, language),
               "money (CNY)": lambda language: format_money(Decimal("1234567.50"), "CNY",
                                                            language)}

    assert rows.keys() == written.keys()
    for label, stated in rows.items():
        # CLDR puts a narrow no-break space before AM/PM; the README shows a plain one.
        assert tuple(written[label](language).replace("\u202f", " ")
                     for language in (ENGLISH, CHINESE)) == stated, label


def test_every_read_model_answer_states_the_position_it_reflects() -> None:
    document = create_app().openapi()
    answers = {path: operations["get"]["responses"]["200"]["content"]["application/json"]
               ["schema"]["$ref"].rsplit("/", 1)[-1]
               for path, operations in document["paths"].items() if "get" in operations
               and path not in ("/healthz", "/readyz", "/metrics")}
    schemas = document["components"]["schemas"]
    from_the_log = {"/customers/{customer_id}/history", "/customers/{customer_id}/as-of"}

    assert from_the_log <= answers.keys()
    assert {path for path, answer in answers.items()
            if "reflects_position" not in schemas[answer]["properties"]} == from_the_log


def test_each_command_route_takes_the_body_fields_and_values_the_readme_shows() -> None:
    document = create_app().openapi()
    schemas = document["components"]["schemas"]

    def model(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return next((model(option) for option in schema.get("anyOf", [])
                     if "$ref" in option), schema)

    def values(schema: dict[str, Any]) -> set[str]:
        schema = model(schema)
        return set(schema.get("enum", [])) or next(
            (found for option in schema.get("anyOf", []) if (found := values(option))), set())

    rows = re.findall(r"^\| `POST (/[^`]*)` \| `(\{[^`]*\})`", TEXT, re.MULTILINE)
    assert len(rows) > 40
    for path, shown in rows:
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        fields = model(body["schema"])["properties"]
        named = re.findall(r'"(\w+)"\??(?=[,:}]| or)', re.sub(r': (?:"\w+"(?: or )?)+', "",
                                                             shown))
        assert set(named) <= fields.keys(), path
        for field, choices in re.findall(r'"(\w+)"\??: ((?:"\w+"(?: or )?)+)', shown):
            assert set(re.findall(r'"(\w+)"', choices)) == values(fields[field]), (path, field)


def test_each_query_route_takes_the_parameters_the_readme_shows() -> None:
    document = create_app().openapi()
    rows = re.findall(r"^\| `GET (/[^`?]*)(\?[^`]*)?` \| (.*) \|$", TEXT, re.MULTILINE)

    assert len(rows) > 25
    for path, in_path, described in rows:
        taken = {parameter["name"] for parameter in document["paths"][path]["get"].get(
            "parameters", []) if parameter["in"] == "query"}
        named = set(re.findall(r"[?&](\w+)=", in_path + " " + described))
        assert named <= taken, path


def test_every_route_the_readme_names_is_served() -> None:
    served = create_app().openapi()["paths"]
    named = re.findall(r"`(GET|POST) (/[^`?\s]*)", TEXT)

    assert len(named) >= len(served)
    for method, path in named:
        assert method.lower() in served.get(path, {}), f"{method} {path}"


def _options(command: Any) -> set[str]:
    names = {opt for param in command.params for opt in getattr(param, "opts", ())
             if opt.startswith("--")}
    for sub in getattr(command, "commands", {}).values():
        names |= _options(sub)
    return names


def test_every_cli_option_the_readme_names_exists() -> None:
    # Options of other tools (``python -m bench --quick``, ``curl --data-urlencode``) are
    # not the ledger's to check.
    named = {opt for code in shell_code() for line in code.splitlines()
             if not re.search(r"\b(bench|curl)\b", line)
             for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)}

    assert named, "the README names no options"
    assert named <= _options(CLI) | {"--help"}


def test_every_cli_command_the_readme_names_exists() -> None:
    mentions = [m for code in shell_code()
                for m in re.findall(r"(?:^|[\s/])ledger ([^\n]*)", code, re.MULTILINE)]
    assert len(mentions) > 10

    for mention in mentions:
        command, words = CLI, mention.split()
        while words and (words[0].startswith("-") or words[0] in getattr(command, "commands",
                                                                         {})):
            word = words.pop(0)
            if word.startswith("-"):
                if _takes_value(command, word) and words:
                    words.pop(0)
                continue
            command = command.commands[word]
        if hasattr(command, "commands") and words:
            assert not re.fullmatch(r"[a-z][a-z-]*", words[0]), f"unknown command: {mention}"


def test_each_command_of_the_synopsis_takes_the_options_and_arguments_shown() -> None:
    # The block of `ledger ...` lines: every option shown is that command's own (not just
    # some command's), and it takes as many arguments as the line names.
    block = next(code for code in fenced("") if code.startswith("ledger serve"))
    checked, commands = 0, []
    for line in block.splitlines():
        synopsis = re.split(r"\s{2,}", line.strip())[0].split()
        if line.startswith("ledger "):
            words, command = synopsis[1:], CLI
            while words and all(name in getattr(command, "commands", {})
                                for name in words[0].split("|")):
                commands = [command.commands[name] for name in words.pop(0).split("|")]
                command = commands[0]
            assert not hasattr(command, "commands"), line
            arguments = [word for before, word in zip(["", *words], words, strict=False)
                         if not before.lstrip("[").startswith("--")
                         and re.fullmatch(r"\[?[A-Z][A-Z_]*\]?(\.\.\.)?|FILE\|-", word)]
            for each in commands:
                taken = [param for param in each.params if not param.opts[0].startswith("-")]
                assert len(taken) == len(arguments), (line, each.name)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(synopsis)):
            for each in commands:
                assert option in _options(each), (option, line)
                checked += 1
    assert checked > 50


def _takes_value(command: Any, option: str) -> bool:
    return any(option in getattr(param, "opts", ()) and not getattr(param, "is_flag", False)
               for param in command.params)
