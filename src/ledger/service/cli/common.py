"""What every ``ledger`` sub-command shares: global options, errors, output, and the ledger."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from commands.client import LedgerClient
from commands.errors import EXIT_CODES, UNEXPECTED_EXIT_CODE
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.logging import configure_logging
from ledger.service.bootstrap import Ledger, bootstrap
from ledger.settings import Settings

# soft_wrap: a message is one line however narrow the terminal, so scripts and logs can grep it.
out = Console()
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


class Options:
    """Global options, kept for the sub-commands."""

    json: bool = False
    actor: str = ""
    url: str | None = None
    database_url: str | None = None


options = Options()

LOCAL_ADMINISTRATOR = "local-admin"
# Whoever runs the command line on the server holds the database anyway: trusted as an
# administrator, and recorded as such in every event it writes.
LOCAL_ADMINISTRATOR_ROLES = ("sysadmin",)


def settings(**overrides: Any) -> Settings:
    if options.database_url:
        overrides["database_url"] = options.database_url
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = [Problem(".".join(str(p) for p in d["loc"]) or "settings", d["msg"])
                    for d in error.errors(include_input=False, include_url=False)]
        raise ValidationFailedError(problems, "invalid settings") from None


def redacted(database_url: str) -> str:
    """The database URL without its password, fit to print."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def fail(error: LedgerError) -> None:
    if options.json:
        err.print_json(json.dumps({"error": error.as_dict()}, ensure_ascii=False))
    else:
        err.print(f"[bold red]error[/] {escape(f'[{error.code}]')}: {escape(error.message)}",
                  highlight=False)
        if isinstance(error, ValidationFailedError):
            for problem in error.problems:
                err.print(f"  - {escape(problem.field)}: {escape(problem.message)}",
                          highlight=False)
    raise typer.Exit(EXIT_CODES.get(error.code, UNEXPECTED_EXIT_CODE))


def run(action: Callable[[], T]) -> T:
    """Run an action, turning ledger errors into a message and a stable exit code."""
    try:
        return action()
    except LedgerError as error:
        fail(error)
        raise  # pragma: no cover - fail() always exits


@contextmanager
def local_ledger() -> Iterator[Ledger]:
    chosen = settings()
    configure_logging(chosen.model_copy(update={"log_level": "warning"}))
    ledger = bootstrap(chosen, start_projections=False)
    try:
        yield ledger
    finally:
        ledger.close()


def local_administrator() -> str:
    """The actor the administration commands record: the local administrator, by login."""
    return f"{LOCAL_ADMINISTRATOR}:{getpass.getuser()}"


@contextmanager
def _remote() -> Iterator[LedgerClient]:
    """A client logged in to the service at ``--url`` as ``--actor`` ($LEDGER_PASSWORD,
    else a prompt; $LEDGER_TOTP for the second factor)."""
    password = os.environ.get("LEDGER_PASSWORD") or typer.prompt(
        f"Password for {options.actor}", hide_input=True, err=True)
    with LedgerClient.over_http(options.url or "", username=options.actor, password=password,
                                totp=os.environ.get("LEDGER_TOTP"),
                                verify=os.environ.get("LEDGER_CA_BUNDLE") or True) as remote:
        yield remote


@contextmanager
def client() -> Iterator[LedgerClient]:
    """A client over HTTP when ``--url`` is given, else on the local database acting as the
    ``--actor`` account, with its roles (the local machine is trusted with the database)."""
    if options.url:
        with _remote() as remote:
            yield remote
        return
    with local_ledger() as ledger:
        # No service may be running: bring the read models up to date before reading.
        ledger.runner.catch_up()
        yield LedgerClient.in_process(ledger, options.actor, client_address="cli")


@contextmanager
def admin_client() -> Iterator[LedgerClient]:
    """For administration: the local administrator on the local database (audited as
    ``local-admin:<login>``), or the ``--actor`` account over HTTP with ``--url``."""
    if options.url:
        with _remote() as remote:
            yield remote
        return
    with local_ledger() as ledger:
        ledger.runner.catch_up()
        yield LedgerClient.in_process(ledger, local_administrator(),
                                      roles=list(LOCAL_ADMINISTRATOR_ROLES),
                                      client_address="cli")


def read_json(source: Path) -> Any:
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise ValidationFailedError([Problem("file", "not found")], f"no such file: {source}"
                                    ) from None
    except json.JSONDecodeError as error:
        raise ValidationFailedError([Problem("file", f"not valid JSON (line {error.lineno})")],
                                    "the input is not valid JSON") from None


def show(data: Any, render: Callable[[Any], None]) -> None:
    if options.json:
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
    else:
        render(data)


def cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def table(*columns: str, title: str | None = None) -> Table:
    """A table whose ids and times are never cut, so they can be copied into the next command."""
    result = Table(title=title)
    for column in columns:
        whole = column.endswith((" id", " at", " on"))
        result.add_column(column, no_wrap=whole, min_width=len(column), overflow="fold")
    return result


def note(text: str) -> None:
    out.print(text, style="dim", highlight=False, soft_wrap=True)


def show_outcome(outcome: dict[str, Any]) -> None:
    def render(o: dict[str, Any]) -> None:
        replayed = " (already processed: first outcome returned)" if o.get("replayed") else ""
        out.print(f"[green]{o['command']}[/] accepted{replayed}", highlight=False,
                  soft_wrap=True)
        rows = Table(show_header=False, box=None)
        rows.add_column(no_wrap=True)
        rows.add_column(no_wrap=True)
        for key in ("aggregate_id", "version", "position", "command_id"):
            rows.add_row(key, str(o.get(key)))
        for key, value in (o.get("result") or {}).items():
            rows.add_row(key, cell(value))
        out.print(rows)

    show(outcome, render)
