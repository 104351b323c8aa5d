"""What the ledger never sees: a request the HTTP server's parser (uvicorn's) cannot read is
answered by uvicorn itself, a plain-text 400, before the app runs. The README states this one
exception to "errors are JSON"; the same request, percent-encoded, reaches the app."""

from __future__ import annotations

import socket
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e

PREFIX = "上海明远"


def raw_request(server: RunningServer, target: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send a GET for ``target`` byte for byte, as no HTTP client library would; return the
    status line, the headers and the body."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize("query", [PREFIX.encode("utf-8"), b"a" * 100_000],
                         ids=["raw non-ASCII bytes", "a URL of 100 KB"])
def test_a_url_the_parser_cannot_read_gets_uvicorns_plain_text_400(
        server: RunningServer, query: bytes) -> None:
    status, headers, body = raw_request(server, b"/customers?name_prefix=" + query)

    assert status.startswith("HTTP/1.1 400")
    assert headers["content-type"].startswith("text/plain")
    assert body == b"Invalid HTTP request received."
    assert "x-content-type-options" not in headers  # none of the ledger's headers either


def test_the_same_query_percent_encoded_reaches_the_app_and_gets_its_json(
        server: RunningServer) -> None:
    status, headers, body = raw_request(
        server, b"/customers?name_prefix=" + quote(PREFIX).encode("ascii"))

    assert status.startswith("HTTP/1.1 401")  # no token: the ledger's own answer
    assert headers["content-type"] == "application/json"
    assert httpx.Response(401, content=body).json()["error"]["code"] == "unauthenticated"
