"""Property: for any stored history and any one tampering of its sealed part, verify fails and
names the first position touched; without tampering it finds nothing. On both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.integrity.chain import GENESIS
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.readonly import verify_database
from ledger.integrity.sealer import CheckpointPolicy, Sealer
from ledger.integrity.storage import EventLog
from ledger.settings import Settings
from ledger.store import open_store
from service.bootstrap import open_views
from tests.integration.tampering import RawEvents, Record

TOPICS = ["ledger.domain.customer:Customer.Registered",
          "ledger.domain.customer:Customer.ChangeProposed",
          "commands.idempotency:CommandRecord.Processed"]


@dataclass
class BareStore:
    """An events table filled by hand, a sealer over it, and raw SQL access to both."""

    settings: Settings
    sealer: Sealer
    raw: RawEvents

    def reset(self) -> None:
        for table in (self.raw.table, "integrity_chain", "integrity_checkpoints"):
            self.raw.sql(f"DELETE FROM {table}")
        self.raw.sql("UPDATE integrity_seal SET position = 0, records = 0, chain_hash = ?, "
                     "checkpoint_sequence = 0", GENESIS)

    def record(self, originator: uuid.UUID, version: int, topic: str, state: bytes) -> Record:
        return (originator.hex if self.raw.sqlite else originator, version, topic, state)


@pytest.fixture
def bare_store(database_url: str, tmp_path: Path) -> Iterator[BareStore]:
    chosen = Settings(database_url=database_url, data_dir=tmp_path)
    open_store(chosen).close()  # the library's own tables, as a ledger creates them
    views = open_views(chosen)
    sealer = Sealer(views, EventLog.of(views.dialect), CheckpointPolicy(3, 10**6),
                    SigningKeySource(tmp_path / "signing_key.pem", create_if_missing=True),
                    lambda: datetime(2026, 11, 27, tzinfo=UTC), batch_size=4)
    sealer.create_tables()
    raw = RawEvents(database_url)
    yield BareStore(chosen, sealer, raw)
    raw.close()
    views.close()


records = st.lists(
    st.tuples(st.uuids(version=4), st.integers(1, 5), st.sampled_from(TOPICS),
              st.binary(max_size=48), st.integers(1, 3)),  # the last: step to the next position
    min_size=1, max_size=25, unique_by=lambda r: r[0])

Tampering = Callable[[RawEvents], None]


@st.composite
def tamperings(draw: st.DrawFn, positions: list[int], taken: set[int]
               ) -> tuple[str, int, Tampering]:
    """One tampering of the sealed records at ``positions`` (``taken``: every position in
    use): its name, the first position it touches, and the SQL that does it."""
    index = draw(st.integers(0, len(positions) - 1))
    at = positions[index]
    kind = draw(st.sampled_from(["flip", "version", "topic", "identity", "delete", "insert",
                                 "swap", "move"]))
    if kind == "flip":
        byte = draw(st.integers(0, 64))
        return kind, at, lambda raw: raw.flip_byte(at, byte)
    if kind == "version":
        return kind, at, lambda raw: raw.set_column(at, "originator_version",
                                                    raw.record(at)[1] + 100)
    if kind == "topic":
        return kind, at, lambda raw: raw.set_column(at, "topic", raw.record(at)[2] + "X")
    if kind == "identity":
        new_id = draw(st.uuids(version=4))
        return kind, at, lambda raw: raw.set_column(
            at, "originator_id", new_id.hex if raw.sqlite else new_id)
    if kind == "delete":
        return kind, at, lambda raw: raw.delete(at)
    if kind == "insert":
        return kind, at, lambda raw: raw.insert_forged(at, like=raw.record(positions[0]))
    if kind == "swap" and len(positions) > 1:
        other = draw(st.sampled_from([p for p in positions if p != at]))
        return kind, min(at, other), lambda raw: raw.swap(at, other)
    free = sorted(set(range(-3, max(taken) + 5)) - taken - {-1})
    to = draw(st.sampled_from(free))
    return "move", min(at, to), lambda raw: raw.move(at, to)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=records, unsealed=st.integers(0, 3), tamper=st.booleans(), data=st.data())
def test_one_tampering_is_named_by_its_first_position(
        bare_store: BareStore, history: list[tuple[uuid.UUID, int, str, bytes, int]],
        unsealed: int, tamper: bool, data: st.DataObject) -> None:
    bare_store.reset()
    position, positions = 0, []
    for originator, version, topic, state, step in history:
        position += step
        bare_store.raw.insert(position, bare_store.record(originator, version, topic, state))
        positions.append(position)
    bare_store.sealer.seal_all()
    taken = set(positions)
    for extra in range(position + 1, position + 1 + unsealed):
        bare_store.raw.insert(extra, bare_store.record(uuid.uuid4(), 1, TOPICS[0], b"later"))
        taken.add(extra)

    if not tamper:
        report = verify_database(bare_store.settings)
        assert not report.tampered, report.as_dict()
        assert (report.sealed, report.unsealed) == (len(positions), unsealed)
        # These hand-made states carry no time: what no checkpoint covers is unverified.
        assert report.unverified == len(positions) % 3 + unsealed
        return
    kind, first, tampering = data.draw(tamperings(positions, taken))
    tampering(bare_store.raw)
    report = verify_database(bare_store.settings)

    assert report.tampered and not report.ok, kind
    assert report.first is not None
    assert report.first.position == first, (kind, report.as_dict()["findings"])
