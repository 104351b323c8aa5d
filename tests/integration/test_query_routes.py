"""Each query is defined once (issue 11, item 4): the HTTP routes and the client's methods
come from the one table ``QUERY_ROUTES``, so every query has a route and a method, and a
query asked over HTTP answers exactly what it answers in process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import typer.main
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ledger import totp
from ledger.domain.errors import LedgerError
from projections.account_queries import AccessReview, GetAccount, ListAccounts
from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery, CustomerAsOf
from projections.faults import ListFaults, ListIncidents
from projections.history import CustomerHistory
from projections.privacy import (
    ErasureCertificate,
    FindCustomersBy,
    LegalHoldReview,
    ListDeletions,
    ListDuplicates,
)
from projections.queries import (
    FindCustomers,
    GetCustomer,
    ListLateKeyChanges,
    ListPendingProposals,
    ListReviewsDue,
    Query,
)
from projections.reports import (
    CustomersReport,
    DeletionsReport,
    KeyChangeLatenessReport,
    PendingProposalsReport,
    ReviewCoverageReport,
)
from projections.training_queries import OverdueAssessments, TrainingPassRates
from service.bootstrap import Ledger
from service.cli import app as cli
from service.client import HttpTransport, LedgerClient
from service.http import create_app
from service.query_routes import QUERY_ROUTES, ROUTE_OF
from tests.accounts import PASSWORD
from tests.conftest import FixedClock
from tests.http_support import EveryRoleSession
from tests.privacy_support import change, distinctive_profile, erase, register

pytestmark = pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")


def examples(customer_id: str, erased_id: str, request_id: str, clock: FixedClock
             ) -> dict[type[Query], dict[str, Any]]:
    """Arguments of each query's client method, as a caller writes them."""
    now = clock.now.isoformat()
    day_before = (clock.now - timedelta(days=1)).isoformat()
    return {
        GetCustomer: {"customer_id": customer_id},
        FindCustomers: {"name_prefix": "翡翠", "limit": 5},
        ListPendingProposals: {"customer_id": customer_id},
        ListReviewsDue: {"quarter": "2026-Q4"},
        ListLateKeyChanges: {"limit": 10},
        CustomerHistory: {"customer_id": erased_id},
        ListAccounts: {"role": "auditor"},
        GetAccount: {"username": "all.roles"},
        AccessReview: {"as_of": "2026-12-01"},
        FindCustomersBy: {"phone": "+86 138-0013-8000"},
        ListDuplicates: {"limit": 10},
        ListDeletions: {"stage": "all"},
        ErasureCertificate: {"request_id": request_id},
        CustomerAsOf: {"customer_id": customer_id, "at": now},
        AuditTrailQuery: {"customer": customer_id, "since": day_before, "until": now},
        AuditAnomalies: {"since": day_before, "until": now},
        ListFaults: {"status": "all"},
        ListIncidents: {"limit": 10},
        LegalHoldReview: {"status": "all", "customer_id": customer_id},
        OverdueAssessments: {"as_of": "2027-03-01"},
        TrainingPassRates: {"since": "2026-01-01"},
        CustomersReport: {}, ReviewCoverageReport: {"quarter": "2026-Q4"},
        KeyChangeLatenessReport: {}, DeletionsReport: {}, PendingProposalsReport: {},
    }


class Recording:
    """A transport that only notes which query it was asked to send."""

    def __init__(self) -> None:
        self.asked: list[type[Query]] = []

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a query method sent a command")

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(query)
        return {}

    def close(self) -> None:
        return None


def test_every_registered_query_has_a_client_method_that_sends_that_query(
        clock: FixedClock) -> None:
    arguments = examples("c", "e", "r", clock)
    assert set(arguments) == set(ROUTE_OF)  # a new query needs an example here
    for route in QUERY_ROUTES:
        transport = Recording()

        getattr(LedgerClient(transport), route.client_method)(**arguments[route.query])

        assert transport.asked == [route.query], route.client_method


