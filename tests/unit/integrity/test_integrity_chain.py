"""The chain formula and signed checkpoints, as pure functions."""

from __future__ import annotations

import uuid
from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import ValidationFailedError
from ledger.integrity.chain import GENESIS, _digest_of_fields, link, record_digest
from ledger.integrity.checkpoints import Checkpoint, SignedCheckpoint, sign
from ledger.integrity.keys import SigningKey
from ledger.integrity.report import Finding, VerifyReport

ID = uuid.UUID("8f119deb-ac31-5f56-924f-6b0c6e65e11b")
TOPIC = "ledger.domain.customer:Customer.Registered"


def test_the_formula_is_the_documented_one() -> None:
    # Written out by hand from the module docstring, so an auditor can re-implement it.
    def field(tag: bytes, data: bytes) -> bytes:
        return tag + len(data).to_bytes(8, "big") + data

    state = b'{"a":1}'
    digest = sha256(field(b"s", ID.hex.encode()) + field(b"i", b"7") + field(b"s", TOPIC.encode())
                    + field(b"b", state)).digest()
    expected = sha256(GENESIS + (12).to_bytes(8, "big", signed=True) + digest).digest()

    assert sha256(b"customer-ledger/integrity-chain/v1").digest() == GENESIS
    assert record_digest(ID.hex, 7, TOPIC, state) == digest
    assert link(GENESIS, 12, digest) == expected


def test_a_known_answer_pins_the_formula() -> None:
    # If this changes, every stored chain stops verifying: bump the chain format instead.
    digest = record_digest(ID.hex, 1, TOPIC, b"{}")
    assert link(GENESIS, 1, digest).hex() == (
        "6261cde6d27a9e3401f59b10a4965bbb4323070a07cd849d2be1507e5cf37e78")


@given(st.uuids(), st.integers(0, 10**12), st.text(max_size=40), st.binary(max_size=200))
def test_the_fast_path_encodes_exactly_like_the_general_one(
        originator: uuid.UUID, version: int, topic: str, state: bytes) -> None:
    for identity in (originator, originator.hex):
        assert record_digest(identity, version, topic, state) == _digest_of_fields(
            identity, version, topic, state)


def test_a_uuid_and_its_stored_hex_hash_alike_so_both_backends_agree() -> None:
    assert record_digest(ID, 3, TOPIC, b"x") == record_digest(ID.hex, 3, TOPIC, b"x")


@pytest.mark.parametrize("changed", [
    (ID.hex.upper(), 1, TOPIC, b"{}"),       # SQLite text in another case hides the event
    (ID.hex, "1", TOPIC, b"{}"),             # a version stored as text
    (ID.hex, 1, TOPIC, "{}"),                # state stored as text, not bytes
    (ID.hex, 1, TOPIC + "{", b"}"),          # bytes moved from state to topic
    (ID.hex, 1, TOPIC, memoryview(b"{ }")),  # one byte more
    (ID.hex, 1, None, b"{}"),
])
def test_any_change_to_a_stored_column_changes_the_digest(changed: tuple[object, ...]) -> None:
    assert record_digest(*changed) != record_digest(ID.hex, 1, TOPIC, b"{}")


def test_a_link_binds_the_previous_link_the_position_and_the_record() -> None:
    digest = record_digest(ID.hex, 1, TOPIC, b"{}")
    base = link(GENESIS, 5, digest)
    assert base != link(GENESIS, 6, digest)
    assert base != link(link(GENESIS, 4, digest), 5, digest)
    assert base != link(GENESIS, 5, record_digest(ID.hex, 2, TOPIC, b"{}"))
    assert link(GENESIS, -5, digest) != base  # a record moved below position 1 still hashes


# Checkpoints ------------------------------------------------------------------------------


def checkpoint(**changes: object) -> Checkpoint:
    fields: dict[str, object] = {
        "sequence": 2, "position": 40, "records": 40, "chain_head": "ab" * 32,
        "previous": "cd" * 32, "created_at": "2026-11-27T03:00:00+00:00", "key_id": "k"}
    return Checkpoint(**(fields | changes))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return SigningKey(Ed25519PrivateKey.generate())


def test_an_exported_checkpoint_verifies_with_nothing_but_itself(key: SigningKey) -> None:
    signed = sign(checkpoint(key_id=key.key_id), key)
    again = SignedCheckpoint.from_export(signed.export())

    assert again == signed
    assert again.signature_valid


@pytest.mark.parametrize("field, value", [("chain_head", "00" * 32), ("position", 41),
                                          ("records", 39), ("sequence", 3),
                                          ("created_at", "2027-01-01T00:00:00+00:00")])
def test_changing_any_signed_field_breaks_the_signature(key: SigningKey, field: str,
                                                        value: object) -> None:
    document = sign(checkpoint(key_id=key.key_id), key).export()
    document["checkpoint"][field] = value
    assert not SignedCheckpoint.from_export(document).signature_valid


def test_a_checkpoint_signed_by_another_key_than_it_names_does_not_verify(
        key: SigningKey) -> None:
    signed = sign(checkpoint(key_id="someone-else"), key)
    assert not signed.signature_valid


def test_the_signed_payload_is_canonical_json() -> None:
    assert checkpoint().payload() == checkpoint().payload()
    assert checkpoint().payload().startswith(b'{"chain":"customer-ledger/integrity-chain/v1",')
    assert b" " not in checkpoint().payload()


@pytest.mark.parametrize("document", [
    None, [], {"format": "something else"},
    {"format": "customer-ledger/checkpoint/v1", "algorithm": "RSA"},
    {"format": "customer-ledger/checkpoint/v1", "algorithm": "Ed25519", "checkpoint": {},
     "signature": "", "public_key": ""},
    {"format": "customer-ledger/checkpoint/v1", "algorithm": "Ed25519",
     "checkpoint": {"sequence": True}, "signature": "", "public_key": ""},
])
def test_a_malformed_export_is_refused_with_a_clear_error(document: object) -> None:
    with pytest.raises(ValidationFailedError, match="not a valid exported checkpoint"):
        SignedCheckpoint.from_export(document)


def test_bad_base64_in_an_export_is_refused(key: SigningKey) -> None:
    document = sign(checkpoint(key_id=key.key_id), key).export()
    document["signature"] = "not base64!"
    with pytest.raises(ValidationFailedError, match="signature"):
        SignedCheckpoint.from_export(document)


# The report -------------------------------------------------------------------------------


def test_the_first_finding_is_the_lowest_position_and_the_most_telling_kind() -> None:
    report = VerifyReport()
    report.add(Finding(9, "reordered", "b"))
    report.add(Finding(4, "checkpoint_missing", "a"))
    report.add(Finding(4, "modified", "c"))

    assert report.first == Finding(4, "modified", "c")
    assert report.as_dict()["first_bad_position"] == 4
    assert not report.ok
