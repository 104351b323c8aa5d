"""LedgerClient: the same plain-typed methods in-process and over HTTP.

    client = LedgerClient.in_process(ledger, actor="li.na")  # trusted: the account's roles
    client = LedgerClient.over_http("https://ledger.example:8443", username="li.na",
                                    password="...")  # logs in, carries the bearer token

Errors arrive as the typed errors of ``service.errors`` on both transports.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import date
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import httpx

from commands.bus import Actor, MessageBus
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from projections.queries import Query
from service.client_accounts import AccountMethods
from service.client_queries import QueryMethods
from service.errors import ServiceUnavailableError, error_from_dict
from service.query_routes import ROUTE_OF, build_query

# Seconds the HTTP transport keeps an idle connection (``ledger serve`` keeps it 30).
KEEP_ALIVE_SECONDS = 20.0

class Transport(Protocol):
    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class InProcessTransport:
    """Talks to a ledger in this process, through its bus; ``actor`` may be resolved anew
    for every call, so a revoked role or a lock takes effect at once."""

    def __init__(self, bus: MessageBus, actor: Actor | Callable[[], Actor]) -> None:
        self.bus = bus
        self._actor = actor

    @property
    def actor(self) -> Actor:
        return self._actor if isinstance(self._actor, Actor) else self._actor()

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.bus.execute_named(name, payload, self.actor)

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        given = {key: value for key, value in params.items() if value is not None}
        result: dict[str, Any] = self.bus.ask(build_query(query, given), self.actor)
        return result

    def close(self) -> None:
        return None


# Fixed words for what went wrong: the exceptions' own text may quote the request.
_TRANSPORT_FAILURES: dict[type[httpx.TransportError], str] = {
    httpx.ConnectError: "the connection was refused or the address cannot be reached",
    httpx.ConnectTimeout: "the connection timed out",
    httpx.ReadTimeout: "no answer within the timeout",
    httpx.WriteTimeout: "the request could not be sent within the timeout",
    httpx.PoolTimeout: "no connection was free within the timeout",
    httpx.RemoteProtocolError: "the answer was not HTTP",
    httpx.UnsupportedProtocol: "the URL must start with http:// or https://",
}


def _without_credentials(url: str) -> str:
    """A URL fit to print: any user name and password in it left out."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class HttpTransport:
    """Talks to a ledger service over HTTP; logs in and sends its bearer token."""

    def __init__(self, base_url: str, *, username: str, password: str, totp: str | None = None,
                 timeout: float = 30.0, verify: str | bool = True,
                 client: httpx.Client | None = None) -> None:
        # A CA bundle path (a private certificate) becomes an SSL context, as httpx wants.
        trust = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        try:
            self.address = _without_credentials(base_url)
            # One keep-alive connection for every call; dropped when idle a little shorter
            # than ``ledger serve`` keeps it, so a request never races the server's close.
            self.http = client or httpx.Client(
                base_url=base_url.rstrip("/"), timeout=timeout, verify=trust,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20,
                                    keepalive_expiry=KEEP_ALIVE_SECONDS))  # httpx's defaults
            self.headers: dict[str, str] = {}
        except (httpx.InvalidURL, ValueError):
            raise ValidationFailedError([Problem("url", "is not a valid URL")],
                                        "the ledger service's URL is not valid") from None
        try:
            self.session = self._send("POST", "/auth/login", json={
                "username": username, "password": password, "totp": totp})
        except BaseException:
            self.http.close()
            raise
        self.headers = {"Authorization": f"Bearer {self.session['token']}"}

    def auth(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST to one of the ``/auth`` routes with this session's token."""
        return self._send("POST", f"/auth/{path}", json=body or {}, headers=self.headers)

    def _send(self, method: str, path: str, **arguments: Any) -> dict[str, Any]:
        """One request, its answer unwrapped; a service that does not answer is a ledger
        error naming its address (never its credentials), not the transport's exception."""
        try:
            response = self.http.request(method, path, **arguments)
        except httpx.TransportError as error:
            raise ServiceUnavailableError(
                f"the ledger service at {self.address} did not answer: "
                f"{_TRANSPORT_FAILURES.get(type(error), 'no HTTP answer')}") from None
        return self._unwrap(response)

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
        return self._send("POST", f"/commands/{name}", json=payload, headers=self.headers)

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        path, query_params = ROUTE_OF[query].url(params)
        return self._send("GET", path, params=query_params, headers=self.headers)

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/healthz")

    def close(self) -> None:
        try:
            if self.headers:
                self.auth("logout")
        except (LedgerError, httpx.HTTPError):
            pass  # the session expires on its own
        finally:
            self.headers = {}
            self.http.close()


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | date):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    return value


class LedgerClient(QueryMethods, AccountMethods):
    """The ledger for Python callers: commands and queries with plain types in and out."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def in_process(cls, ledger: Any, actor: str, *, roles: list[str] | None = None,
                   department: str | None = None, client_address: str | None = None
                   ) -> LedgerClient:
        """A trusted client for a ledger built by ``bootstrap()`` in this process, acting as
        the account ``actor`` with its current roles; or, given ``roles``, as exactly those
        (for embedding and tests: whoever holds the process holds the database anyway)."""
        if roles is not None:
            fixed = Actor(actor, frozenset(roles), client_address, department)
            return cls(InProcessTransport(ledger.bus, fixed))
        identity = ledger.access.identity
        return cls(InProcessTransport(
            ledger.bus, lambda: identity.actor_for(actor, client_address)))

    @classmethod
    def over_http(cls, base_url: str, *, username: str, password: str,
                  totp: str | None = None, timeout: float = 30.0, verify: str | bool = True
                  ) -> LedgerClient:
        """A client for a ledger service at ``base_url``, logged in as ``username``.

        ``verify`` is passed to httpx: a CA bundle path for a private certificate.
        ``client.session`` holds the login answer (its notices, whether the one-time
        password must be changed first); ``close()`` logs out.
        """
        return cls(HttpTransport(base_url, username=username, password=password, totp=totp,
                                 timeout=timeout, verify=verify))

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

    def _auth(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(self.transport, HttpTransport):
            raise ValidationFailedError([Problem("transport", "needs a login over HTTP")])
        return self.transport.auth(path, body)

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("command_id", None)
        if fields["command_id"] is None:
            fields["command_id"] = str(uuid4())
        payload = {key: _plain(value) for key, value in fields.items() if value is not None}
        return self.transport.command(name, payload)

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        """Ask ``query`` with these fields: in process through the bus, over HTTP at the
        route ``QUERY_ROUTES`` gives it (the same table the HTTP app's routes come from)."""
        return self.transport.query(query, {k: _plain(v) for k, v in params.items()})

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

    # Lifetime ----------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
