"""What wraps every route: the guard on request bodies, the last-resort 500, and the headers
every response carries. Each error it answers has the one error shape of the API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.domain.errors import UNEXPECTED_EXIT_CODE, LedgerError, Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from ledger.i18n import ENGLISH, language_of_accept, translator
from ledger.logging import stack_of
from ledger.transient import is_transient, unavailable

log = structlog.get_logger("ledger.http")

# A customer profile nests four levels deep; parsers and validators recurse per level, so a
# body nested hundreds deep would exhaust the stack before any rule could refuse it.
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")

INTERNAL_ERROR_MESSAGE = N_("internal error; the request was not completed (the server log "
                            "has the details)")


# The largest request body read: a customer profile with every field full is a few KB, an
# export to identify (base64) the largest; anything bigger is refused before it is read on.
MAX_BODY_BYTES = 16 * 1024 * 1024
# A control character is no part of any text the ledger takes (tab, line feed and carriage
# return aside): in a path, a query or a JSON string's escapes it is refused at the door, so
# none reaches an event, an audit record or a query (PostgreSQL text holds no NUL at all).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPED_CONTROL = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")


class PayloadTooLargeError(LedgerError):
    """A request body larger than the service reads (``MAX_BODY_BYTES``)."""

    code = "payload_too_large"
    http_status = 413
    exit_code = 14


class InternalError(LedgerError):
    """Anything unexpected: answered with a generic message, never the exception's own text
    (which may quote input)."""

    code = "internal_error"
    http_status = 500
    exit_code = UNEXPECTED_EXIT_CODE

HeadersFor = Callable[[str], dict[str, str]]
# Where a request's language is kept (``request.state.language`` to a route).
LANGUAGE = "language"


def request_language(scope: Scope) -> str:
    """The language a request is answered in: the best of ``Accept-Language`` that the
    ledger speaks, else the policy's ``locale`` (English before the ledger is up)."""
    state = getattr(scope.get("app"), "state", None)
    ledger = getattr(state, "ledger", None)
    default = ledger.policy.locale if ledger is not None else ENGLISH
    header = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                   if name == b"accept-language"), None)
    return language_of_accept(header, default)


def language_of(scope: Scope) -> str:
    """The language ``ResponseGuard`` chose for this request."""
    return str(scope.get("state", {}).get(LANGUAGE, ENGLISH))


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings aside)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # too few brackets to nest too deep: the common case costs two counts
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", body)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def body_problem(body: bytes) -> str | None:
    """Why a request body cannot be read as JSON safely, or None."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return N_("the body must be JSON encoded in UTF-8")
    if json_depth(body) > MAX_JSON_DEPTH:
        return message("JSON nested deeper than {levels} levels", levels=MAX_JSON_DEPTH)
    if b"\\u00" in body and _ESCAPED_CONTROL.search(body):
        return N_("a text in the body holds a control character")
    return None


def media_type_problem(scope: Scope, body: bytes) -> str | None:
    """Why a request body is not taken as JSON for its media type, or None: a body sent
    without ``Content-Type: application/json`` (or a ``+json`` type) would reach a route as
    bytes, refused there with no word about the header (``curl -d`` sends a form's type)."""
    if not body.strip():
        return None
    declared = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                     if name == b"content-type"), "")
    media_type = declared.partition(";")[0].strip().lower()
    if media_type == "application/json" or (media_type.startswith("application/")
                                            and media_type.endswith("+json")):
        return None
    return N_("the body must be JSON sent with the header Content-Type: application/json")


def address_problem(scope: Scope) -> str | None:
    """Why the request's path or query cannot be taken (a control character), or None."""
    query = unquote(scope.get("query_string", b"").decode("latin-1"))
    if _CONTROL.search(scope["path"]) or _CONTROL.search(query):
        return N_("the address holds a control character")
    return None


class ResponseGuard:
    """Pure ASGI middleware inside Starlette's error middleware: whatever a route raises is
    answered here, so no traceback with its exception text reaches the server's log."""

    def __init__(self, app: ASGIApp, headers_for: HeadersFor) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        language = request_language(scope)
        scope.setdefault("state", {})[LANGUAGE] = language
        # Every answer says its language, an error's message and a login's notices.
        extra = self.headers_for(scope["path"]) | {"Content-Language": language}
        started = False

        async def send_guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
                # Its messages depend on the request's language: caches must tell them apart.
                headers.add_vary_header("Accept-Language")
            await send(message)

        try:
            problem = address_problem(scope)
            if problem is not None:
                await _send_error(send_guarded, ValidationFailedError(
                    [Problem("address", problem)]), language)
                return
            if scope["method"] in ("POST", "PUT", "PATCH"):
                try:
                    body = await _whole_body(receive, _declared_length(scope))
                except PayloadTooLargeError as too_large:
                    await _send_error(send_guarded, too_large, language)
                    return
                if body is None:
                    return  # the client went away
                problem = body_problem(body) or media_type_problem(scope, body)
                if problem is not None:
                    await _send_error(send_guarded, ValidationFailedError(
                        [Problem("body", problem)]), language)
                    return
                receive = _replaying(body, receive)
            await self.app(scope, receive, send_guarded)
        except Exception as error:  # the last resort: every other error was answered already
            route = scope.get("route")
            if is_transient(error):
                # Not a bug: the database went away under a step that is not retried.
                log.warning("request_unavailable", method=scope["method"],
                            route=getattr(route, "path", None), error=type(error).__name__)
                if not started:
                    await _send_error(send_guarded, unavailable(error), language)
                return
            log.error("request_failed", method=scope["method"],
                      route=getattr(route, "path", None), error=type(error).__name__,
                      frames=stack_of(error))
            if not started:
                await _send_error(send_guarded, InternalError(INTERNAL_ERROR_MESSAGE), language)


def _too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError(message("the request body is larger than {limit} bytes",
                                        limit=MAX_BODY_BYTES))


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _whole_body(receive: Receive, declared: int) -> bytes | None:
    """The body, read to its end; ``PayloadTooLargeError`` (read no further) once it is,
    or says it is, more than ``MAX_BODY_BYTES``."""
    if declared > MAX_BODY_BYTES:
        raise _too_large()
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then waits on the client."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def error_headers(error: LedgerError) -> dict[str, str]:
    """The headers an error answers with besides its body: a 401 names the scheme to use
    (RFC 9110), a 503 when to try again."""
    if error.http_status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if error.http_status == 503:
        return {"Retry-After": str(getattr(error, "retry_after", 1))}
    return {}


async def _send_error(send: Send, error: LedgerError, language: str) -> None:
    body = json.dumps({"error": error.as_dict(translator(language))}).encode()
    extra = [(name.lower().encode(), value.encode())
             for name, value in error_headers(error).items()]
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})
