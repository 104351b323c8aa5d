"""A log follower's background loop: run a batch, sleep until woken or the poll interval
passes, count failures and keep going. The projection runner and the sealer share it."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

import structlog

from ledger.domain.errors import LedgerError
from ledger.transient import is_transient, unavailable

log = structlog.get_logger("ledger.follower")


def failure_of(error: Exception) -> dict[str, Any]:
    """A failure as ``/healthz`` reports it: a ledger error's code, message and details
    (never personal data, by the errors' rule); anything else by its code only, since an
    unexpected exception's text may quote stored values."""
    if isinstance(error, LedgerError):
        return {"code": error.code, "message": error.message, "details": error.details}
    return {"code": "internal_error"}


class BackgroundFollower(ABC):
    """Runs ``run_once`` in a thread until stopped; an in-process write wakes it at once."""

    thread_name = "ledger-follower"
    failure_event = "follower_batch_failed"

    def __init__(self) -> None:
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        # Why the last batch failed, while it keeps failing (None once one succeeds).
        self.failure: dict[str, Any] | None = None

    @abstractmethod
    def run_once(self) -> int:
        """Process one batch; return how much was processed (0 when idle)."""

    def wake(self, _position: int | None = None) -> None:
        self._wakeup.set()

    def start(self, poll_interval: float = 0.05) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, args=(poll_interval,),
                                        name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self, poll_interval: float) -> None:
        while not self._stopping.is_set():
            try:
                done = self.run_once()
            except Exception as caught:
                # The loop must outlive a bad batch; failures are counted and reported, and
                # the last one stands until a batch succeeds (``/healthz`` shows it). A
                # database that went away is reported as such, and the next batch resumes
                # from the checkpoint once it is back.
                error = unavailable(caught) if is_transient(caught) else caught
                self.errors += 1
                self.failure = failure_of(error)
                if isinstance(error, LedgerError):  # a finding, reported as one
                    log.error(self.failure_event, code=error.code, details=error.details)
                else:
                    log.exception(self.failure_event)
                self._stopping.wait(1.0)
            else:
                self.failure = None
                if done:
                    continue
            self._wakeup.wait(poll_interval)
            self._wakeup.clear()
