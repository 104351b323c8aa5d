"""What every ``ledger`` sub-command shares: global options, errors, output, and the ledger."""

from __future__ import annotations

import getpass
import json
import os
import ssl
import string
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import ValidationError
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ledger.credentials import AuthenticationError
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.domain.messages import (
    N_,
    Message,
    Translate,
    as_message,
    fill,
    localised,
    message,
    rendered,
)
from ledger.domain.problems import problem_message
from ledger.i18n import (
    ENGLISH,
    format_day,
    format_moment,
    format_money,
    format_number,
    language_of_environment,
    translator,
)
from ledger.logging import configure_logging
from ledger.policy import Policy
from ledger.settings import Settings, sqlite_path_of, variable_of
from ledger.sql_sqlite import file_is_damaged, is_damaged
from ledger.transient import is_transient, unavailable
from service.bootstrap import Ledger, bootstrap
from service.client import LedgerClient
from service.client_retry import RetryPolicy
from service.errors import ServiceUnavailableError
from service.http_guard import MAX_JSON_DEPTH, json_depth
from service.preflight import PathUnusableError

# Piped or redirected output has no width to fit: Rich would assume 80 columns and cut a
# table's unwrappable columns (ids, times) there. Scripts and logs get every value whole.
WIDTH_WITHOUT_TERMINAL = 1_000_000


def _console(**options: Any) -> Console:
    console = Console(**options)
    if not console.is_terminal:
        console.width = WIDTH_WITHOUT_TERMINAL
    return console


# soft_wrap: a message is one line however narrow the terminal, so scripts and logs can grep it.
out = _console()
err = _console(stderr=True, soft_wrap=True)
T = TypeVar("T")


class Options:
    """Global options, kept for the sub-commands."""

    json: bool = False
    actor: str = ""
    # Where ``actor`` came from (``--actor``, ``LEDGER_ACTOR``, the login name), to name it.
    actor_source: str = "--actor"
    url: str | None = None
    database_url: str | None = None
    # ``--lang``; the language itself is ``language()``.
    lang: str | None = None


options = Options()
_chosen: dict[str, Any] = {}


def language() -> str:
    """The language the command line speaks: ``--lang``, ``LEDGER_LANG``, ``LC_ALL`` or
    ``LANG``, else the policy's ``locale`` (English when the policy cannot be read: the
    error that says why is then read in English). ``--help`` is English whatever it is."""
    if "language" not in _chosen:
        # The policy is read only when no flag or variable chose.
        _chosen["language"] = language_of_environment(options.lang, os.environ,
                                                      "") or _policy_locale()
    chosen: str = _chosen["language"]
    return chosen


def _policy_locale() -> str:
    policy = _policy()
    return ENGLISH if policy is None else policy.locale


def _zone() -> tzinfo:
    """The policy's time zone, in which the command line shows moments (UTC when the policy
    cannot be read: the command says why itself)."""
    policy = _policy()
    return UTC if policy is None else policy.zone


def _policy() -> Policy | None:
    # Read once per invocation, and only when a language or a time must come from it.
    if "policy" not in _chosen:
        from service.policy import load_service_policy

        try:
            _chosen["policy"] = load_service_policy(Settings().policy_file)
        except Exception:  # a broken setting or policy is reported by the command itself
            _chosen["policy"] = None
    policy: Policy | None = _chosen["policy"]
    return policy


def choose_language(flag: str | None) -> None:
    """Take ``--lang`` (the root callback calls this once per invocation)."""
    options.lang = flag
    _chosen.clear()


def tr(text: str) -> str:
    """A text of the command line's own (a heading, a summary) in its language."""
    return rendered(text, translate())


def emphasised(text: Message, *names: str) -> Text:
    """A message in the command line's language with the values of ``names`` in bold (a
    generated password to copy); every part literal, never markup."""
    translate_ = translate()
    parts: list[str | tuple[str, str]] = []
    for before, name, _, _ in string.Formatter().parse(translate_(text.template)):
        parts.append(before)
        if name is not None:
            value = fill("{" + name + "}", text.params, translate_)
            parts.append((value, "bold") if name in names else value)
    return Text.assemble(*parts)


def translate() -> Translate:
    return translator(language())


def number(value: int) -> str:
    """A count in a summary, grouped as the command line's language writes it."""
    return format_number(value, language())


def when(value: Any) -> Any:
    """A moment or a day from an answer (ISO 8601) as the command line's language writes
    it, a moment in the policy's time zone; any other value (``never``, ``-``, a time
    without an offset, which names no moment) as it is. ``--json`` keeps ISO 8601."""
    moment = value
    if isinstance(value, str):
        try:
            moment = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(
                value)
        except ValueError:
            return value
    if isinstance(moment, datetime):
        return value if moment.tzinfo is None else format_moment(moment, language(), _zone())
    if isinstance(moment, date):
        return format_day(moment, language())
    return value


