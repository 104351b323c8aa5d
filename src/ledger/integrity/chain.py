"""The hash chain over the stored event records: pure functions, no I/O.

A record's digest covers the bytes as stored (originator id, version, topic, state), never
decrypted values, so the chain verifies without any data key and still verifies after a
customer's data key is destroyed. Each link binds the previous link, the record's global
position and its digest::

    digest(r)   = SHA-256( field(originator_id) | field(version) | field(topic) | field(state) )
    link(p, r)  = SHA-256( link(previous) | position(p) as 8 bytes, big-endian, signed | digest(r) )
    link(start) = SHA-256("customer-ledger/integrity-chain/v1")

``field`` tags each value with its type and length, so no two different rows encode alike
(an ``originator_version`` rewritten as text, or bytes moved from topic to state, change
the digest).
"""

from __future__ import annotations

from hashlib import sha256
from uuid import UUID

CHAIN_FORMAT = "customer-ledger/integrity-chain/v1"
GENESIS = sha256(CHAIN_FORMAT.encode()).digest()
DIGEST_BYTES = 32


def _field(value: object) -> bytes:
    if isinstance(value, bytes):
        tag, data = b"b", value
    elif isinstance(value, memoryview | bytearray):
        tag, data = b"b", bytes(value)
    elif isinstance(value, UUID):
        # PostgreSQL keeps a uuid, SQLite the library's hex text: the same record hashes alike.
        tag, data = b"s", value.hex.encode()
    elif isinstance(value, str):
        tag, data = b"s", value.encode("utf-8", "surrogatepass")
    elif isinstance(value, bool) or value is None or not isinstance(value, int):
        tag, data = b"?", repr(value).encode("utf-8", "backslashreplace")
    else:
        tag, data = b"i", str(value).encode()
    return tag + len(data).to_bytes(8, "big") + data


def record_digest(originator_id: object, version: object, topic: object, state: object) -> bytes:
    """The digest of one stored record, from its columns as the database returns them."""
    if type(version) is int and type(topic) is str and type(state) is bytes:
        # The usual column types, encoded inline (verify's hot path); the same bytes as _field.
        if type(originator_id) is str:
            identity = originator_id.encode("utf-8", "surrogatepass")
        elif type(originator_id) is UUID:
            identity = originator_id.hex.encode()
        else:
            return _digest_of_fields(originator_id, version, topic, state)
        number = str(version).encode()
        name = topic.encode("utf-8", "surrogatepass")
        return sha256(b"s" + len(identity).to_bytes(8, "big") + identity
                      + b"i" + len(number).to_bytes(8, "big") + number
                      + b"s" + len(name).to_bytes(8, "big") + name
                      + b"b" + len(state).to_bytes(8, "big") + state).digest()
    return _digest_of_fields(originator_id, version, topic, state)


def _digest_of_fields(*values: object) -> bytes:
    return sha256(b"".join(_field(value) for value in values)).digest()


def link(previous: bytes, position: int, digest: bytes) -> bytes:
    """The chain value after the record at ``position`` with ``digest``."""
    return sha256(previous + position.to_bytes(8, "big", signed=True) + digest).digest()
