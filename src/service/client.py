"""LedgerClient: the same plain-typed methods in-process and over HTTP.

    client = LedgerClient.in_process(ledger, actor="li.na")  # trusted: the account's roles
    client = LedgerClient.over_http("https://ledger.example:8443", username="li.na",
                                    password="...")  # logs in, carries the bearer token

Errors arrive as the typed errors of ``service.errors`` on both transports
(``service.client_transport``). An ``unavailable`` answer, or a service that does not
answer, is retried with the same command id under ``retry`` (``service.client_retry``).
"""

from __future__ import annotations

from datetime import date
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

from commands.actor import Actor
from ledger.domain.errors import Problem, ValidationFailedError
from projections.queries import Query
from service.client_accounts import AccountMethods
from service.client_exports import ExportMethods
from service.client_operations import OperationsMethods
from service.client_queries import QueryMethods
from service.client_reports import ReportMethods
from service.client_retry import RetryPolicy
from service.client_training import TrainingMethods
from service.client_transport import HttpTransport, InProcessTransport, Transport


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | date):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    return value


class LedgerClient(QueryMethods, AccountMethods, OperationsMethods, TrainingMethods,
                   ExportMethods, ReportMethods):
    """The ledger for Python callers: commands and queries with plain types in and out."""

    def __init__(self, transport: Transport, retry: RetryPolicy | None = None) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()

    @classmethod
    def in_process(cls, ledger: Any, actor: str, *, roles: list[str] | None = None,
                   department: str | None = None, client_address: str | None = None,
                   retry: RetryPolicy | None = None) -> LedgerClient:
        """A trusted client for a ledger built by ``bootstrap()`` in this process, acting as
        the account ``actor`` with its current roles; or, given ``roles``, as exactly those
        (for embedding and tests: whoever holds the process holds the database anyway)."""
        if roles is not None:
            fixed = Actor(actor, frozenset(roles), client_address, department)
            return cls(InProcessTransport(ledger.bus, fixed, ledger.exports), retry)
        identity = ledger.access.identity
        return cls(InProcessTransport(
            ledger.bus, lambda: identity.actor_for(actor, client_address), ledger.exports),
            retry)

    @classmethod
    def over_http(cls, base_url: str, *, username: str, password: str,
                  totp: str | None = None, timeout: float = 30.0, verify: str | bool = True,
                  retry: RetryPolicy | None = None, language: str | None = None
                  ) -> LedgerClient:
        """A client for a ledger service at ``base_url``, logged in as ``username``.

        ``verify`` is passed to httpx: a CA bundle path for a private certificate.
        ``language`` (``en`` or ``zh-CN``) is the one the service answers messages in;
        without it, the service's policy ``locale``.
        ``client.session`` holds the login answer (its notices, whether the one-time
        password must be changed first); ``close()`` logs out. The login is retried as
        commands are.
        """
        retry = retry or RetryPolicy()
        return cls(retry.run(lambda: HttpTransport(
            base_url, username=username, password=password, totp=totp, timeout=timeout,
            verify=verify, language=language)), retry)

    @property
    def session(self) -> dict[str, Any] | None:
        """The login answer, over HTTP (without its token)."""
        session = getattr(self.transport, "session", None)
        return {k: v for k, v in session.items() if k != "token"} if session else None

    def enrol_totp(self) -> dict[str, Any]:
        """Start enrolling an authenticator app for your own account (over HTTP)."""
        return self._auth("totp/enrol")

    def confirm_totp(self, code: str) -> dict[str, Any]:
        """Finish the enrolment with a current code; later logins need a code."""
        return self._auth("totp/confirm", {"code": code})

    def metrics_text(self) -> str:
        """The service's ``GET /metrics`` answer (Prometheus text), over HTTP."""
        if not isinstance(self.transport, HttpTransport):
            raise ValidationFailedError([Problem("transport", "needs a login over HTTP")])
        return self.transport.metrics_text()

    def _auth(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(self.transport, HttpTransport):
            raise ValidationFailedError([Problem("transport", "needs a login over HTTP")])
        return self.transport.auth(path, body)

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("command_id", None)
        if fields["command_id"] is None:
            fields["command_id"] = str(uuid4())
        payload = {key: _plain(value) for key, value in fields.items() if value is not None}
        # The same payload, command id included, on every attempt: stored once at most.
        return self.retry.run(lambda: self.transport.command(name, payload))

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        """Ask ``query`` with these fields: in process through the bus, over HTTP at the
        route ``QUERY_ROUTES`` gives it (the same table the HTTP app's routes come from)."""
        plain = {k: _plain(v) for k, v in params.items()}
        return self.retry.run(lambda: self.transport.query(query, plain))

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
        """Reject a pending proposal someone else made, with a reason."""
        return self._command("reject-change", customer_id=customer_id, proposal_id=proposal_id,
                             reason=reason, expected_version=expected_version,
                             command_id=command_id)

    def withdraw_change(self, customer_id: str, proposal_id: str, *,
                        expected_version: int | None = None, command_id: str | None = None,
                        reason: str | None = None) -> dict[str, Any]:
        """Withdraw your own pending proposal; nothing of it applies."""
        return self._command("withdraw-change", customer_id=customer_id,
                             proposal_id=proposal_id, expected_version=expected_version,
                             command_id=command_id, reason=reason)

    def record_review(self, customer_id: str, *, outcome: str = "confirmed",
                      reviewed_on: date | str | None = None, expected_version: int | None = None,
                      command_id: str | None = None, reason: str | None = None
                      ) -> dict[str, Any]:
        """Record this quarter's review of a customer."""
        return self._command("record-review", customer_id=customer_id, outcome=outcome,
                             reviewed_on=reviewed_on, expected_version=expected_version,
                             command_id=command_id, reason=reason)

    def request_deletion(self, customer_id: str, ground: str, details: str, department: str,
                         *, command_id: str | None = None) -> dict[str, Any]:
        """File a deletion request; the outcome's ``result`` holds the ``request_id``."""
        return self._command("request-deletion", customer_id=customer_id, ground=ground,
                             details=details, department=department, command_id=command_id)

    def review_deletion(self, request_id: str, *, command_id: str | None = None
                        ) -> dict[str, Any]:
        """As head of the requesting department, agree the request should go ahead."""
        return self._command("review-deletion", request_id=request_id, command_id=command_id)

    def approve_deletion(self, request_id: str, *, command_id: str | None = None
                         ) -> dict[str, Any]:
        """As head of customer-information management, approve a reviewed request."""
        return self._command("approve-deletion", request_id=request_id, command_id=command_id)

    def execute_deletion(self, request_id: str, *, command_id: str | None = None
                         ) -> dict[str, Any]:
        """As system administrator, erase the customer: its data key is destroyed."""
        return self._command("execute-deletion", request_id=request_id, command_id=command_id)

    def reject_deletion(self, request_id: str, step: str, reason: str, *,
                        command_id: str | None = None) -> dict[str, Any]:
        """Stop a request at your step (review, approve or execute), with a reason."""
        return self._command("reject-deletion", request_id=request_id, step=step,
                             reason=reason, command_id=command_id)

    def place_legal_hold(self, customer_id: str, reason: str, reference: str, *,
                         until: date | str | None = None, command_id: str | None = None
                         ) -> dict[str, Any]:
        """Hold a customer against erasure until ``until`` (none: until lifted); the
        outcome's ``result`` holds the ``hold_id``."""
        return self._command("place-legal-hold", customer_id=customer_id, reason=reason,
                             reference=reference, until=until, command_id=command_id)

    def lift_legal_hold(self, customer_id: str, hold_id: str, *,
                        command_id: str | None = None) -> dict[str, Any]:
        """Lift a legal hold someone else placed."""
        return self._command("lift-legal-hold", customer_id=customer_id, hold_id=hold_id,
                             command_id=command_id)

    # Lifetime ----------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
