"""The ``ledger`` command line: the service, local administration, and the same operations as
the client. Human output by default (Rich tables); ``--json`` for machines."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.i18n import language_of_tag
from service.cli.accounts import access_app, account_app
from service.cli.audit import audit_app
from service.cli.backup import backup_app
from service.cli.changes import change_app, review_app
from service.cli.common import choose_language, fail, options
from service.cli.customers import customer_app, history
from service.cli.exports import export_app
from service.cli.legal_holds import hold_app
from service.cli.monitoring import alerts_app, fault_app, incident_app, metrics
from service.cli.operations import init, policy_app, projections_app, serve
from service.cli.privacy import deletion_app, duplicates, find_by, keys_app
from service.cli.replay import audit_history
from service.cli.reports import report
from service.cli.training import training_app
from service.cli.verification import keys_verify
from service.cli.workers import worker

app = typer.Typer(help="The customer ledger: event-sourced customer records under a data policy.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


SPOKEN = N_("the ledger speaks en and zh-CN (zh, zh-Hans alike)")


def _language_tag(value: str | None) -> str | None:
    if value is not None and language_of_tag(value) is None:
        raise typer.BadParameter(SPOKEN)
    return value


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
    lang: Annotated[str | None, typer.Option(
        "--lang", callback=_language_tag, help="Language of messages, headings and errors: "
        "en or zh-CN (default: $LEDGER_LANG, else $LC_ALL / $LANG, else the policy's "
        "locale). --help stays English.")] = None,
) -> None:
    """Global options go before the sub-command: ``ledger --json customer find acme``."""
    choose_language(lang)
    chosen_by_variable = os.environ.get("LEDGER_LANG")
    if lang is None and chosen_by_variable and language_of_tag(chosen_by_variable) is None:
        # Not quietly English: the variable was set to say something else.
        fail(ValidationFailedError([Problem("LEDGER_LANG", SPOKEN)], message(
            "{setting} is not valid: {reason}", setting="LEDGER_LANG",
            reason=as_message(SPOKEN))))
    options.json = json_output
    options.actor = actor or os.environ.get("LEDGER_ACTOR") or getpass.getuser()
    options.actor_source = ("--actor" if actor else "LEDGER_ACTOR"
                            if os.environ.get("LEDGER_ACTOR") else N_("your login name"))
    options.url = url
    options.database_url = database_url


app.command()(serve)
app.command()(worker)
app.command()(init)
app.command()(history)
app.add_typer(customer_app, name="customer")
app.add_typer(change_app, name="change")
app.add_typer(review_app, name="review")
app.add_typer(projections_app, name="projections")
app.add_typer(policy_app, name="policy")
app.add_typer(account_app, name="account")
app.add_typer(access_app, name="access")
app.add_typer(deletion_app, name="deletion")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(training_app, name="training")
app.add_typer(export_app, name="export")
app.command()(report)
customer_app.command("find-by")(find_by)
customer_app.command("duplicates")(duplicates)
app.command()(metrics)
app.add_typer(alerts_app, name="alerts")
app.add_typer(fault_app, name="fault")
app.add_typer(incident_app, name="incident")
app.add_typer(backup_app, name="backup")
app.add_typer(hold_app, name="hold")


def main() -> None:
    app()


# Importing the replay and verification modules registers their commands on their apps.
__all__ = ["app", "audit_history", "keys_verify", "main"]
