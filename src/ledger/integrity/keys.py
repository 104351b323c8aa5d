"""The checkpoint signing key: an Ed25519 key in a file, kept outside the database.

In development a missing key file is created (mode 0600) the first time a checkpoint is
signed, with a warning; in production the file must be configured and readable before
the ledger starts, so a misconfigured service refuses to start instead of writing
checkpoints nobody can trust.
"""

from __future__ import annotations

import os
import threading
from hashlib import sha256
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.private_files import create_private_file, open_to_others
from ledger.settings import Settings

log = structlog.get_logger("ledger.integrity")

DEFAULT_KEY_FILE_NAME = "signing_key.pem"


def key_id_of(public_key: bytes) -> str:
    """A short, stable name for a public key: the start of its SHA-256."""
    return sha256(public_key).hexdigest()[:16]


def signature_valid(public_key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


class SigningKey:
    """An Ed25519 private key that signs checkpoints, and its public half."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id_of(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


def _problem(path: Path, reason: str) -> ValidationFailedError:
    return ValidationFailedError([Problem("signing_key_file", reason)], message(
        "signing key {path}: {reason}", path=str(path), reason=as_message(reason)))


def _key_problem(path: Path, reason: str) -> KeyMaterialError:
    # Key material like the KEK's file: the same code and exit code for the same mistakes.
    return KeyMaterialError(message("signing key {path}: {reason}", path=str(path),
                                    reason=as_message(reason)))


def _unreadable(error: OSError) -> str:
    return message("cannot be read ({reason})", reason=error.strerror or type(error).__name__)


# A PEM key is a few hundred bytes; anything this large is not one.
PEM_FILE_LIMIT = 64 * 1024


def _pem_bytes(path: Path, *, private: bool) -> bytes:
    """The file's bytes, once it is a regular file of a key's size (``/dev/zero`` would be
    read for ever) and, for a private key, its owner's alone (as ssh insists); raises
    ``OSError`` as opening it does, or ``ValueError`` with the reason it is refused."""
    if path.exists() and not path.is_file():
        raise ValueError(N_("is not a regular file"))
    with path.open("rb") as file:
        shared = open_to_others(file.fileno()) if private else None
        if shared:
            raise ValueError(message("is open to other users (mode {mode}): a key must be its "
                                     "owner's alone; run chmod 600 {path}", mode=shared,
                                     path=str(path)))
        data = file.read(PEM_FILE_LIMIT + 1)
    if len(data) > PEM_FILE_LIMIT:
        raise ValueError(N_("is too large to hold a key"))
    return data


def read_key_file(path: Path) -> SigningKey:
    """The key in a PEM (PKCS#8) file; a missing, malformed or shared file is a clear error
    (``key_material``)."""
    try:
        data = _pem_bytes(path, private=True)
    except FileNotFoundError:
        raise _key_problem(path, N_("file does not exist")) from None
    except OSError as error:
        raise _key_problem(path, _unreadable(error)) from None
    except ValueError as error:
        raise _key_problem(path, error.args[0]) from None
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _key_problem(path, N_("not an unencrypted PEM private key")) from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise _key_problem(path, N_("not an Ed25519 key"))
    return SigningKey(private_key)


def public_key_pem(public_key: bytes) -> str:
    """The public half as a PEM file holds it, to hand to whoever verifies."""
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def read_public_key_file(path: Path, setting: str | None = None) -> bytes:
    """A trusted Ed25519 public key from a PEM file (as ``ledger audit public-key`` prints
    it); a missing or malformed file is a clear error, never "no key", naming ``setting``
    (the variable or option that named the file) when one did."""
    def problem(reason: str) -> ValidationFailedError:
        said = message("public key {path}: {reason}", path=str(path), reason=as_message(reason))
        return ValidationFailedError([Problem(setting or "public_key_file", reason)], message(
            "{setting}: {reason}", setting=setting, reason=said) if setting else said)
    try:
        data = _pem_bytes(path, private=False)
    except FileNotFoundError:
        raise problem(N_("file does not exist")) from None
    except OSError as error:
        raise problem(_unreadable(error)) from None
    except ValueError as error:
        raise problem(error.args[0]) from None
    try:
        public_key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise problem(N_("not a PEM public key")) from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise problem(N_("not an Ed25519 key"))
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def create_key_file(path: Path) -> SigningKey:
    """Write a new key readable only by its owner; never overwrite an existing file."""
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        descriptor = create_private_file(path)
    except FileExistsError:
        raise _problem(path, N_("already exists; refusing to overwrite a signing key")) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return SigningKey(private_key)


class SigningKeySource:
    """Where the signing key lives; it is read (or, in development, created) on first use."""

    def __init__(self, path: Path, *, create_if_missing: bool) -> None:
        self.path = path
        self.create_if_missing = create_if_missing
        self._key: SigningKey | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningKeySource:
        """The configured key; in production it must exist now, or nothing starts."""
        if settings.environment == "production":
            if settings.signing_key_file is None:
                raise ValidationFailedError(
                    [Problem("signing_key_file", "required in production")],
                    "production needs LEDGER_SIGNING_KEY_FILE: an Ed25519 key file kept "
                    "outside the database (create one with `ledger audit create-signing-key "
                    "FILE`)")
            source = cls(settings.signing_key_file, create_if_missing=False)
            source.key()
            return source
        path = settings.signing_key_file or settings.data_dir / DEFAULT_KEY_FILE_NAME
        return cls(path, create_if_missing=True)

    def key(self) -> SigningKey:
        with self._lock:
            if self._key is None:
                self._key = self._load()
            return self._key

    def _load(self) -> SigningKey:
        if self.create_if_missing and not self.path.exists():
            key = create_key_file(self.path)
            log.warning("development_signing_key_created", path=str(self.path),
                        advice="for development only; configure LEDGER_SIGNING_KEY_FILE "
                               "in production")
            return key
        return read_key_file(self.path)

    def public_key_if_present(self) -> bytes | None:
        """The public key, if the key file exists; never creates one (verify is read-only)."""
        if self._key is None and not self.path.exists():
            return None
        return self.key().public_key
