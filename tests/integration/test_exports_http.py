"""Exports over HTTP (EX-1..EX-4), on SQLite and PostgreSQL: ``POST /exports`` answers the
file with its outcome, ``POST /commands/approve-export`` approves a large one, and
``POST /exports/identify`` names the export of a leaked part; errors in the ledger's shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.domain.errors import WorkflowViolationError
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.client_transport import HttpTransport
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.integration.export_support import policy_with_threshold, register_customers

pytestmark = pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")


@contextmanager
def logged_in(http: TestClient, username: str) -> Iterator[LedgerClient]:
    transport = HttpTransport("http://testserver", username=username, password=PASSWORD,
                              client=http)
    yield LedgerClient(transport)


@pytest.fixture
def served(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path
           ) -> Iterator[tuple[Ledger, TestClient]]:
    ledger = make_ledger(database_url, policy_file=policy_with_threshold(tmp_path, 3))
    open_account(ledger, "wang.fang", "info_specialist")
    open_account(ledger, "sun.li", "bulk_export", "auditor", department="risk")
    register_customers(ledger, 4)
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        yield ledger, http


def test_a_large_export_is_approved_run_and_identified_over_http(
        served: tuple[Ledger, TestClient]) -> None:
    ledger, http = served
    fields = ["basic.name", "basic.phone"]
    with logged_in(http, "wang.fang") as clerk, logged_in(http, "sun.li") as approver:
        filed = clerk.export_customers(fields, purpose="mailing", format="jsonl")
        assert filed["status"] == "pending_approval" and filed["file"] is None
        approver.approve_export(filed["request_id"])
        run = clerk.export_customers(fields, purpose="mailing", format="jsonl",
                                     request_id=filed["request_id"])
        assert run["file"]["media_type"] == "application/x-ndjson"
        assert run["result"]["rows"] == 4
        with pytest.raises(WorkflowViolationError):
            clerk.export_customers(fields, purpose="mailing", request_id=filed["request_id"])
        body = b"\n".join(run["content"].splitlines()[1:])  # without its mark
        ledger.runner.catch_up()
        found = approver.identify_export(body)
    assert found["identified"] and found["export"]["export_id"] == run["export_id"]
    assert found["export"]["exporter"] == "wang.fang"


def test_a_bad_export_is_answered_in_the_ledgers_error_shape(
        served: tuple[Ledger, TestClient]) -> None:
    _, http = served
    with logged_in(http, "wang.fang") as clerk:
        token = clerk.transport.headers  # type: ignore[attr-defined]
        answer = http.post("/exports", headers=token, json={
            "fields": ["basic.name"], "purpose": "x", "format": "pdf"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_failed"
    assert "pdf" not in answer.text
