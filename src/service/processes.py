"""Several ledger processes on one PostgreSQL: what they may share, and the check that
refuses the combinations that would not be safe."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.settings import Settings


def check_several_processes(settings: Settings, processes: int, what: str = "workers") -> None:
    """More than one process only where every database is PostgreSQL: SQLite is the
    single-process embedded store (one file, one writer, caches nobody else sees)."""
    if processes <= 1:
        return
    on_sqlite = [name for name, url in (("LEDGER_DATABASE_URL", settings.database_url),
                                        ("LEDGER_KEYSTORE_URL",
                                         settings.effective_keystore_url))
                 if urlsplit(url).scheme == "sqlite"]
    if on_sqlite:
        message = (f"{processes} server processes need PostgreSQL, but "
                   f"{' and '.join(on_sqlite)} is SQLite, the single-process embedded "
                   "store: serve with one process, or use a postgresql:// database")
        raise ValidationFailedError([Problem(what, message)], message)


def this_process() -> str:
    """This process as ``/healthz`` and the lock holders name it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"
