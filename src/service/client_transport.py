"""The client library's two transports: in this process through the bus, or over HTTP
with a bearer token; ``LedgerClient`` (``service.client``) speaks through either.

Errors arrive as the typed errors of ``service.errors`` on both.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from commands.actor import Actor
from commands.bus import MessageBus
from commands.exports import ExportFiles
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from projections.export_identify import IdentifyExport
from projections.queries import Query
from service.errors import ServiceUnavailableError, error_from_dict
from service.export_answer import export_answer
from service.query_routes import ROUTE_OF, build_query

# Seconds the HTTP transport keeps an idle connection (``ledger serve`` keeps it 30).
KEEP_ALIVE_SECONDS = 20.0

class Transport(Protocol):
    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]: ...

    def export(self, payload: dict[str, Any], command: str = "export") -> dict[str, Any]: ...

    def identify(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class InProcessTransport:
    """Talks to a ledger in this process, through its bus; ``actor`` may be resolved anew
    for every call, so a revoked role or a lock takes effect at once."""

    def __init__(self, bus: MessageBus, actor: Actor | Callable[[], Actor],
                 exports: ExportFiles | None = None) -> None:
        self.bus = bus
        self._actor = actor
        self.exports = exports or ExportFiles()

    @property
    def actor(self) -> Actor:
        return self._actor if isinstance(self._actor, Actor) else self._actor()

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.bus.execute_named(name, payload, self.actor)

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        given = {key: value for key, value in params.items() if value is not None}
        result: dict[str, Any] = self.bus.ask(build_query(query, given), self.actor)
        return result

    def export(self, payload: dict[str, Any], command: str = "export") -> dict[str, Any]:
        outcome = self.bus.execute_named(command, payload, self.actor)
        return export_answer(outcome, self.exports.take(outcome["command_id"]))

    def identify(self, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.bus.ask(build_query(IdentifyExport, payload), self.actor)
        return result

    def close(self) -> None:
        return None


# Fixed words for what went wrong: the exceptions' own text may quote the request.
_TRANSPORT_FAILURES: dict[type[httpx.TransportError], str] = {
    httpx.ConnectError: N_("the connection was refused or the address cannot be reached"),
    httpx.ConnectTimeout: N_("the connection timed out"),
    httpx.ReadTimeout: N_("no answer within the timeout"),
    httpx.WriteTimeout: N_("the request could not be sent within the timeout"),
    httpx.PoolTimeout: N_("no connection was free within the timeout"),
    httpx.RemoteProtocolError: N_("the answer was not HTTP"),
    httpx.UnsupportedProtocol: N_("the URL must start with http:// or https://"),
}


def _tls_failure(error: BaseException) -> str | None:
    """Why the TLS handshake under a transport error failed for good, or None: a
    certificate nobody vouched for, or no TLS at the other end (an ``https://`` URL for a
    plain HTTP service). Trying again changes neither, so neither is retried."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return N_("its TLS certificate is not trusted: give the file of the certificate "
                      "authority that signed it (LEDGER_CA_BUNDLE, or verify= of "
                      "LedgerClient.over_http)")
        if type(cause) is ssl.SSLError:  # its subclasses include a connection cut short
            return N_("the TLS handshake failed: does it serve HTTPS at this address?")
        cause = cause.__cause__ or cause.__context__
    return None


def _no_answer(address: str, error: httpx.TransportError) -> ServiceUnavailableError:
    tls = _tls_failure(error)
    reason = tls or _TRANSPORT_FAILURES.get(type(error), N_("no HTTP answer"))
    return ServiceUnavailableError(message(
        "the ledger service at {address} did not answer: {reason}", address=address,
        reason=message(reason)), details={"retryable": False} if tls else None)


def _unexpected(status: int) -> LedgerError:
    return LedgerError(message("unexpected HTTP {status} from the ledger service",
                               status=status))


def _without_credentials(url: str) -> str:
    """A URL fit to print: any user name and password in it left out."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class HttpTransport:
    """Talks to a ledger service over HTTP; logs in and sends its bearer token."""

    def __init__(self, base_url: str, *, username: str, password: str, totp: str | None = None,
                 timeout: float = 30.0, verify: str | bool = True,
                 client: httpx.Client | None = None, language: str | None = None) -> None:
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
            if language:  # the service answers errors and notices in it, else in its policy's
                self.http.headers["Accept-Language"] = language
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
            raise _no_answer(self.address, error) from None
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
        raise _unexpected(response.status_code)

    def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", f"/commands/{name}", json=payload, headers=self.headers)

    def query(self, query: type[Query], params: dict[str, Any]) -> dict[str, Any]:
        path, query_params = ROUTE_OF[query].url(params)
        return self._send("GET", path, params=query_params, headers=self.headers)

    def metrics_text(self) -> str:
        """``GET /metrics`` with this session's token: the Prometheus text."""
        try:
            response = self.http.get("/metrics", headers=self.headers)
        except httpx.TransportError as error:
            raise _no_answer(self.address, error) from None
        if response.is_success:
            return response.text
        self._unwrap(response)
        raise _unexpected(response.status_code)

    def export(self, payload: dict[str, Any], command: str = "export") -> dict[str, Any]:
        path = "/exports" if command == "export" else "/exports/reports"
        return self._send("POST", path, json=payload, headers=self.headers)

    def identify(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/exports/identify", json=payload, headers=self.headers)

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
