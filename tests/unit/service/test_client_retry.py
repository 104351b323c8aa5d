"""The client tries again after a 503 or a silent service, with growing pauses, until its
deadline; then it says it gave up. Other errors are answered at once."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.errors import ConflictError
from ledger.transient import UnavailableError
from projections.queries import Query
from projections.runner import NotReflectedYetError
from service.client import LedgerClient
from service.client_retry import RetryPolicy
from service.errors import ServiceUnavailableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class ScriptedTransport:
    """Answers each command with the next item of its script: an error to raise, or the
    outcome; it remembers every payload it was sent."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(payload)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return dict(step)

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        return self.command(query.__name__, params)

    def close(self) -> None:
        return None


def _client(transport: ScriptedTransport, clock: FakeClock, deadline: float = 10.0
            ) -> LedgerClient:
    policy = RetryPolicy(first_delay=0.1, longest_delay=0.4, deadline=deadline,
                         sleep=clock.sleep, clock=lambda: clock.now)
    return LedgerClient(transport, policy)


def test_a_command_is_sent_again_with_the_same_command_id_until_it_is_answered() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(UnavailableError("database away"),
                                  ServiceUnavailableError("no answer"), {"status": "accepted"})

    outcome = _client(transport, clock).record_review("c-1")

    assert outcome == {"status": "accepted"}
    assert len({payload["command_id"] for payload in transport.sent}) == 1
    assert len(transport.sent) == 3


def test_pauses_double_up_to_the_longest() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(*[UnavailableError("away")] * 5, {"status": "accepted"})

    _client(transport, clock).record_review("c-1")

    upper_bounds = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert all(bound / 2 <= pause <= bound
               for pause, bound in zip(clock.pauses, upper_bounds, strict=True))


def test_after_the_deadline_the_client_gives_up_saying_so() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(*[UnavailableError("the database is unavailable")] * 50)

    with pytest.raises(UnavailableError) as raised:
        _client(transport, clock, deadline=1.0).record_review("c-1")

    assert "gave up after" in raised.value.message
    assert raised.value.details["attempts"] == len(transport.sent) > 1
    assert clock.now <= 1.0


def test_an_error_of_the_request_is_not_retried() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(ConflictError("changed meanwhile"), {"status": "accepted"})

    with pytest.raises(ConflictError):
        _client(transport, clock).record_review("c-1")
    assert len(transport.sent) == 1


def test_a_read_not_reflected_in_time_is_answered_not_retried() -> None:
    # The service already waited for its read models; each try would record an access.
    clock = FakeClock()
    transport = ScriptedTransport(NotReflectedYetError("position 9 is not reflected yet"),
                                  {"customers": []})

    with pytest.raises(NotReflectedYetError):
        _client(transport, clock).find_customers(name_prefix="Li")
    assert len(transport.sent) == 1


def test_queries_are_retried_too() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(UnavailableError("away"), {"customers": []})

    assert _client(transport, clock).find_customers(name_prefix="Li") == {"customers": []}
    assert len(transport.sent) == 2


def test_a_deadline_of_zero_never_retries() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(UnavailableError("away"), {"status": "accepted"})

    with pytest.raises(UnavailableError) as raised:
        _client(transport, clock, deadline=0).record_review("c-1")
    assert "gave up" not in raised.value.message
