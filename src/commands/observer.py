"""What the bus and the identity service tell whoever watches them (metrics, FT-1): each
command's and query's outcome and duration, each login and lockout. Only operation names
and outcome codes pass through this port, never an actor, a target or a value, so nothing
personal can reach a metric. ``bootstrap()`` plugs the Prometheus observer in."""

from __future__ import annotations

from typing import Protocol


class OperationsObserver(Protocol):
    """Told of every operation as it ends; it must be cheap and must not raise."""

    def command_done(self, command: str, outcome: str, seconds: float) -> None: ...

    def query_done(self, query: str, outcome: str) -> None: ...

    def login_done(self, outcome: str) -> None: ...

    def account_locked_out(self) -> None: ...


class NoObserver:
    """The observer when nothing watches: every call does nothing."""

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        return None

    def query_done(self, query: str, outcome: str) -> None:
        return None

    def login_done(self, outcome: str) -> None:
        return None

    def account_locked_out(self) -> None:
        return None
