"""A check that answers within a bound: ``/healthz`` must say ``degraded`` at once while the
database is away, not wait for a connection pool's own timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")

# Seconds /healthz waits for the database before it answers ``degraded``.
HEALTH_TIMEOUT_SECONDS = 1.0


class BoundedProbe(Generic[T]):
    """Runs ``check`` in a thread of its own and waits at most ``timeout`` for it. A check
    still running when the next request comes is waited on again, never started twice, so
    requests during an outage do not pile up threads."""

    def __init__(self, check: Callable[[], T]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._pending: Future[T] | None = None

    def result(self, timeout: float = HEALTH_TIMEOUT_SECONDS) -> T:
        """The check's answer, its error, or ``TimeoutError`` after ``timeout`` seconds."""
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = Future()
                threading.Thread(target=self._run, args=(self._pending,), daemon=True,
                                 name="ledger-health-probe").start()
            pending = self._pending
        return pending.result(timeout=timeout)

    def _run(self, future: Future[T]) -> None:
        try:
            future.set_result(self._check())
        except BaseException as error:  # handed to whoever waits on the answer
            future.set_exception(error)
