"""A client's connection to ``ledger serve`` outlives a pause between commands: the server
keeps idle connections longer than uvicorn's default 5 s, and the client drops them before
the server would, so a clerk's next command does not pay a new connection (and TLS
handshake) or race the server's close."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from service.cli.operations import KEEP_ALIVE_SECONDS as SERVER_KEEP_ALIVE
from service.client import LedgerClient
from service.client_transport import KEEP_ALIVE_SECONDS, HttpTransport
from tests.e2e.conftest import PASSWORD, RunningServer

pytestmark = pytest.mark.e2e

UVICORN_DEFAULT_KEEP_ALIVE = 5


def local_address(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_the_client_drops_idle_connections_before_the_server_does() -> None:
    assert UVICORN_DEFAULT_KEEP_ALIVE < KEEP_ALIVE_SECONDS < SERVER_KEEP_ALIVE


def test_a_connection_is_reused_after_a_pause_longer_than_uvicorns_default(
        server: RunningServer) -> None:
    with LedgerClient.over_http(server.base_url, username="li.na",
                                password=PASSWORD) as client:
        transport = client.transport
        assert isinstance(transport, HttpTransport)
        first = transport.http.get("/healthz")
        before = local_address(first)
        time.sleep(UVICORN_DEFAULT_KEEP_ALIVE + 1)
        second = transport.http.get("/healthz")
        after = local_address(second)

    assert first.status_code == second.status_code == 200
    assert before == after