def money(value: Any) -> str | None:
    """An amount of money (``{"amount", "currency"}``) as the language writes it, or None
    when ``value`` is not one (or its amount is masked)."""
    if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
        return None
    try:
        return format_money(Decimal(str(value["amount"])), str(value["currency"]), language())
    except (InvalidOperation, ValueError, KeyError):
        return None

LOCAL_ADMINISTRATOR = "local-admin"
# Whoever runs the command line on the server holds the database anyway: trusted as an
# administrator, and recorded as such in every event it writes.
LOCAL_ADMINISTRATOR_ROLES = ("sysadmin",)


# The options that set a setting in place of its variable, as an error about it names them.
OPTION_OF_SETTING = {"database_url": "--database-url", "host": "--host", "port": "--port",
                     "workers": "--workers", "run_background": "--no-background"}


def settings(**overrides: Any) -> Settings:
    if options.database_url is not None:  # --database-url "" is refused, not ignored
        overrides["database_url"] = options.database_url
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise settings_refused(error, overrides) from None


def settings_refused(error: ValidationError, overrides: dict[str, Any]) -> ValidationFailedError:
    """Each bad setting named as the user set it (its variable, or the option given in its
    place) with what is wrong, never its value: in one line when it is one setting."""
    problems = []
    for detail in error.errors(include_input=False, include_url=False):
        field = str(detail["loc"][0]) if detail["loc"] else ""
        name = OPTION_OF_SETTING[field] if field in overrides and field in OPTION_OF_SETTING \
            else variable_of(field) if field else "settings"
        problems.append(Problem(name, problem_message(detail)))
    if len(problems) == 1 and problems[0].field == "settings":
        # Two settings that contradict each other: the reason names both.
        return ValidationFailedError(problems, message("the settings conflict: {reason}",
                                                       reason=as_message(problems[0].message)))
    if len(problems) == 1:
        return ValidationFailedError(problems, message("{setting} is not valid: {reason}",
                                                       setting=problems[0].field,
                                                       reason=as_message(problems[0].message)))
    return ValidationFailedError(problems, message(
        "invalid settings: {settings}", settings=tuple(problem.field for problem in problems)))


def redacted(database_url: str) -> str:
    """The database URL without its password, fit to print."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def fail(error: LedgerError) -> NoReturn:
    # In the command line's language; the code and the exit code never change with it.
    answer = error.as_dict(translate())
    if options.json:
        err.print_json(json.dumps({"error": answer}, ensure_ascii=False))
    else:
        err.print(Text.assemble((tr(N_("error")), "bold red"), f" [{error.code}]: ",
                                literal(answer["message"])), highlight=False)
        if isinstance(error, ValidationFailedError):
            for problem in answer["details"]["problems"]:
                if problem["field"] in answer["message"] and problem["message"] in answer[
                        "message"]:
                    continue  # the headline said it already: one line, not two
                err.print(literal(f"  - {problem['field']}: {problem['message']}"),
                          highlight=False)
    raise typer.Exit(error.exit_code)


def run(action: Callable[[], T]) -> T:
    """Run an action, turning ledger errors into a message and a stable exit code.

    A file or directory the settings or arguments name that cannot be made or read (an
    ``OSError``), or a file that is not UTF-8 text (a ``UnicodeError``), is the user's to
    fix, not a traceback: each becomes a ledger error here, whichever step met it."""
    try:
        return action()
    except LedgerError as error:
        fail(error)
    except OSError as error:
        fail(PathUnusableError(_os_problem(error)))
    except UnicodeError:
        fail(ValidationFailedError([Problem("file", "not UTF-8 text")],
                                   "a file given is not UTF-8 text"))
    except Exception as error:
        # A lock held past the busy timeout, a database gone: the command may be run
        # again, and says so with its own exit code, not a traceback.
        if is_transient(error):
            fail(unavailable(error))
        if is_damaged(error):
            fail(damaged_database())
        raise


def damaged_database() -> PathUnusableError:
    """A SQLite file SQLite cannot read (cut short, overwritten, another kind of file),
    named by its setting where one of the settings' files fails SQLite's quick check."""
    try:
        chosen: Settings | None = settings()
    except LedgerError:
        chosen = None
    if chosen is not None:
        for setting, url in (("LEDGER_DATABASE_URL", chosen.database_url),
                             ("LEDGER_KEYSTORE_URL", chosen.effective_keystore_url)):
            if url.startswith("sqlite") and file_is_damaged(sqlite_path_of(url)):
                return PathUnusableError(message(
                    "{setting} cannot be used: {path} {reason}", setting=setting,
                    path=str(sqlite_path_of(url)),
                    reason=as_message(N_("is not a SQLite database (damaged, or another "
                                         "kind of file)"))))
    return PathUnusableError(message("a SQLite database the command opened is damaged, or "
                                     "is another kind of file"))


def _os_problem(error: OSError) -> str:
    """What the operating system said, and about which path: never the exception's text,
    which could hold more than a path."""
    reason = error.strerror or type(error).__name__
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    return f"cannot use {' -> '.join(paths)}: {reason}" if paths else f"cannot go on: {reason}"


def refuse_url() -> None:
    """The commands that read or change the database directly (verifiers, keys, backups,
    audit) would, given ``--url``, check a database that is not the service's: they refuse
    it before anything is opened or made."""
    if options.url:
        raise ValidationFailedError(
            [Problem("url", "not supported by this command")],
            "this command reads the database directly; drop --url and run it where the "
            "database is (--database-url)")


@contextmanager
def local_ledger() -> Iterator[Ledger]:
    """The local database, for the commands that read or change it directly."""
    refuse_url()
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


def service_url(url: str) -> str:
    """``--url`` as given, once it is an http(s) address with a host: a typo is refused at
    once, not retried for half a minute as a service that does not answer."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailedError(
            [Problem("url", "must be an http:// or https:// address with a host, e.g. "
                            "http://127.0.0.1:8000")],
            "--url: the URL is not valid (an http:// or https:// address with a host)")
    return url


