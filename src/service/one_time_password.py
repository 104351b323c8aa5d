"""The first administrator's one-time password file (``ledger init``, LG-1): written under
the data directory for the owner only, and deleted as soon as it opens nothing any more.

The password is useful only until the administrator replaces it, so the file goes once its
account no longer has a one-time password to change (or no longer exists). Every process
checks when it starts, and a running one after each command it saves while the file is
there, so the file goes with the very change that makes it useless, whichever entry point
(HTTP or the command line) made it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from ledger.domain.account import Account
from ledger.integrity.report import IntegrityViolationError
from ledger.private_files import create_private_file

log = structlog.get_logger("ledger.first_admin")

ONE_TIME_PASSWORD_FILE = "initial-admin-password.txt"  # noqa: S105 - a file name


class OneTimePasswordFile:
    """The file under ``data_dir`` holding a username and its one-time password."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ONE_TIME_PASSWORD_FILE
        self._lock = threading.Lock()
        # Checked once here; afterwards only this process writes or deletes it.
        self._present = self.path.exists()

    def write(self, username: str, password: str) -> Path:
        with self._lock:
            self.path.unlink(missing_ok=True)
            with os.fdopen(create_private_file(self.path), "w", encoding="utf-8") as secret:
                secret.write(f"{username}\n{password}\n")
            self._present = True
        return self.path

    def discard_if_used(self, current: Callable[[str], Account | None]) -> bool:
        """Delete the file once its account has changed the one-time password (``current``
        gives an account as it is now); True if it was deleted."""
        if not self._present:
            return False
        with self._lock:
            try:
                username = self.path.read_text(encoding="utf-8").split("\n", 1)[0]
            except FileNotFoundError:
                self._present = False
                return False
            try:
                account = current(username)
            except IntegrityViolationError as error:
                # An account whose events no longer decode must not stop every start (the
                # verify commands name the damage); the file stays until it can be judged.
                log.warning("one_time_password_file_kept", code=error.code,
                            details=error.details)
                return False
            if account is not None and account.must_change_password:
                return False
            self.path.unlink(missing_ok=True)
            self._present = False
        log.info("one_time_password_file_deleted", path=str(self.path),
                 reason="the one-time password was changed")
        return True
