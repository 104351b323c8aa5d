"""LedgerClient: the same plain-typed methods in-process and over HTTP.

    client = LedgerClient.in_process(ledger, actor="alice")
    client = LedgerClient.over_http("http://127.0.0.1:8000", actor="alice")

Errors arrive as the typed errors of ``commands.errors`` on both transports.
"""

from __future__ import annotations

from datetime import date
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx
from pydantic import ValidationError

from commands.bus import Actor, MessageBus, problems_of
from commands.errors import LedgerError, ValidationFailedError, error_from_dict
from projections.history import CustomerHistory
from projections.queries import QUERIES

QUERY_CLASSES = QUERIES | {CustomerHistory.name: CustomerHistory}


class Transport(Protocol):
    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def query(self, name: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class InProcessTransport:
    """Talks to a ledger in this process, through its bus."""

    def __init__(self, bus: MessageBus, actor: Actor) -> None:
        self.bus = bus
        self.actor = actor

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.bus.execute_named(name, payload, self.actor)

    def query(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            query = QUERY_CLASSES[name].model_validate(params)
        except ValidationError as error:
            raise ValidationFailedError(problems_of(error)) from None
        result: dict[str, Any] = self.bus.ask(query, self.actor)
        return result

    def close(self) -> None:
        return None


def _query_route(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    params = {key: value for key, value in params.items() if value is not None}
    if name == "get-customer":
        return f"/customers/{quote(str(params.pop('customer_id')))}", params
    if name == "customer-history":
        return f"/customers/{quote(str(params.pop('customer_id')))}/history", params
    if name == "find-customers":
        return "/customers", params
    if name == "list-pending-proposals":
        return "/proposals", params
    if name == "list-reviews-due":
        return "/reviews/due", params
    if name == "list-late-key-changes":
        return "/key-changes/late", params
    raise ValueError(f"unknown query: {name}")


class HttpTransport:
    """Talks to a ledger service over HTTP; the actor travels in a header."""

    def __init__(self, base_url: str, actor: str, *, timeout: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        self.http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.headers = {"X-Ledger-Actor": actor}

    def _unwrap(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise error_from_dict(body["error"])
        raise LedgerError(f"unexpected HTTP {response.status_code} from the ledger service")

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._unwrap(self.http.post(f"/commands/{name}", json=payload,
                                           headers=self.headers))

    def query(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        path, query_params = _query_route(name, params)
        return self._unwrap(self.http.get(path, params=query_params, headers=self.headers))

    def health(self) -> dict[str, Any]:
        return self._unwrap(self.http.get("/healthz"))

    def close(self) -> None:
        self.http.close()


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | date):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    return value


class LedgerClient:
    """The ledger for Python callers: commands and queries with plain types in and out."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def in_process(cls, ledger: Any, actor: str, *, client_address: str | None = None
                   ) -> LedgerClient:
        """A client for a ledger built by ``bootstrap()`` in this process."""
        return cls(InProcessTransport(ledger.bus, Actor(actor, client_address=client_address)))

    @classmethod
    def over_http(cls, base_url: str, actor: str, *, timeout: float = 30.0) -> LedgerClient:
        """A client for a ledger service at ``base_url``."""
        return cls(HttpTransport(base_url, actor, timeout=timeout))

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("command_id", None)
        if fields["command_id"] is None:
            fields["command_id"] = str(uuid4())
        payload = {key: _plain(value) for key, value in fields.items() if value is not None}
        return self.transport.command(name, payload)

    def _query(self, name: str, **params: Any) -> dict[str, Any]:
        return self.transport.query(name, {k: _plain(v) for k, v in params.items()})

    # Commands ----------------------------------------------------------------

    def register_customer(self, profile: dict[str, Any], *, customer_id: str | None = None,
                          command_id: str | None = None, reason: str | None = None
                          ) -> dict[str, Any]:
        """Register a customer; returns the outcome with ``aggregate_id`` and ``position``."""
        return self._command("register-customer", profile=profile, customer_id=customer_id,
                             command_id=command_id, reason=reason)

    def propose_change(self, customer_id: str, changes: dict[str, Any], happened_on: date | str,
                       *, expected_version: int | None = None, command_id: str | None = None,
                       reason: str | None = None) -> dict[str, Any]:
        """Propose new field values; the outcome's ``result`` holds the ``proposal_id``."""
        return self._command("propose-change", customer_id=customer_id, changes=changes,
                             happened_on=happened_on, expected_version=expected_version,
                             command_id=command_id, reason=reason)

    def verify_change(self, customer_id: str, proposal_id: str, *,
                      expected_version: int | None = None, command_id: str | None = None,
                      reason: str | None = None) -> dict[str, Any]:
        """Accept a pending proposal made by someone else; its changes apply together."""
        return self._command("verify-change", customer_id=customer_id, proposal_id=proposal_id,
                             expected_version=expected_version, command_id=command_id,
                             reason=reason)

    def reject_change(self, customer_id: str, proposal_id: str, reason: str, *,
                      expected_version: int | None = None, command_id: str | None = None
                      ) -> dict[str, Any]:
        """Reject a pending proposal with a reason."""
        return self._command("reject-change", customer_id=customer_id, proposal_id=proposal_id,
                             reason=reason, expected_version=expected_version,
                             command_id=command_id)

    def record_review(self, customer_id: str, *, outcome: str = "confirmed",
                      reviewed_on: date | str | None = None, expected_version: int | None = None,
                      command_id: str | None = None, reason: str | None = None
                      ) -> dict[str, Any]:
        """Record this quarter's review of a customer."""
        return self._command("record-review", customer_id=customer_id, outcome=outcome,
                             reviewed_on=reviewed_on, expected_version=expected_version,
                             command_id=command_id, reason=reason)

    # Queries -----------------------------------------------------------------

    def get_customer(self, customer_id: str, *, min_position: int | None = None
                     ) -> dict[str, Any]:
        """The current view of a customer, waiting until ``min_position`` is reflected."""
        return self._query("get-customer", customer_id=customer_id, min_position=min_position)

    def find_customers(self, name_prefix: str, *, limit: int = 50,
                       min_position: int | None = None) -> dict[str, Any]:
        """Customers whose name starts with ``name_prefix`` (case-insensitive)."""
        return self._query("find-customers", name_prefix=name_prefix, limit=limit,
                           min_position=min_position)

    def pending_proposals(self, customer_id: str | None = None, *, limit: int = 100,
                          min_position: int | None = None) -> dict[str, Any]:
        """Change proposals waiting for verification."""
        return self._query("list-pending-proposals", customer_id=customer_id, limit=limit,
                           min_position=min_position)

    def reviews_due(self, quarter: str | None = None, *, limit: int = 100,
                    min_position: int | None = None) -> dict[str, Any]:
        """Customers not yet reviewed in ``quarter`` (``2026-Q4``; default the current one)."""
        return self._query("list-reviews-due", quarter=quarter, limit=limit,
                           min_position=min_position)

    def late_key_changes(self, *, limit: int = 100, min_position: int | None = None
                         ) -> dict[str, Any]:
        """Key-field changes recorded after their working-day deadline (UP-2)."""
        return self._query("list-late-key-changes", limit=limit, min_position=min_position)

    def customer_history(self, customer_id: str) -> dict[str, Any]:
        """Every event of a customer, in order, with actor, time, command and reason."""
        return self._query("customer-history", customer_id=customer_id)

    # Lifetime ----------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
