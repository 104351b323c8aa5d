"""Signed checkpoints: a statement, signed with the ledger's Ed25519 key, that the chain had
a given head at a given position.

Signed bytes are the canonical JSON of the checkpoint's fields (sorted keys, no spaces,
ASCII), so the exported document can be checked with nothing but its own public key.
Each checkpoint also names the digest of the one before it, so a removed checkpoint
breaks the sequence.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from hashlib import sha256
from typing import Any

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.integrity.chain import CHAIN_FORMAT
from ledger.integrity.keys import SigningKey, key_id_of, signature_valid

CHECKPOINT_FORMAT = "customer-ledger/checkpoint/v1"
SIGNATURE_ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class Checkpoint:
    """The chain head after ``records`` sealed records, the last at ``position``."""

    sequence: int
    position: int
    records: int
    chain_head: str
    previous: str | None
    created_at: str
    key_id: str
    chain: str = CHAIN_FORMAT

    def payload(self) -> bytes:
        """The exact bytes that are signed."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True).encode()

    def digest(self) -> str:
        return sha256(self.payload()).hexdigest()

    @classmethod
    def from_fields(cls, fields: Any) -> Checkpoint:
        """Rebuild from stored or exported fields; anything malformed is refused."""
        if not isinstance(fields, dict):
            raise _malformed("checkpoint", N_("must be an object"))
        expected = {"sequence": int, "position": int, "records": int, "chain_head": str,
                    "created_at": str, "key_id": str, "chain": str}
        for name, kind in expected.items():
            value = fields.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise _malformed(f"checkpoint.{name}",
                                 message("must be {expected}", expected=kind.__name__))
        if fields.get("previous") is not None and not isinstance(fields["previous"], str):
            raise _malformed("checkpoint.previous", N_("must be a string or null"))
        unknown = set(fields) - set(expected) - {"previous"}
        if unknown:
            raise _malformed("checkpoint", message("unknown fields: {fields}",
                                                     fields=tuple(sorted(unknown))))
        return cls(**fields)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its signature and the public key that checks it."""

    checkpoint: Checkpoint
    signature: bytes
    public_key: bytes

    @property
    def signature_valid(self) -> bool:
        return (key_id_of(self.public_key) == self.checkpoint.key_id
                and signature_valid(self.public_key, self.signature, self.checkpoint.payload()))

    def export(self) -> dict[str, Any]:
        """The document to keep somewhere else (an external witness)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "checkpoint": asdict(self.checkpoint),
            "algorithm": SIGNATURE_ALGORITHM,
            "signature": base64.b64encode(self.signature).decode(),
            "public_key": base64.b64encode(self.public_key).decode(),
        }

    @classmethod
    def from_export(cls, document: Any) -> SignedCheckpoint:
        if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
            raise _malformed("format", message("not a {format} document", format=CHECKPOINT_FORMAT))
        if document.get("algorithm") != SIGNATURE_ALGORITHM:
            raise _malformed("algorithm",
                             message("must be {expected}", expected=SIGNATURE_ALGORITHM))
        return cls(Checkpoint.from_fields(document.get("checkpoint")),
                   _base64(document, "signature"), _base64(document, "public_key"))


def sign(checkpoint: Checkpoint, key: SigningKey) -> SignedCheckpoint:
    return SignedCheckpoint(checkpoint, key.sign(checkpoint.payload()), key.public_key)


def _base64(document: dict[str, Any], name: str) -> bytes:
    value = document.get(name)
    if not isinstance(value, str):
        raise _malformed(name, N_("must be base64 text"))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(name, N_("not valid base64")) from None


def _malformed(field: str, reason: str) -> ValidationFailedError:
    return ValidationFailedError([Problem(field, reason)], message(
        "not a valid exported checkpoint: {field} {reason}", field=field,
        reason=as_message(reason)))
