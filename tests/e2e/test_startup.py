"""Starting the real ``ledger init`` and ``ledger serve`` against broken configuration: a
database that does not answer, or production settings left out. Each start is refused at
once, in one message, and leaves nothing behind in its working directory."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.connect import DatabaseUnavailableError
from ledger.domain.errors import ValidationFailedError
from service.preflight import PathUnusableError
from tests.conftest import _with_database
from tests.e2e.conftest import CLI_TIMEOUT, free_port, ledger_env
from tests.e2e.forked import run_ledger
from tests.e2e.test_http_auth import self_signed_certificate

pytestmark = pytest.mark.e2e

PASSWORD_IN_URL = "Not-For-Print-7319"  # must never be printed
CONNECT_TIMEOUT = 2
# Well under the connection pool's 30 s wait that a start used to sit through.
START_BOUND = 15.0
START_COMMANDS = ["init", "serve"]
# The read-only verifiers open no pool of their own before asking the database either.
DATABASE_COMMANDS = [*START_COMMANDS, "audit verify", "audit export-checkpoint"]


def command_line(command: str) -> tuple[str, ...]:
    return ("serve", "--port", str(free_port())) if command == "serve" else tuple(
        command.split())


def started(workdir: Path, args: tuple[str, ...], database_url: str, **env: str
            ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``ledger ARGS`` as a user would; the result, and the seconds it took."""
    begun = time.monotonic()
    done = run_ledger(list(args), cwd=workdir, timeout=CLI_TIMEOUT,
                      env=ledger_env(database_url, **env))
    return done, time.monotonic() - begun


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port: int = listener.getsockname()[1]
        yield port


def assert_refused_in_one_line(done: subprocess.CompletedProcess[str], seconds: float,
                               *names: str) -> None:
    assert done.returncode == DatabaseUnavailableError.exit_code, done.stderr
    assert seconds < START_BOUND
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in names:
        assert name in lines[0]
    assert PASSWORD_IN_URL not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_port_nobody_listens_on_is_reported_at_once_and_nothing_is_written(
        tmp_path: Path, command: str) -> None:
    port = free_port()
    url = f"postgresql://postgres:{PASSWORD_IN_URL}@127.0.0.1:{port}/ledger"

    done, seconds = started(tmp_path, command_line(command), url)

    assert_refused_in_one_line(done, seconds, f"127.0.0.1:{port}", "'ledger'", "refused")
    assert list(tmp_path.iterdir()) == [], "no key file, no var/ directory"


@pytest.mark.parametrize("command", START_COMMANDS)
def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(
        tmp_path: Path, silent_port: int, command: str) -> None:
    url = f"postgresql://postgres:{PASSWORD_IN_URL}@127.0.0.1:{silent_port}/ledger"

    done, seconds = started(tmp_path, command_line(command), url,
                            LEDGER_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT))

    assert_refused_in_one_line(done, seconds, f"127.0.0.1:{silent_port}", "timeout")
    assert seconds >= CONNECT_TIMEOUT - 1, "the timeout is the one configured"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_database_missing_on_the_real_server_is_named_and_not_created(
        tmp_path: Path, postgres_admin_url: str, command: str) -> None:
    missing = f"ledger_missing_{uuid.uuid4().hex[:8]}"
    url = _with_database(postgres_admin_url, missing).replace(
        "postgres@", f"postgres:{PASSWORD_IN_URL}@", 1)
    assert PASSWORD_IN_URL in url  # there to be leaked, were the URL ever printed

    done, seconds = started(tmp_path, command_line(command), url)

    assert_refused_in_one_line(done, seconds, "127.0.0.1:5432", f"'{missing}'",
                               "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_a_key_store_database_that_does_not_answer_stops_a_sqlite_ledger_too(
        tmp_path: Path) -> None:
    port = free_port()
    done, seconds = started(tmp_path, ("init",), "sqlite:///var/ledger.sqlite3",
                            LEDGER_KEYSTORE_URL=f"postgresql://postgres:{PASSWORD_IN_URL}"
                                                f"@127.0.0.1:{port}/keys")

    assert_refused_in_one_line(done, seconds, f"127.0.0.1:{port}", "'keys'")
    assert list(tmp_path.iterdir()) == []


