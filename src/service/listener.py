"""The socket ``ledger serve`` listens on, bound before anything else is built, so a busy
port is one clear error (and leaves no key file or database behind) rather than uvicorn's
own error after a "listening" line."""

from __future__ import annotations

import socket

from ledger.domain.errors import LedgerError
from ledger.domain.messages import message


class AddressUnusableError(LedgerError):
    """The server cannot listen where it was told: the port is taken, the address is not
    this machine's, or binding it needs privileges the process lacks."""

    code = "address_unusable"
    http_status = 500
    # sysexits.h's EX_OSERR: the operating system refused the listening socket.
    exit_code = 71


def bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, as uvicorn would bind it, or a clear refusal."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        reason = error.strerror or type(error).__name__
        raise AddressUnusableError(
            message("cannot listen on {host}:{port}: {reason} (is another server running "
                    "there? choose another with --port or LEDGER_PORT)", host=host, port=port,
                    reason=reason)) from None
    except BaseException:
        listener.close()
        raise
    return listener
