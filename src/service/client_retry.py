"""The client's retries: what a caller would do by hand after a database restart or a
service that did not answer, done for it, within a deadline.

Only faults that say nothing about the request are retried: an ``unavailable`` answer
(and any other 503 but ``not_reflected_yet``) and a service that did not answer at all.
A command is sent again with the same command id, so it is stored once whichever attempt
got through; a query only reads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ledger.domain.errors import LedgerError
from ledger.settings import Settings

T = TypeVar("T")
_DEFAULTS = Settings.model_fields


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff under a total deadline (seconds); ``deadline=0`` never
    retries. The defaults are the ``client_retry_*`` settings' defaults."""

    first_delay: float = _DEFAULTS["client_retry_first_delay"].default
    longest_delay: float = _DEFAULTS["client_retry_longest_delay"].default
    deadline: float = _DEFAULTS["client_retry_deadline"].default
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.client_retry_first_delay, settings.client_retry_longest_delay,
                   settings.client_retry_deadline)

    def run(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, again after each retryable error until the deadline; then that
        error once more, saying how many attempts were made and for how long."""
        started = self.clock()
        delay = self.first_delay
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except LedgerError as error:
                if not retryable(error):
                    raise
                waited = self.clock() - started
                if waited + delay > self.deadline:
                    raise gave_up(error, attempts, waited) from None
            # Full jitter: clients cut off together do not come back together.
            self.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - not for security
            delay = min(delay * 2, self.longest_delay)


NO_RETRY = RetryPolicy(deadline=0)


# 503s that are answers, not faults: the service already waited for its read models
# (``read_wait_timeout``) before saying ``not_reflected_yet``, and every try of an audited
# read records an access; the caller decides whether to wait longer.
NOT_RETRIED = frozenset({"not_reflected_yet"})


def retryable(error: LedgerError) -> bool:
    """An error that passes with time: the database or the service did not answer (not
    one that says it will not pass, such as a certificate that is not trusted)."""
    return (error.http_status == 503 and error.code not in NOT_RETRIED
            and error.details.get("retryable") is not False)


def gave_up(error: LedgerError, attempts: int, waited: float) -> LedgerError:
    """The last error again (the same class, so its code and exit code), saying so."""
    if attempts == 1:
        return error
    return type(error).rebuilt(
        f"{error.message} (gave up after {attempts} attempts in {waited:.1f} s)",
        error.details | {"attempts": attempts})
