"""The real ``ledger`` executable given broken configuration or input: a misspelt policy,
an address nobody answers on, a file that is not UTF-8, a directory that cannot exist, a
bad key, a busy port. Each is refused in one clear line with a documented exit code, no
traceback, and nothing written."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import LedgerError
from service.client import LedgerClient
from service.client_retry import RetryPolicy
from service.errors import ServiceUnavailableError, ValidationFailedError, error_class
from service.preflight import PathUnusableError
from tests.e2e.conftest import CLI_TIMEOUT, free_port, ledger_env
from tests.e2e.forked import run_ledger

pytestmark = pytest.mark.e2e

SECRET = "Not-For-Print-4410"  # a password that must never be printed


def ledger(workdir: Path, *args: str, database_url: str | None = None, **env: str
           ) -> subprocess.CompletedProcess[str]:
    url = database_url or f"sqlite:///{workdir / 'ledger.sqlite3'}"
    return run_ledger(list(args), cwd=workdir, timeout=CLI_TIMEOUT, env=ledger_env(url, **env))


def refused_in_one_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == error_class(code).exit_code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["policy", "show"], ["init"]])
def test_a_misspelt_operation_in_the_policy_is_refused_naming_the_entry(
        tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "p.toml").write_text('[access.permissions]\nsales = ["get-custmer"]\n',
                                     encoding="utf-8")

    done = ledger(tmp_path, *command, LEDGER_POLICY_FILE="p.toml")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "access.permissions.sales" in done.stderr
    assert "get-custmer" in done.stderr
    assert "command or query name" in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.toml"]


def test_a_service_nobody_answers_at_is_named_without_its_credentials(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://someone:{SECRET}@127.0.0.1:{port}"

    # Retried for a second, not the default 30: what is named is the point here (the
    # retries themselves are tests/unit/service/test_client_retry.py's).
    done = ledger(tmp_path, "--url", url, "--actor", "li.na", "customer", "show",
                  "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44", LEDGER_PASSWORD=SECRET,
                  LEDGER_CLIENT_RETRY_DEADLINE="1")

    line = refused_in_one_line(done, "service_unavailable")
    assert f"http://127.0.0.1:{port}" in line
    assert SECRET not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_url_that_is_no_url_is_a_validation_error_not_a_traceback(tmp_path: Path) -> None:
    done = ledger(tmp_path, "--url", "http://[not-a-host", "--actor", "li.na", "customer",
                  "show", "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44", LEDGER_PASSWORD=SECRET)

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "URL is not valid" in done.stderr and "Traceback" not in done.stderr


def test_the_client_library_raises_a_ledger_error_for_a_silent_address() -> None:
    with pytest.raises(ServiceUnavailableError, match="did not answer"):
        LedgerClient.over_http(f"http://127.0.0.1:{free_port()}", username="li.na",
                               password=SECRET, retry=RetryPolicy(deadline=1))


def test_a_profile_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    ledger(tmp_path, "init")
    events = stored_events(tmp_path)
    (tmp_path / "f.json").write_bytes('{"basic": {"name": "王明"}}'.encode("utf-16"))

    done = ledger(tmp_path, "customer", "register", "f.json", LEDGER_ACTOR="local-admin")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    assert "f.json" in done.stderr.splitlines()[0]
    assert "not UTF-8" in done.stderr
    assert stored_events(tmp_path) == events


def stored_events(workdir: Path) -> int:
    with closing(sqlite3.connect(workdir / "ledger.sqlite3")) as db:
        count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        return count


@pytest.mark.parametrize("setting", ["LEDGER_DATA_DIR", "LEDGER_DATABASE_URL"])
@pytest.mark.parametrize("place", ["/proc/ledger-x", "parent-is-a-file/x"])
def test_a_directory_that_cannot_exist_is_one_line_and_nothing_is_written(
        tmp_path: Path, setting: str, place: str) -> None:
    (tmp_path / "parent-is-a-file").write_text("not a directory\n", encoding="utf-8")
    path = place if place.startswith("/") else str(tmp_path / place)
    value = f"sqlite:///{path}/l.sqlite3" if setting == "LEDGER_DATABASE_URL" else path

    done = ledger(tmp_path, "init", **{setting: value})

    line = refused_in_one_line(done, "path_unusable")
    assert setting in line and path in line
    assert "development_key_created" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parent-is-a-file"]


@pytest.mark.parametrize("setting", ["LEDGER_KEK", "LEDGER_INDEX_KEY"])
def test_a_bad_key_in_development_creates_no_key_file(tmp_path: Path, setting: str) -> None:
    done = ledger(tmp_path, "init", **{setting: "notbase64!!"})

    refused_in_one_line(done, "key_material")
    assert list(tmp_path.iterdir()) == [], "no var/, no key file, no database"


def test_a_malformed_signing_key_file_is_refused_before_any_key_is_made(tmp_path: Path
                                                                       ) -> None:
    (tmp_path / "signing.pem").write_text("not a key\n", encoding="utf-8")
    (tmp_path / "signing.pem").chmod(0o600)

    done = ledger(tmp_path, "init", LEDGER_SIGNING_KEY_FILE="signing.pem")

    line = refused_in_one_line(done, "key_material")  # as a malformed KEK file is
    assert "LEDGER_SIGNING_KEY_FILE" in line and "not an unencrypted PEM" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.pem"]


def test_serve_on_a_busy_port_says_so_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]

        done = ledger(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))

    line = refused_in_one_line(done, "address_unusable")
    assert f"127.0.0.1:{port}" in line
    assert "listening" not in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["projections", "verify"], ["keys", "verify"],
                                     ["keys", "status"], ["audit", "verify"],
                                     ["audit", "status"], ["init"], ["policy", "show"]])
def test_a_command_that_reads_the_database_itself_refuses_a_service_url(
        tmp_path: Path, command: list[str]) -> None:
    done = ledger(tmp_path, "--url", f"http://127.0.0.1:{free_port()}", *command,
                  LEDGER_PASSWORD=SECRET)

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "--url" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no key file made to check instead


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:8000", "http://", "http://h:port"])
def test_a_url_that_is_no_service_address_is_refused_at_once(tmp_path: Path, url: str) -> None:
    done = ledger(tmp_path, "--url", url, "--actor", "li.na", "customer", "show",
                  "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44", LEDGER_PASSWORD=SECRET)

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "URL is not valid" in done.stderr and "attempts" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_a_password_or_a_terminal_the_client_says_what_to_set(tmp_path: Path) -> None:
    done = ledger(tmp_path, "--url", f"http://127.0.0.1:{free_port()}", "--actor", "li.na",
                  "customer", "show", "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44")

    assert done.returncode == ValidationFailedError.exit_code, done.stderr
    assert "LEDGER_PASSWORD" in done.stderr
    assert "Warning" not in done.stderr and "Aborted" not in done.stderr


def test_a_ledger_opened_from_another_directory_makes_no_key_files_there(
        tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    database = f"sqlite:///{home / 'var' / 'ledger.sqlite3'}"
    assert ledger(home, "init", database_url=database).returncode == 0

    done = ledger(elsewhere, "--json", "keys", "status", database_url=database)

    assert done.returncode == KeyMaterialError.exit_code, done.stderr
    assert "LEDGER_DATA_DIR" in done.stderr and "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == []  # no new KEK, no new blind-index key


def test_json_nested_too_deep_is_refused_not_a_traceback(tmp_path: Path) -> None:
    ledger(tmp_path, "init")
    events = stored_events(tmp_path)
    (tmp_path / "deep.json").write_text('{"a":' * 2000 + "1" + "}" * 2000, encoding="utf-8")

    from_file = ledger(tmp_path, "customer", "register", "deep.json",
                       LEDGER_ACTOR="local-admin")
    from_option = ledger(tmp_path, "change", "propose", "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44",
                         "--happened-on", "2024-03-01", "--set-json",
                         "basic.email=" + "[" * 100_000, LEDGER_ACTOR="local-admin")

    for done in (from_file, from_option):
        assert done.returncode == ValidationFailedError.exit_code, done.stderr
        assert "nested deeper than 32 levels" in done.stderr and "Traceback" not in done.stderr
    assert stored_events(tmp_path) == events


def test_a_profile_saved_with_a_byte_order_mark_reads_as_typed(tmp_path: Path) -> None:
    ledger(tmp_path, "init")
    (tmp_path / "bom.json").write_text("\ufeff" + json.dumps({"basic": {}}), encoding="utf-8")

    done = ledger(tmp_path, "customer", "register", "bom.json", LEDGER_ACTOR="local-admin")

    assert "not valid JSON" not in done.stderr  # read: the profile's own rules decide


@pytest.mark.parametrize("contents", [b"\x8f\x02" * 50_000, b"not a database at all\n"],
                         ids=["random bytes", "text"])
def test_a_database_file_that_is_no_sqlite_database_is_named_and_nothing_is_written(
        tmp_path: Path, contents: bytes) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "ledger.sqlite3").write_bytes(contents)

    done = ledger(tmp_path, "keys", "status",
                  database_url=f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}")

    assert done.returncode == PathUnusableError.exit_code, done.stderr
    assert "is not a SQLite database" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["ledger.sqlite3"]


@contextmanager
def impostor(read_answer: dict[str, object], status: int = 200) -> Iterator[str]:
    """An HTTP server that is no ledger: it lets anyone log in, then answers every read
    with ``read_answer``."""
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer(200, {"token": "T", "roles": ["sales"], "notices": []})

        def do_GET(self) -> None:
            self._answer(status, read_answer)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_at_url_that_is_no_ledger_is_one_line_without_its_escape_sequences(
        tmp_path: Path) -> None:
    customer = "6f1c3a52-8d4e-4c1b-9a57-2f0e8b1d3c44"
    with impostor({}) as url:
        empty = ledger(tmp_path, "--url", url, "--actor", "li.na", "customer", "show", customer,
                       LEDGER_PASSWORD=SECRET)
    hostile = {"error": {"code": "made_up", "message": "\u001b[31mPWNED\u001b[0m"}}
    with impostor(hostile, status=400) as url:
        painted = ledger(tmp_path, "--url", url, "--actor", "li.na", "customer", "show",
                         customer, LEDGER_PASSWORD=SECRET)

    assert empty.returncode == ServiceUnavailableError.exit_code, empty.stderr
    assert "not a ledger's answer" in empty.stderr and "Traceback" not in empty.stderr
    assert painted.returncode != 0 and "PWNED" in painted.stderr
    assert "\x1b" not in painted.stderr + painted.stdout


@pytest.mark.parametrize(("setting", "command", "error"), [
    ("LEDGER_KEK_FILE", ["init"], KeyMaterialError),
    ("LEDGER_POLICY_FILE", ["policy", "show"], ValidationFailedError),
], ids=["KEK", "policy"])
def test_a_device_named_for_a_file_is_refused_not_read_for_ever(
        tmp_path: Path, setting: str, command: list[str], error: type[LedgerError]) -> None:
    done = ledger(tmp_path, *command, **{setting: "/dev/zero"})

    assert done.returncode == error.exit_code, done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr
