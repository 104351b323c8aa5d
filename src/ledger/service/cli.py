"""The ``ledger`` command line: the service, local administration, and the same operations as
the client. Human output by default (Rich tables); ``--json`` for machines."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from commands.client import LedgerClient
from commands.errors import EXIT_CODES, UNEXPECTED_EXIT_CODE
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.logging import configure_logging
from ledger.policy import load_policy
from ledger.service.bootstrap import Ledger, bootstrap
from ledger.settings import Settings

app = typer.Typer(help="The customer ledger: event-sourced customer records under a data policy.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
customer_app = typer.Typer(help="Register, show and find customers.", no_args_is_help=True)
change_app = typer.Typer(help="Propose, verify and reject changes to a customer.",
                         no_args_is_help=True)
review_app = typer.Typer(help="Quarterly customer reviews (UP-1).", no_args_is_help=True)
projections_app = typer.Typer(help="Read models: status and rebuild.", no_args_is_help=True)
policy_app = typer.Typer(help="The policy values in force.", no_args_is_help=True)
app.add_typer(customer_app, name="customer")
app.add_typer(change_app, name="change")
app.add_typer(review_app, name="review")
app.add_typer(projections_app, name="projections")
app.add_typer(policy_app, name="policy")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


class Options:
    """Global options, kept for the sub-commands."""

    json: bool = False
    actor: str = ""
    url: str | None = None
    database_url: str | None = None


options = Options()


@app.callback()
def main_options(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    actor: Annotated[str | None, typer.Option(
        help="Who is acting (default: $LEDGER_ACTOR, else your login name).")] = None,
    url: Annotated[str | None, typer.Option(
        help="Talk to a ledger service at this URL instead of the local database.")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="Database to use (default: $LEDGER_DATABASE_URL, else the SQLite file "
             "under ./var).")] = None,
) -> None:
    options.json = json_output
    options.actor = actor or os.environ.get("LEDGER_ACTOR") or getpass.getuser()
    options.url = url
    options.database_url = database_url


# Plumbing ---------------------------------------------------------------------

def _settings(**overrides: Any) -> Settings:
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


def _fail(error: LedgerError) -> None:
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
        _fail(error)
        raise  # pragma: no cover - _fail always exits


@contextmanager
def local_ledger() -> Iterator[Ledger]:
    settings = _settings()
    configure_logging(settings.model_copy(update={"log_level": "warning"}))
    ledger = bootstrap(settings, start_projections=False)
    try:
        yield ledger
    finally:
        ledger.close()


@contextmanager
def client() -> Iterator[LedgerClient]:
    """A client over HTTP when ``--url`` is given, else on the local database."""
    if options.url:
        with LedgerClient.over_http(options.url, options.actor) as remote:
            yield remote
        return
    with local_ledger() as ledger:
        # No service may be running: bring the read models up to date before reading.
        ledger.runner.catch_up()
        yield LedgerClient.in_process(ledger, options.actor, client_address="cli")


def _read_json(source: Path) -> Any:
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise ValidationFailedError([Problem("file", "not found")], f"no such file: {source}"
                                    ) from None
    except json.JSONDecodeError as error:
        raise ValidationFailedError([Problem("file", f"not valid JSON (line {error.lineno})")],
                                    "the input is not valid JSON") from None


def _show(data: Any, render: Callable[[Any], None]) -> None:
    if options.json:
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
    else:
        render(data)


def _show_outcome(outcome: dict[str, Any]) -> None:
    def render(o: dict[str, Any]) -> None:
        note = " (already processed: first outcome returned)" if o.get("replayed") else ""
        out.print(f"[green]{o['command']}[/] accepted{note}", highlight=False)
        table = Table(show_header=False, box=None)
        for key in ("aggregate_id", "version", "position", "command_id"):
            table.add_row(key, str(o.get(key)))
        for key, value in (o.get("result") or {}).items():
            table.add_row(key, json.dumps(value) if isinstance(value, list) else str(value))
        out.print(table)

    _show(outcome, render)


# Service ----------------------------------------------------------------------

@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the HTTP API (and keep the read models current)."""
    import uvicorn

    from ledger.service.http import create_app

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = run(lambda: _settings(**overrides))
    configure_logging(settings)
    out.print(f"Customer ledger listening on http://{settings.host}:{settings.port} "
              f"(store: {redacted(settings.database_url)}; API docs at /docs)", highlight=False)
    uvicorn.run(create_app(settings=settings), host=settings.host, port=settings.port,
                log_level="warning")


@app.command()
def init() -> None:
    """Create the event store and read-model tables if they do not exist yet."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            return {"database": redacted(ledger.settings.database_url),
                    "head_position": ledger.store.head_position(),
                    "projections": ledger.runner.positions()}

    result = run(action)
    _show(result, lambda r: out.print(
        f"Ledger ready: {r['database']} (head position {r['head_position']})", highlight=False))


# Customers --------------------------------------------------------------------

@customer_app.command("register")
def customer_register(
    profile_file: Annotated[Path, typer.Argument(help="JSON profile file, or - for stdin.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the event).")] = None,
    command_id: Annotated[str | None, typer.Option(help="Id for a safe retry.")] = None,
) -> None:
    """Register a customer from a JSON profile."""
    def action() -> dict[str, Any]:
        profile = _read_json(profile_file)
        with client() as ledger:
            return ledger.register_customer(profile, reason=reason, command_id=command_id)

    _show_outcome(run(action))


def _render_customer(result: dict[str, Any]) -> None:
    customer = result["customer"]
    table = Table(title=f"Customer {customer['customer_id']}", show_header=False)
    table.add_row("version", str(customer["version"]))
    table.add_row("source channel", str(customer["source_channel"]))
    for group, values in customer["profile"].items():
        if isinstance(values, dict):
            for field, value in values.items():
                if value not in (None, [], {}):
                    table.add_row(f"{group}.{field}", _cell(value))
        elif values not in (None, [], {}):
            table.add_row(group, _cell(values))
    table.add_row("last review", _cell(customer["last_review"]))
    out.print(table)
    out.print(f"reflects event position {result['reflects_position']}", style="dim")


def _cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


@customer_app.command("show")
def customer_show(
    customer_id: str,
    min_position: Annotated[int | None, typer.Option(help="Wait until this position.")] = None,
) -> None:
    """Show the current view of one customer."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.get_customer(customer_id, min_position=min_position)

    _show(run(action), _render_customer)


@customer_app.command("find")
def customer_find(
    name_prefix: str,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
) -> None:
    """Find customers whose name starts with a prefix (case-insensitive)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.find_customers(name_prefix, limit=limit)

    def render(result: dict[str, Any]) -> None:
        table = Table("customer id", "name", "channel", "version", "updated at")
        for c in result["customers"]:
            table.add_row(c["customer_id"], c["name"], c["source_channel"], str(c["version"]),
                          c["updated_at"])
        out.print(table)
        out.print(f"{len(result['customers'])} found; reflects event position "
                  f"{result['reflects_position']}", style="dim")

    _show(run(action), render)


# Changes ----------------------------------------------------------------------

def _parse_sets(assignments: list[str], json_assignments: list[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    problems = []
    for item in assignments:
        path, sep, value = item.partition("=")
        if not sep:
            problems.append(Problem("--set", "must look like path=value"))
            continue
        changes[path.strip()] = value
    for item in json_assignments:
        path, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            changes[path.strip()] = json.loads(value)
        except ValueError:
            problems.append(Problem("--set-json", "must look like path=<JSON value>"))
    if problems:
        raise ValidationFailedError(problems)
    return changes


@change_app.command("propose")
def change_propose(
    customer_id: str,
    happened_on: Annotated[str, typer.Option(help="When the change happened (YYYY-MM-DD).")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="path=text, e.g. basic.phone=+8613800138000 (repeatable).")] = None,
    set_json: Annotated[list[str] | None, typer.Option(
        "--set-json", help='path=JSON, e.g. contacts=\'[{"name": "Li Lei"}]\'.')] = None,
    changes_file: Annotated[Path | None, typer.Option(
        "--file", help="JSON object of path: value (or - for stdin).")] = None,
    expected_version: Annotated[int | None, typer.Option(help="Refuse if changed since.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the event).")] = None,
) -> None:
    """Propose new values for fields of a customer, for a specialist to verify."""
    def action() -> dict[str, Any]:
        changes = _read_json(changes_file) if changes_file else {}
        if not isinstance(changes, dict):
            raise ValidationFailedError([Problem("file", "must hold a JSON object")])
        changes |= _parse_sets(set_ or [], set_json or [])
        try:
            day = date.fromisoformat(happened_on)
        except ValueError:
            raise ValidationFailedError([Problem("happened_on", "must be YYYY-MM-DD")]) from None
        with client() as ledger:
            return ledger.propose_change(customer_id, changes, day,
                                         expected_version=expected_version, reason=reason)

    _show_outcome(run(action))


@change_app.command("verify")
def change_verify(
    customer_id: str,
    proposal_id: str,
    expected_version: Annotated[int | None, typer.Option(help="Refuse if changed since.")] = None,
) -> None:
    """Accept a pending proposal (not your own); its changes apply together."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.verify_change(customer_id, proposal_id,
                                        expected_version=expected_version)

    _show_outcome(run(action))


