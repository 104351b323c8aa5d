"""Envelope encryption of personal fields, and blind indexes for searching them.

Each customer has a data key (AES-256-GCM). Data keys are stored only wrapped (AES key
wrap, RFC 3394) under the key-encryption key (KEK), which lives outside the database.
A personal value is stored as an envelope ``{"$enc": 1 or 2, "kid": key id, "ct": base64}``
whose associated data binds it to its customer and field path, so a ciphertext moved to
another customer or field does not decrypt. Blind indexes are keyed HMACs of normalised
values, under a key separate from the KEK, so equality search works on ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from ledger.domain.errors import LedgerError
from ledger.domain.messages import as_message, message
from ledger.private_files import create_private_file, open_to_others

KEY_BYTES = 32
NONCE_BYTES = 12
ENVELOPE_MARK = "$enc"
JSON_ENVELOPE = 1
TEXT_ENVELOPE = 2
ERASED = "[erased]"


class KeyMaterialError(LedgerError):
    """A key is missing, malformed, or not the one the key store was made with."""

    code = "key_material"
    http_status = 500
    exit_code = 10


def key_id_of(key: bytes, purpose: str) -> str:
    """A short public identifier of a secret key: safe to store and print."""
    return hmac.new(key, f"ledger-key-id:{purpose}".encode(), hashlib.sha256).hexdigest()[:16]


# A key file holds 44 characters of base64 and a line break; anything this large is not one.
KEY_FILE_LIMIT = 4096


def read_key_file(path: Path, purpose: str, setting: str | None = None) -> bytes:
    """A 32-byte key stored as base64 in a file; refuse a missing or malformed one, and one
    other accounts may read or change (as ssh refuses such a private key). An error names
    ``setting``, the variable or option that named the file, when one did."""
    try:
        return decode_key(_key_file_text(path, purpose), purpose)
    except KeyMaterialError as error:
        raise named(error, setting) from None


def _key_file_text(path: Path, purpose: str) -> str:
    try:
        if path.exists() and not path.is_file():
            # A device, a pipe or a directory: /dev/zero would be read for ever.
            raise KeyMaterialError(message("the {purpose} file is not a regular file: {path}",
                                           purpose=purpose, path=str(path)))
        with path.open("rb") as file:
            shared = open_to_others(file.fileno())
            if shared:
                raise KeyMaterialError(message(
                    "the {purpose} file {path} is open to other users (mode {mode}): a key "
                    "must be its owner's alone; run chmod 600 {path}", purpose=purpose,
                    path=str(path), mode=shared))
            raw = file.read(KEY_FILE_LIMIT + 1)
        if len(raw) > KEY_FILE_LIMIT:
            raise KeyMaterialError(message("the {purpose} file is too large to hold a key: "
                                           "{path}", purpose=purpose, path=str(path)))
        return raw.decode("ascii").strip()
    except FileNotFoundError:
        raise KeyMaterialError(message("the {purpose} file does not exist: {path}",
                                       purpose=purpose, path=str(path))) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else (
            "not ASCII text" if isinstance(error, UnicodeDecodeError) else type(error).__name__)
        raise KeyMaterialError(message("the {purpose} file cannot be read: {path} ({reason})",
                                       purpose=purpose, path=str(path), reason=reason)
                               ) from None


def decode_key(text: str, purpose: str, setting: str | None = None) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise named(KeyMaterialError(message("the {purpose} is not valid base64",
                                              purpose=purpose)), setting) from None
    if len(key) != KEY_BYTES:
        raise named(KeyMaterialError(message("the {purpose} must be {size} bytes, not {actual}",
                                             purpose=purpose, size=KEY_BYTES,
                                             actual=len(key))), setting)
    return key


def named(error: KeyMaterialError, setting: str | None) -> KeyMaterialError:
    """``error`` led by the setting (``LEDGER_KEK_FILE``) that gave the key, if one did."""
    if setting is None:
        return error
    return KeyMaterialError(message("{setting}: {reason}", setting=setting,
                                    reason=as_message(error.message)))


def create_key_file(path: Path) -> bytes:
    """Write a new random key readable only by its owner; never overwrite an existing one."""
    key = secrets.token_bytes(KEY_BYTES)
    descriptor = create_private_file(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def wrap(kek: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(kek, data_key)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek, wrapped)
    except InvalidUnwrap:
        raise KeyMaterialError("a data key does not unwrap under the configured KEK") from None


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and ENVELOPE_MARK in value


def _associated_data(customer_id: str, path: str) -> bytes:
    return f"{customer_id}|{path}".encode()


def seal(value: Any, *, key: bytes | AESGCM, key_id: str, customer_id: str, path: str
         ) -> dict[str, Any]:
    """Encrypt one JSON value into an envelope bound to its customer and path."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    # Text (most personal values) is sealed as its UTF-8 bytes, anything else as JSON;
    # the envelope's version says which, so opening a string needs no JSON parse.
    if isinstance(value, str):
        version, plaintext = TEXT_ENVELOPE, value.encode()
    else:
        version = JSON_ENVELOPE
        plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    ciphertext = aead.encrypt(nonce, plaintext, _associated_data(customer_id, path))
    return {ENVELOPE_MARK: version, "kid": key_id,
            "ct": binascii.b2a_base64(nonce + ciphertext, newline=False).decode("ascii")}


def open_envelope(envelope: dict[str, Any], *, key: bytes | AESGCM, customer_id: str,
                  path: str) -> Any:
    raw = binascii.a2b_base64(envelope["ct"])
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                 _associated_data(customer_id, path))
    except InvalidTag:
        raise KeyMaterialError("a personal field does not decrypt for this customer and "
                               "field (tampered, moved, or the wrong key)") from None
    text = plaintext.decode()
    return text if envelope[ENVELOPE_MARK] == TEXT_ENVELOPE else json.loads(text)


def normalise_for_index(value: str) -> str:
    """The form a value is compared in: NFKC, case-folded, without spaces or punctuation
    that people type differently (``+86 138-0013-8000`` equals ``+8613800138000``)."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    # \w is exactly str.isalnum() plus "_": one C-level pass instead of a Python loop.
    return _NOT_INDEXED.sub("", folded)


_NOT_INDEXED = re.compile(r"[^\w@+.]|_")


class BlindIndex:
    """Keyed digests of normalised values: equal inputs give equal digests, nothing else."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, kind: str, value: str) -> str:
        message = f"{kind}:{normalise_for_index(value)}".encode()
        return hmac.digest(self._key, message, "sha256").hex()[:32]

    def keyed_hash(self, data: bytes) -> str:
        """A keyed hash of arbitrary bytes (e.g. a command fingerprint), never reversible
        by guessing without the key."""
        return hmac.digest(self._key, data, "sha256").hex()