def test_every_registered_query_has_one_get_route_with_its_fields_as_parameters() -> None:
    operations = {operation["operationId"]: (path, method, operation)
                  for path, methods in create_app().openapi()["paths"].items()
                  for method, operation in methods.items()}
    for route in QUERY_ROUTES:
        path, method, operation = operations[route.query.name]
        names = [(p["name"], p["in"]) for p in operation["parameters"]]

        assert (path, method) == (route.path, "get")
        assert sorted(names) == sorted(
            (name, "path" if name in route.path_parameters else "query")
            for name in route.query.model_fields)


@pytest.fixture
def both_clients(ledger: Ledger, clock: FixedClock) -> Iterator[tuple[LedgerClient, LedgerClient]]:
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        session = EveryRoleSession(http, ledger, clock)
        clock.now += timedelta(seconds=totp.STEP_SECONDS)
        code = totp.code_at(session.secret, clock.now.timestamp())
        over_http = LedgerClient(HttpTransport("http://testserver", username=session.username,
                                               password=PASSWORD, totp=code, client=http))
        yield over_http, LedgerClient.in_process(ledger, actor=session.username)


def answer_or_error(client: LedgerClient, method: str, arguments: dict[str, Any]) -> Any:
    try:
        answer = getattr(client, method)(**arguments)
    except LedgerError as error:
        return type(error).__name__, error.as_dict()
    return answer


def unstamped(answer: Any) -> Any:
    """A certificate is stamped when it is issued: the rest must be the same."""
    return {k: v for k, v in answer.items() if k != "issued_at"} if isinstance(
        answer, dict) else answer


def test_each_query_answers_the_same_over_http_and_in_process(
        ledger: Ledger, clock: FixedClock, both_clients: tuple[LedgerClient, LedgerClient]
        ) -> None:
    over_http, in_process = both_clients
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    change(ledger, customer_id, {"basic.fax": "+86 10 6552 0000"}, verify=False)
    erased_id = register(ledger, distinctive_profile("en_US"))
    request_id = str(erase(ledger, erased_id)["aggregate_id"])
    clock.now += timedelta(minutes=5)
    ledger.runner.catch_up()  # and not again: each read's audit record stays out of the views
    arguments = examples(customer_id, erased_id, request_id, clock)

    for route in QUERY_ROUTES:
        through_http = answer_or_error(over_http, route.client_method, arguments[route.query])
        here = answer_or_error(in_process, route.client_method, arguments[route.query])

        assert unstamped(through_http) == unstamped(here), route.query.name
        assert not isinstance(here, tuple), (route.query.name, here)  # each one answered
        assert undocumented_keys(route.query.answer.model_validate(here)) == [], route.query


def undocumented_keys(answer: Any) -> list[str]:
    """Keys of an answer its model does not declare, at any depth."""
    if isinstance(answer, list):
        return [key for item in answer for key in undocumented_keys(item)]
    if isinstance(answer, dict):
        return [key for item in answer.values() for key in undocumented_keys(item)]
    if not isinstance(answer, BaseModel):
        return []
    return [*(answer.model_extra or {}),
            *(key for name in type(answer).model_fields
              for key in undocumented_keys(getattr(answer, name)))]


@pytest.mark.parametrize(("words", "query"), [
    (("audit", "trail"), AuditTrailQuery), (("audit", "anomalies"), AuditAnomalies),
    (("review", "due"), ListReviewsDue), (("change", "late"), ListLateKeyChanges),
    (("customer", "find"), FindCustomers), (("customer", "show"), GetCustomer)])
def test_a_query_commands_options_are_its_fields_with_their_defaults_and_help(
        words: tuple[str, ...], query: type[Query]) -> None:
    command: Any = typer.main.get_command(cli)
    for word in words:
        command = command.commands[word]
    options = {p.name: p for p in command.params if p.name in query.model_fields}

    assert options, words
    for name, option in options.items():
        field = query.model_fields[name]
        assert option.required == field.is_required(), (words, name)
        assert option.required or option.default == field.default, (words, name)
        assert option.help == field.description, (words, name)