def ca_bundle() -> str | None:
    """``$LEDGER_CA_BUNDLE``, once it names a readable file of PEM certificates: a wrong
    path or file is one error naming the variable, before any password is sent."""
    bundle = os.environ.get("LEDGER_CA_BUNDLE")
    if not bundle:
        return None
    if not os.path.isfile(bundle) or not os.access(bundle, os.R_OK):
        raise PathUnusableError(message("{option} {path}: no readable file there",
                                        option="LEDGER_CA_BUNDLE", path=bundle))
    try:
        ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, ValueError):
        raise ValidationFailedError(
            [Problem("LEDGER_CA_BUNDLE", "must be a file of PEM certificates")],
            "LEDGER_CA_BUNDLE holds no PEM certificate: name the file of the certificate "
            "authority that signed the service's") from None
    return bundle


@contextmanager
def _remote() -> Iterator[LedgerClient]:
    """A client logged in to the service at ``--url`` as ``--actor`` ($LEDGER_PASSWORD,
    else a prompt; $LEDGER_TOTP for the second factor)."""
    url = service_url(options.url or "")
    password = os.environ.get("LEDGER_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            # typer's prompt would warn that it cannot hide the input, then abort.
            raise ValidationFailedError(
                [Problem("LEDGER_PASSWORD", "is not set, and there is no terminal to ask on")],
                "no password for --url: set LEDGER_PASSWORD, or run the command in a terminal")
        password = typer.prompt(f"Password for {options.actor}", hide_input=True, err=True)
    with LedgerClient.over_http(url, username=options.actor, password=password,
                                totp=os.environ.get("LEDGER_TOTP"),
                                verify=ca_bundle() or True,
                                retry=RetryPolicy.from_settings(settings()),
                                language=language()) as remote:
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
        if ledger.access.identity.accounts.current(options.actor) is None:
            # Whoever runs this holds the database (and may list the accounts): saying the
            # name is no account tells them nothing they could not read, where "not
            # allowed for this account" sent them looking for a missing role.
            raise AuthenticationError(message(
                "the actor ({source}) is no account of this ledger: name an existing one "
                "with --actor or LEDGER_ACTOR (`ledger account list` shows them)",
                source=as_message(options.actor_source)))
        # No service may be running: bring the read models up to date before reading.
        ledger.runner.catch_up()
        yield LedgerClient.in_process(ledger, options.actor, client_address="cli",
                                      retry=RetryPolicy.from_settings(ledger.settings))


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


def check_nesting(text: str, field: str) -> None:
    """JSON nested as deep as the service would refuse (HTTP: 422) is refused here too,
    before the parser and the validators recurse through it to the end of the stack."""
    if json_depth(text.encode()) > MAX_JSON_DEPTH:
        raise ValidationFailedError([Problem(field, message(
            "JSON nested deeper than {levels} levels", levels=MAX_JSON_DEPTH))])


def read_json(source: Path) -> Any:
    try:
        # utf-8-sig: a file saved with a byte-order mark (Windows Notepad) reads as typed.
        text = sys.stdin.read() if str(source) == "-" else source.read_text(
            encoding="utf-8-sig")
        check_nesting(text, "file")
        return json.loads(text)
    except FileNotFoundError:
        # A file the arguments name that cannot be read: path_unusable (exit 73), as for
        # every other such file (an export to identify, a directory given for a file).
        raise PathUnusableError(message("no such file: {path}", path=str(source))) from None
    except (IsADirectoryError, PermissionError):
        raise PathUnusableError(message("cannot read {path}: it is a directory or not "
                                        "readable", path=str(source))) from None
    except UnicodeDecodeError:
        raise ValidationFailedError([Problem("file", "not UTF-8 text")],
                                    message("the input file is not UTF-8 text: {path}",
                                            path=str(source))) from None
    except json.JSONDecodeError as error:
        raise ValidationFailedError([Problem("file", message("not valid JSON (line {line})",
                                                             line=error.lineno))],
                                    N_("the input is not valid JSON")) from None


def show(data: Any, render: Callable[[Any], None]) -> None:
    # The answer's own texts (a certificate's statement, a notice) in the CLI's language,
    # as the service renders them for a reader over HTTP.
    data = localised(data, translate())
    if options.json:
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    try:
        render(data)
    except (KeyError, TypeError, AttributeError) as error:
        if not options.url:
            raise
        # Another kind of server at --url: its answer is not a ledger's, and says so in a
        # line rather than a traceback.
        fail(ServiceUnavailableError(message(
            "the service at --url answered with something that is not a ledger's answer "
            "({kind})", kind=type(error).__name__)))


def cell(value: Any) -> str:
    """A value as one cell of a table or of CSV: JSON for a list or an object."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def literal(value: Any) -> Text:
    """A value from the data (or a generated secret) as printed: exactly its characters.

    A plain string given to Rich is markup: ``[erased]`` or ``ACME [international]`` would
    vanish as an unknown tag, and a password holding ``[/]`` would raise. Text is never
    parsed; Text the caller styled on purpose passes as it is.
    """
    if isinstance(value, Text):
        return value
    return Text(value if isinstance(value, str) else cell(value))


class DataTable(Table):
    """A table of values from the data: every cell is printed literally, never as markup;
    the cells of its time columns (``times``, by index) as the language writes a time."""

    times: frozenset[int] = frozenset()

    def add_row(self, *renderables: RenderableType | None, style: Any = None,
                end_section: bool = False) -> None:
        super().add_row(*(None if r is None else literal(when(r) if i in self.times else r)
                          for i, r in enumerate(renderables)),
                        style=style, end_section=end_section)


def _is_time(column: str) -> bool:
    """A column of moments or days: "updated at", "granted on", "due by", "until"."""
    return column.endswith((" at", " on")) or column in ("due by", "until")


def table(*columns: str, title: str | None = None, show_header: bool = True) -> DataTable:
    """A table of data whose ids and times are never cut, so they can be copied into the
    next command; its title (which often names an id the user typed) is literal too.

    The headings are English templates of the catalogue, shown in the command line's
    language (``--json`` keys never are); moments and days in the time columns are written
    for the language too (``when``)."""
    result = DataTable(title=None if title is None else literal(title),
                       show_header=show_header)
    result.times = frozenset(i for i, column in enumerate(columns) if _is_time(column))
    for column in columns:
        whole = column.endswith((" id", " at", " on"))
        heading = tr(column)
        result.add_column(heading, no_wrap=whole, min_width=cell_len(heading),
                          overflow="fold")
    return result


def more_note(answer: dict[str, Any]) -> str:
    """What a count says when its list was cut at the limit: that there are more."""
    return tr(N_(" (the first ones only: more exist; raise --limit)")) if answer.get(
        "more") else ""


def note(text: str) -> None:
    """A remark under the output; it often quotes values (a path, a count), so it is literal."""
    out.print(Text(text, style="dim"), highlight=False, soft_wrap=True)


def show_outcome(outcome: dict[str, Any]) -> None:
    def render(o: dict[str, Any]) -> None:
        accepted = tr(message("{command} accepted", command=o["command"]))
        replayed = tr(N_(" (already processed: first outcome returned)")) if o.get(
            "replayed") else ""
        out.print(Text(accepted + replayed, style="green"), highlight=False, soft_wrap=True)
        rows = DataTable(show_header=False, box=None)
        rows.add_column(no_wrap=True)
        rows.add_column(overflow="fold")
        for key in ("aggregate_id", "version", "position", "command_id"):
            rows.add_row(key, str(o.get(key)))
        for key, value in (o.get("result") or {}).items():
            rows.add_row(key, cell(value))
        out.print(rows)

    show(outcome, render)
