"""The API under a property-based fuzzer (issue 10, item 6): schemathesis generates valid
and invalid requests for every operation of the app's own OpenAPI, sent in process to the
ASGI app on a real database, as an account holding every role. Whatever it sends, the
answer is never a 5xx, every answer is one the document declares for that operation (status,
media type, headers, schema: issue 18, item 7), an error has the one documented shape, and a
refused call writes nothing to the event log but its audit record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.domain.access import AccessRecord
from service.bootstrap import Ledger
from service.http import create_app
from tests.conftest import FixedClock
from tests.http_support import EveryRoleSession

pytestmark = pytest.mark.e2e

# Bounded in count, not time: about 50 operations, each this many valid and invalid cases.
EXAMPLES_PER_OPERATION = 20
AUDIT_TOPIC = f"{AccessRecord.__module__}:{AccessRecord.__qualname__}."
CONTRACT_CHECKS = [status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]


def from_the_office(app: ASGIApp) -> ASGIApp:
    """The app as reached from an allowed network: schemathesis's in-process client calls
    itself "testclient", which the allowed-networks check would refuse."""
    async def located(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await app(scope, receive, send)

    return located


def written_since(ledger: Ledger, position: int) -> list[str]:
    return [notification.topic for notification in ledger.store.read_log(after=position)]


def check_case(ledger: Ledger, session: EveryRoleSession, case: Any) -> None:
    before = ledger.store.head_position()

    response = case.call(headers=session.headers)

    where = f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    # The answer is one the document declares: its status, media type, headers and shape.
    case.validate_response(response, checks=CONTRACT_CHECKS, headers=session.headers)
    if response.status_code >= 400:
        error = response.json()
        assert list(error) == ["error"], where
        assert set(error["error"]) == {"code", "message", "details"}, where
        # The one documented 5xx: a read asked to wait for a position not reached (a
        # fuzzed min_position), which the client may retry; never a server error.
        assert response.status_code < 500 or (
            response.status_code == 503 and error["error"]["code"] == "not_reflected_yet"
        ), where
        written = written_since(ledger, before)
        assert all(topic.startswith(AUDIT_TOPIC) for topic in written), f"{where}: {written}"
    if case.path == "/auth/logout" and response.status_code == 200:
        session.renew()  # the fuzzer logged the session out: the next cases need one


@pytest.fixture
def fuzzed_ledger(make_ledger: Callable[..., Ledger], database_url: str) -> Ledger:
    # A read asking for a position never reached answers 503 at once instead of waiting.
    return make_ledger(database_url, read_wait_timeout=0)


def test_no_request_to_any_operation_is_a_5xx_and_a_refused_one_writes_only_its_audit(
        fuzzed_ledger: Ledger, clock: FixedClock) -> None:
    ledger = fuzzed_ledger
    app = create_app(ledger)
    with TestClient(app, client=("127.0.0.1", 50000)) as http:
        session = EveryRoleSession(http, ledger, clock)
        schema = schemathesis.openapi.from_asgi("/openapi.json", from_the_office(app))
        operations = [result.ok() for result in schema.get_all_operations()]
        sent: Counter[str] = Counter()
        assert len(operations) == len([m for p in app.openapi()["paths"].values() for m in p])

        for operation in operations:
            cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE))

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=cases)
            def fuzz(case: Any) -> None:
                check_case(ledger, session, case)
                sent[case.operation.label] += 1

            fuzz()

    assert len(sent) == len(operations)  # every operation was called
    assert sum(sent.values()) >= EXAMPLES_PER_OPERATION * len(operations) // 2
