"""A webhook that cannot be reached is logged by its host alone: the secret many receivers
carry in the address (a token in the path or the query, a password) stays out of the log."""

from __future__ import annotations

import socket

from structlog.testing import capture_logs

from service.alerts import WebhookSender, webhook_label


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_an_undelivered_alert_logs_the_webhooks_host_not_its_secret() -> None:
    url = (f"http://bot:pass-W0rd@127.0.0.1:{closed_port()}/services/T01/B02/"
           "tok3n-in-the-path?key=tok3n-in-the-query")

    with capture_logs() as logs:
        [delivery] = WebhookSender([url], timeout=1, attempts=1).send({"alerts": []})

    assert not delivery.delivered
    [failed] = [entry for entry in logs if entry["event"] == "alert_webhook_failed"]
    assert failed["webhook"] == webhook_label(url)
    assert failed["webhook"].startswith("http://127.0.0.1:")
    logged = repr(logs)
    for secret in ("pass-W0rd", "tok3n-in-the-path", "tok3n-in-the-query", "T01", "bot:"):
        assert secret not in logged


def test_two_webhooks_on_one_host_are_told_apart_in_the_log() -> None:
    first = webhook_label("https://hooks.example.com/services/A/secret-one")
    second = webhook_label("https://hooks.example.com/services/B/secret-two")

    assert first != second
    assert first.startswith("https://hooks.example.com (#")
