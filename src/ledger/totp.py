"""Time-based one-time passwords (LG-4, RFC 6238) with ``cryptography``'s TOTP.

Codes are six digits over 30-second steps; one step either side is accepted for clock
drift. The step a code matched is returned so the caller can refuse its reuse.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> bytes:
    return secrets.token_bytes(20)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what authenticator apps implement for RFC 6238; it is an HMAC key here.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=True)  # noqa: S303


def code_at(secret: bytes, unix_time: float) -> str:
    return _totp(secret).generate(int(unix_time)).decode()


def matching_step(secret: bytes, code: str, unix_time: float) -> int | None:
    """The time step ``code`` belongs to, within the drift window, or None."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    step = int(unix_time) // STEP_SECONDS
    for candidate in (step, step - DRIFT_STEPS, step + DRIFT_STEPS):
        try:
            totp.verify(code.encode(), candidate * STEP_SECONDS)
        except InvalidToken:
            continue
        return candidate
    return None


def provisioning_uri(secret: bytes, username: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code or pasted)."""
    return _totp(secret).get_provisioning_uri(quote(username), issuer)


def secret_text(secret: bytes) -> str:
    """The secret in the base32 form authenticator apps accept for manual entry."""
    return base64.b32encode(secret).decode().rstrip("=")
