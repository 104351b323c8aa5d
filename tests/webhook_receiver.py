"""A webhook receiver for alert tests: a small HTTP server on a free loopback port that
keeps every JSON body posted to it, and answers with a status the test chooses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        # The statuses to answer, in turn; once used up, 200.
        self.answers: list[int] = []
        self.url = ""

    def alerts(self, status: str) -> list[dict[str, Any]]:
        """Every alert received in a payload of ``status`` (firing or resolved)."""
        return [alert for body in self.bodies if body["status"] == status
                for alert in body["alerts"]]

    def names(self, status: str) -> set[str]:
        return {alert["labels"]["alertname"] for alert in self.alerts(status)}


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            receiver.bodies.append(json.loads(self.rfile.read(length)))
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
