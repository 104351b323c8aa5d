"""Background jobs (each projection, the sealer, the followers) taken by PostgreSQL
advisory locks, so that any number of ``ledger worker`` processes on any machines drive
each job from exactly one of them at a time.

Each worker holds its locks on one dedicated connection, at session level: the lock lives
as long as that session. A worker that dies (kill -9, a lost machine) drops its connection,
PostgreSQL ends the session and frees its locks, and another worker's next claim round
takes them over. The lock only keeps the work from being done twice; correctness still
rests on each job's checkpoint compare-and-set (a batch moves a checkpoint only from the
position it was read at), so a worker that has lost its lock without knowing it yet cannot
skip or double-apply an event.

Every lock is the two-key form ``(LOCK_CLASS, job_key(name))``, which ``pg_locks`` shows as
``classid``/``objid`` with ``objsubid = 2``; the connection's ``application_name`` names the
process, so the lock table (who drives what) is one query any process can make. Each worker
also holds one shared presence lock ``(LOCK_CLASS, 0)`` (the live workers are its holders)
and a shared lock ``(ELIGIBLE_CLASS, job_key(name))`` per job it may drive; the claim rounds
(``ledger.job_claims``) read fair shares and takers from them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import make_conninfo

from ledger.connect import postgres_conninfo
from ledger.sql import sql_placeholders

# "LEDG": the first key of every ledger job lock, so they never meet another application's;
# "LEDH": the first key of the shared locks that say which jobs a worker may drive.
LOCK_CLASS = 0x4C454447
ELIGIBLE_CLASS = 0x4C454448
PRESENCE_KEY = 0
APPLICATION_PREFIX = "ledger worker "
# PostgreSQL keeps 63 bytes of an application_name.
APPLICATION_NAME_BYTES = 63
# The server drops a silent peer's session (and so its locks) after about idle + interval *
# count seconds, and the worker notices a silent server as soon: a machine that vanishes
# without closing its connection hands its jobs on within half a minute.
KEEPALIVE = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
             "keepalives_count": "3"}
SERVER_KEEPALIVE = ("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 25000")


# The second key of the lock a process holds while it creates or checks the tables.
SETUP_KEY = 1


def job_key(name: str) -> int:
    """The stable second lock key of a job: the same in every process and every release,
    never the presence or the set-up key."""
    key = zlib.crc32(f"ledger-job:{name}".encode()) & 0x7FFFFFFF
    return key if key > SETUP_KEY else key + 2


@contextmanager
def one_setup_at_a_time(database_url: str, connect_timeout: int) -> Iterator[None]:
    """Hold the set-up lock while the block runs, on PostgreSQL: processes started together
    (``serve --workers N``, workers beside servers) create and check their tables one after
    the other, since creating the same ones at once can fail with "tuple concurrently
    updated". A database that does not answer is left to the block to report."""
    if urlsplit(database_url).scheme == "sqlite":
        yield
        return
    try:
        connection = psycopg.connect(postgres_conninfo(
            database_url, connect_timeout=str(connect_timeout)), autocommit=True)
    except psycopg.Error:
        yield
        return
    with connection:
        connection.execute(b"SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, SETUP_KEY))
        yield


@dataclass(frozen=True)
class Holder:
    """Who holds one job's lock: the process (as it named itself) and its session."""

    job: str
    process: str
    backend_pid: int


HOLDERS_SQL = (
    "SELECT l.objid::bigint, a.application_name, l.pid FROM pg_locks l "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :lock_class "
    "AND l.objsubid = 2 AND l.objid::bigint <> :presence "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
WORKERS_SQL = (
    "SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.classid::bigint = :lock_class AND l.objsubid = 2 "
    "AND l.objid::bigint = :presence "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
CANDIDATES_SQL = (
    "SELECT l.objid::bigint, l.pid FROM pg_locks l WHERE l.locktype = 'advisory' "
    "AND l.granted AND l.classid::bigint = :eligible_class AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
LOCK_PARAMS = {"lock_class": LOCK_CLASS, "presence": PRESENCE_KEY,
               "eligible_class": ELIGIBLE_CLASS}


def process_of(application_name: str | None) -> str:
    name = application_name or ""
    return name[len(APPLICATION_PREFIX):] if name.startswith(APPLICATION_PREFIX) else name


def holders_from(rows: Iterable[Sequence[Any]], jobs: Iterable[str]) -> dict[str, Holder]:
    """The lock table's rows (``HOLDERS_SQL``) as each known job's holder."""
    by_key = {job_key(job): job for job in jobs}
    found: dict[str, Holder] = {}
    for key, application_name, pid in rows:
        job = by_key.get(int(key))
        if job is not None:
            found[job] = Holder(job, process_of(application_name), int(pid))
    return found


class JobLocks:
    """One process's job locks, on a connection of their own (never a pool's: a pooled
    connection would carry the locks to whoever borrows it next)."""

    def __init__(self, conninfo: str, process: str, *, connect_timeout: int = 5) -> None:
        self.conninfo = conninfo
        self.process = process
        self.connect_timeout = connect_timeout
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def is_open(self) -> bool:
        return self._connection is not None and not self._connection.closed

    @property
    def backend_pid(self) -> int:
        return self._open().info.backend_pid

    def open(self, eligible: Iterable[str] = ()) -> None:
        """Connect and announce this worker (its presence lock) and the jobs it may drive
        (a shared lock each)."""
        self.discard()
        name = (APPLICATION_PREFIX + self.process).encode()[:APPLICATION_NAME_BYTES]
        connection = psycopg.connect(make_conninfo(
            self.conninfo, connect_timeout=str(self.connect_timeout),
            application_name=name.decode(errors="ignore"), **KEEPALIVE), autocommit=True)
        try:
            for statement in SERVER_KEEPALIVE.split("; "):
                # A server without one of them (tcp_user_timeout came in PostgreSQL 12)
                # still serves the locks; autocommit keeps the session usable.
                with suppress(psycopg.errors.UndefinedObject):
                    connection.execute(statement.encode())
            connection.execute(b"SELECT pg_advisory_lock_shared(%s, %s)",
                               (LOCK_CLASS, PRESENCE_KEY))
            for job in eligible:
                connection.execute(b"SELECT pg_advisory_lock_shared(%s, %s)",
                                   (ELIGIBLE_CLASS, job_key(job)))
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _open(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self.open()
        assert self._connection is not None  # open() sets it or raises
        return self._connection

    def try_take(self, job: str) -> bool:
        """Take ``job``'s lock if no session holds it. Call it only for a job this process
        does not hold: session locks stack, and one taken twice needs two releases."""
        row = self._open().execute(b"SELECT pg_try_advisory_lock(%s, %s)",
                                   (LOCK_CLASS, job_key(job))).fetchone()
        return bool(row and row[0])

    def release(self, job: str) -> None:
        self._open().execute(b"SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, job_key(job)))

    def holders(self, jobs: Iterable[str]) -> dict[str, Holder]:
        return holders_from(self._open().execute(sql_placeholders(HOLDERS_SQL).encode(),
                                                 LOCK_PARAMS).fetchall(), jobs)

    def candidates(self, jobs: Iterable[str]) -> dict[str, set[int]]:
        """Each job and the sessions of the workers that may drive it."""
        by_key = {job_key(job): job for job in jobs}
        found: dict[str, set[int]] = {}
        for key, pid in self._open().execute(sql_placeholders(CANDIDATES_SQL).encode(),
                                             LOCK_PARAMS).fetchall():
            job = by_key.get(int(key))
            if job is not None:
                found.setdefault(job, set()).add(int(pid))
        return found

    def live_workers(self) -> int:
        row = self._open().execute(sql_placeholders(WORKERS_SQL).encode(),
                                   LOCK_PARAMS).fetchone()
        return int(row[0]) if row else 0

    def discard(self) -> None:
        """Forget a connection (closing it frees every lock it held)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Release every lock (closing the session does it; unlock_all says so first)."""
        if self.is_open:
            # A session already gone took its locks with it.
            with suppress(psycopg.Error):
                self._open().execute(b"SELECT pg_advisory_unlock_all()")
        self.discard()
