"""Whether a PostgreSQL database answers, asked once and quickly before a pool is opened: a
pool would wait 30 s for its first connection and then fail with a long traceback."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from ledger.domain.errors import LedgerError
from ledger.domain.messages import message
from ledger.settings import postgres_params_of


class DatabaseUnavailableError(LedgerError):
    """A configured database does not answer: unreachable, refusing, or not created."""

    code = "database_unavailable"
    http_status = 503
    # sysexits.h's EX_UNAVAILABLE, which service supervisors already read as "try later".
    exit_code = 69


def postgres_conninfo(url: str, **extra: str) -> str:
    """The libpq connection string for a ``postgresql://`` URL, every value quoted as libpq
    needs (a password with a space or a quote stays one value), plus ``extra`` parameters."""
    params = {key: value for key, value in postgres_params_of(url).items() if value}
    return make_conninfo(**params, **extra)


def check_postgres_answers(url: str, timeout: int) -> None:
    """Connect once to a PostgreSQL database, giving up after ``timeout`` seconds with one
    line naming its host, port and database (never the password)."""
    params = postgres_params_of(url)
    try:
        psycopg.connect(postgres_conninfo(url), connect_timeout=timeout).close()
    except psycopg.Error as error:
        raise DatabaseUnavailableError(
            message("cannot connect to PostgreSQL at {host}:{port}, database {database}: "
                    "{reason}", host=params["host"], port=params["port"],
                    database=repr(params["dbname"]), reason=_reason(error, params["password"])),
            details={"host": params["host"], "port": params["port"],
                     "database": params["dbname"]}) from None


def _reason(error: psycopg.Error, password: str) -> str:
    """libpq's own words, on one line: the last ``failed:`` part, without ``FATAL:``, and
    never the password (libpq does not echo it; this makes sure)."""
    first_line = (str(error).splitlines() or [type(error).__name__])[0]
    reason = first_line.rpartition("failed: ")[2].removeprefix("FATAL:").strip()
    if password:
        reason = reason.replace(password, "***")
    return reason or type(error).__name__