PRODUCTION_NEEDS = ("LEDGER_SIGNING_KEY_FILE", "LEDGER_INDEX_KEY", "LEDGER_KEK")


@pytest.mark.parametrize("command", START_COMMANDS)
def test_production_lists_every_missing_setting_in_one_refusal_and_creates_nothing(
        tmp_path: Path, command: str) -> None:
    done, _ = started(tmp_path, ("--json", *command_line(command)), "sqlite:///var/ledger.sqlite3",
                      LEDGER_ENVIRONMENT="production")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    error = json.loads(done.stderr)["error"]
    assert [p["field"] for p in error["details"]["problems"]] == sorted(PRODUCTION_NEEDS)
    for setting in PRODUCTION_NEEDS:
        assert setting in error["message"]
    assert list(tmp_path.iterdir()) == []


def test_production_with_only_the_kek_missing_names_it_and_leaves_no_var_directory(
        tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    signing_key = secrets / "signing.pem"
    created, _ = started(tmp_path, ("audit", "create-signing-key", str(signing_key)),
                         "sqlite:///unused.sqlite3")
    assert created.returncode == 0, created.stderr
    workdir = tmp_path / "ledger"
    workdir.mkdir()

    done, _ = started(workdir, ("init",), "sqlite:///var/ledger.sqlite3",
                      LEDGER_ENVIRONMENT="production",
                      LEDGER_SIGNING_KEY_FILE=str(signing_key),
                      LEDGER_INDEX_KEY="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
                      LEDGER_KEYSTORE_URL=f"sqlite:///{secrets / 'keys.sqlite3'}")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "set right: LEDGER_KEK\n" in done.stderr
    assert list(workdir.iterdir()) == [], "a refused start leaves no empty var/ behind"
    assert sorted(p.name for p in secrets.iterdir()) == ["signing.pem"]


def test_a_url_whose_password_breaks_its_parsing_is_refused_without_echoing_it(
        tmp_path: Path) -> None:
    # Unencoded, "#" ends the address: urllib then reads "Not" as the port.
    done, _ = started(tmp_path, ("init",), "postgresql://postgres:Not#For-Print@127.0.0.1/x")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "percent-encoded" in done.stderr
    assert "Not" not in done.stderr.replace("not a number", "")
    assert "For-Print" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["0", "65536"])
def test_a_port_out_of_range_is_refused_not_replaced_by_the_default(tmp_path: Path,
                                                                    port: str) -> None:
    done, _ = started(tmp_path, ("serve", "--port", port),
                      f"sqlite:///{tmp_path / 'ledger.sqlite3'}")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "port" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("broken", ["missing", "not PEM", "another's key"])
def test_a_certificate_that_cannot_be_used_is_refused_before_listening(
        tmp_path: Path, broken: str) -> None:
    cert, key = self_signed_certificate(tmp_path)
    if broken == "missing":
        cert = tmp_path / "nowhere.pem"
    elif broken == "not PEM":
        cert.write_text('{"not": "a certificate"}\n', encoding="utf-8")
    else:
        other = tmp_path / "other"
        other.mkdir()
        _, key = self_signed_certificate(other)

    done, _ = started(tmp_path, ("serve", "--port", str(free_port()), "--tls-cert", str(cert),
                                 "--tls-key", str(key)),
                      f"sqlite:///{tmp_path / 'ledger.sqlite3'}")

    expected = PathUnusableError if broken == "missing" else ValidationFailedError
    assert done.returncode == expected.exit_code, done.stderr
    assert "Traceback" not in done.stderr and "listening" not in done.stdout
    assert "--tls-" in done.stderr.splitlines()[0], done.stderr
    assert not (tmp_path / "ledger.sqlite3").exists()
