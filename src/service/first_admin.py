"""The first administrator (LG-1, issue 4 point 11), and the rule for where the service may
listen without TLS (LG-5, DP-1)."""

from __future__ import annotations

import ipaddress
from typing import Any

from commands.actor import Actor
from ledger.domain.errors import ConflictError, Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.passwords import generate_password
from service.bootstrap import Ledger
from service.client import LedgerClient

FIRST_ADMIN_USERNAME = "admin"


def ensure_first_administrator(ledger: Ledger, actor: Actor,
                               username: str = FIRST_ADMIN_USERNAME) -> dict[str, Any] | None:
    """Create the first administrator unless one exists; its generated one-time password is
    returned once and written under the data directory, readable by the owner only, until
    it is changed (``one_time_password``)."""
    password = generate_password(ledger.policy.passwords)
    client = LedgerClient.in_process(ledger, actor.id, roles=sorted(actor.roles),
                                     client_address=actor.client_address)
    try:
        client._command("create-first-administrator", username=username,
                        employee_id=f"{username}-0", department="administration",
                        initial_password=password,
                        reason="first administrator, created by ledger init")
    except ConflictError:
        return None
    path = ledger.one_time_password.write(username, password)
    return {"username": username, "one_time_password": password, "written_to": str(path)}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listening(host: str, tls: bool, insecure: bool, setting: str = "LEDGER_HOST"
                    ) -> str | None:
    """Refuse plain HTTP beyond this machine unless ``insecure``; return a warning if any.
    ``setting`` is what chose the host (``--host`` or LEDGER_HOST), as the refusal names it."""
    if tls or is_loopback(host):
        return None
    if not insecure:
        raise ValidationFailedError(
            [Problem(setting, "listening beyond loopback needs --tls-cert and --tls-key")],
            message("refusing to serve plain HTTP on {host}: give --tls-cert and --tls-key, "
                    "or --insecure to accept the risk", host=host))
    return (f"WARNING: serving plain HTTP on {host}: passwords and tokens cross the network "
            "unencrypted (--insecure)")