@change_app.command("reject")
def change_reject(
    customer_id: str,
    proposal_id: str,
    reason: Annotated[str, typer.Option(help="Why the proposal is rejected.")],
) -> None:
    """Reject a pending proposal with a reason."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.reject_change(customer_id, proposal_id, reason)

    _show_outcome(run(action))


@change_app.command("pending")
def change_pending(
    customer_id: Annotated[str | None, typer.Option("--customer", help="Only this one.")] = None,
) -> None:
    """List change proposals waiting for verification."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.pending_proposals(customer_id)

    def render(result: dict[str, Any]) -> None:
        table = Table("proposal id", "customer id", "fields", "happened on", "proposed by")
        for p in result["proposals"]:
            table.add_row(p["proposal_id"], p["customer_id"], ", ".join(p["fields"]),
                          p["happened_on"], p["proposed_by"])
        out.print(table)
        out.print(f"reflects event position {result['reflects_position']}", style="dim")

    _show(run(action), render)


@review_app.command("record")
def review_record(
    customer_id: str,
    outcome: Annotated[str, typer.Option(help="confirmed or needs_update.")] = "confirmed",
    reviewed_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None,
) -> None:
    """Record the quarterly review of a customer."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.record_review(customer_id, outcome=outcome, reviewed_on=reviewed_on)

    _show_outcome(run(action))


# History, projections, policy -------------------------------------------------

@app.command()
def history(customer_id: str) -> None:
    """Every event of a customer in order, with actor, time, command and reason."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.customer_history(customer_id)

    def render(result: dict[str, Any]) -> None:
        table = Table("v", "event", "recorded at", "actor", "reason", "facts",
                      title=f"History of customer {result['customer_id']}")
        for e in result["events"]:
            table.add_row(str(e["version"]), e["event"], e["recorded_at"], e["actor"] or "",
                          e["reason"] or "", _cell(e["facts"]))
        out.print(table)

    _show(run(action), render)


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="Projections (default: all).")] = None,
) -> None:
    """Empty read models and rebuild them from the whole event log."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            unknown = [n for n in names or [] if n not in ledger.runner.projections]
            if unknown:
                raise ValidationFailedError([Problem("names", "unknown projection: " + n)
                                             for n in unknown])
            head = ledger.store.head_position()
            with Progress(TextColumn("rebuilding"), BarColumn(), TextColumn("{task.completed}/"
                          "{task.total} events"), console=err, disable=options.json) as bar:
                task = bar.add_task("rebuild", total=head)
                read = ledger.runner.rebuild(
                    names, progress=lambda _, done, __: bar.update(task, completed=done))
            return {"rebuilt": names or sorted(ledger.runner.projections),
                    "events_read": read, "positions": ledger.runner.positions()}

    _show(run(action), lambda r: out.print(
        f"Rebuilt {', '.join(r['rebuilt'])}: positions {r['positions']}", highlight=False))


@projections_app.command("status")
def projections_status() -> None:
    """How far each read model has got, against the head of the event log."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            return {"head_position": ledger.store.head_position(),
                    "projections": ledger.runner.positions()}

    def render(r: dict[str, Any]) -> None:
        table = Table("projection", "position", "behind")
        for name, position in sorted(r["projections"].items()):
            table.add_row(name, str(position), str(r["head_position"] - position))
        out.print(table)

    _show(run(action), render)


@policy_app.command("show")
def policy_show() -> None:
    """Print the policy values in force (defaults overlaid by LEDGER_POLICY_FILE)."""
    def action() -> dict[str, Any]:
        settings = _settings()
        policy = load_policy(settings.policy_file)
        return {"policy_file": str(settings.policy_file) if settings.policy_file else None,
                "values": policy.model_dump(mode="json")}

    def render(r: dict[str, Any]) -> None:
        table = Table("setting", "value", title=f"Policy ({r['policy_file'] or 'defaults'})")
        for key, value in r["values"].items():
            table.add_row(key, _cell(value))
        out.print(table)

    _show(run(action), render)


def main() -> None:
    app()
