"""Several ledger processes on one PostgreSQL: what they may share, and the check that
refuses the combinations that would not be safe."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import as_message, message
from ledger.job_locks import HOLDERS_SQL, LOCK_PARAMS, holders_from
from ledger.settings import Settings
from ledger.sql import SqlDatabase
from service.metrics import PROJECTION_PREFIX

# The background jobs besides one per projection ("projection:<name>"): each is driven by
# one process at a time, chosen by its lock (ledger.job_locks).
SEALER_JOB = "sealer"
FOLLOWER_JOBS = ("erasures", "training")
PROJECTION_JOB = PROJECTION_PREFIX


def check_several_processes(settings: Settings, processes: int, what: str = "workers") -> None:
    """More than one process only where every database is PostgreSQL: SQLite is the
    single-process embedded store (one file, one writer, caches nobody else sees)."""
    if processes <= 1:
        return
    on_sqlite = _on_sqlite(settings)
    if on_sqlite:
        refusal = message("{processes} server processes need PostgreSQL, but SQLite, the "
                          "single-process embedded store, is configured in {settings}: serve "
                          "with one process, or use a postgresql:// database",
                          processes=processes, settings=tuple(on_sqlite))
        raise ValidationFailedError([Problem(what, refusal)], refusal)


def _on_sqlite(settings: Settings) -> list[str]:
    return [name for name, url in (("LEDGER_DATABASE_URL", settings.database_url),
                                   ("LEDGER_KEYSTORE_URL", settings.effective_keystore_url))
            if urlsplit(url).scheme == "sqlite"]


def check_background_elsewhere(settings: Settings, what: str, field: str, instead: str
                               ) -> None:
    """``ledger worker`` and ``serve --no-background`` only on PostgreSQL: on SQLite the
    one ``ledger serve`` process runs its background work itself, and a second process
    beside it would be a second writer on the embedded store."""
    on_sqlite = _on_sqlite(settings)
    if on_sqlite:
        refusal = message("{what} needs PostgreSQL, but SQLite, the single-process embedded "
                          "store, on which `ledger serve` keeps the read models and seals the "
                          "log itself, is configured in {settings}: {instead}, or use a "
                          "postgresql:// database", what=what, settings=tuple(on_sqlite),
                          instead=as_message(instead))
        raise ValidationFailedError([Problem(field, refusal)], refusal)


def projection_job(name: str) -> str:
    return PROJECTION_JOB + name


def background_jobs(projections: list[str]) -> list[str]:
    """Every job, in a stable order: the projections, the sealer, the followers."""
    return [projection_job(name) for name in sorted(projections)] + [SEALER_JOB,
                                                                    *FOLLOWER_JOBS]


def drivers(views: SqlDatabase, jobs: list[str], in_process: bool) -> dict[str, str]:
    """Which process drives each job: the lock table's holder on PostgreSQL; a process
    that runs its background work itself (``ledger serve`` by default) drives whatever no
    worker holds, and on SQLite everything."""
    held: dict[str, str] = {}
    if views.dialect == "postgres":
        with views.snapshot() as cursor:
            held = {job: holder.process for job, holder in
                    holders_from(cursor.all(HOLDERS_SQL, LOCK_PARAMS), jobs).items()}
    if in_process:
        held = {job: held.get(job, this_process()) for job in jobs}
    return {job: held[job] for job in jobs if job in held}


def this_process() -> str:
    """This process as ``/healthz`` and the lock holders name it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"
