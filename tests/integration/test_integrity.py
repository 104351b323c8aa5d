"""Tamper evidence on both backends: the sealer, signed checkpoints, and verify against
tampering done by direct SQL, each named by its first bad position."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from commands.bus import Actor
from commands.client import LedgerClient
from ledger.integrity.chain import GENESIS
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.readonly import open_read_only, verify_database
from ledger.integrity.report import MAX_FINDINGS, VerifyReport
from ledger.integrity.sealer import Sealer
from ledger.integrity.storage import EventLog, read_checkpoints
from ledger.service.bootstrap import Ledger
from ledger.service.http import create_app
from tests.conftest import ALICE, BOB, FixedClock
from tests.factories import make_profile
from tests.integration.tampering import RawEvents

CHECKPOINT_EVERY = 4


@pytest.fixture
def make_sealed_ledger(make_ledger: Callable[..., Ledger], tmp_path: Path
                       ) -> Callable[..., Ledger]:
    """A ledger whose checkpoints fall every few records, signed with a key under tmp."""
    policy = tmp_path / "policy.toml"
    policy.write_text(f"checkpoint_every_events = {CHECKPOINT_EVERY}\n", encoding="utf-8")

    def make(database_url: str, **options: object) -> Ledger:
        return make_ledger(database_url, policy_file=policy, data_dir=tmp_path / "var",
                           signing_key_file=tmp_path / "signing_key.pem", **options)

    return make


@pytest.fixture
def sealed(make_sealed_ledger: Callable[..., Ledger], database_url: str) -> Ledger:
    """A ledger with a history of registrations, changes and reviews, all of it sealed."""
    ledger = make_sealed_ledger(database_url)
    write_history(ledger)
    ledger.sealer.seal_all()
    return ledger


@pytest.fixture
def raw(sealed: Ledger) -> Iterator[RawEvents]:
    events = RawEvents(sealed.settings.database_url)
    yield events
    events.close()


def client(ledger: Ledger, actor: Actor) -> LedgerClient:
    return LedgerClient.in_process(ledger, actor.id, roles=sorted(actor.roles),
                                   department=actor.department)


def write_history(ledger: Ledger, customers: int = 3, seed: int = 0) -> None:
    alice = client(ledger, ALICE)
    bob = client(ledger, BOB)
    for index in range(customers):
        customer_id = alice.register_customer(make_profile(seed=seed + index))["aggregate_id"]
        proposal = alice.propose_change(customer_id, {"basic.name": f"名字 {index}"},
                                        "2026-11-20")
        bob.verify_change(customer_id, proposal["result"]["proposal_id"])
        bob.record_review(customer_id)


def verify(ledger: Ledger, **options: object) -> VerifyReport:
    return verify_database(ledger.settings, **options)  # type: ignore[arg-type]


def assert_first_finding(report: VerifyReport, position: int, kind: str) -> None:
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.position, first.kind) == (position, kind), report.as_dict()["findings"]


# Untampered -----------------------------------------------------------------------------


def test_an_untampered_history_verifies_with_its_counts(sealed: Ledger) -> None:
    head = sealed.store.head_position()
    report = verify(sealed)

    assert report.ok, report.as_dict()
    assert (report.records, report.sealed, report.unsealed) == (head, head, 0)
    assert report.checkpoints_verified == report.checkpoints_stored == head // CHECKPOINT_EVERY


def test_records_written_after_the_last_seal_are_counted_apart(sealed: Ledger) -> None:
    sealed_head = sealed.store.head_position()
    write_history(sealed, customers=1, seed=50)

    report = verify(sealed)

    assert report.ok
    assert report.sealed == sealed_head
    assert report.unsealed == sealed.store.head_position() - sealed_head > 0


def test_the_sealer_signs_a_checkpoint_every_n_records(sealed: Ledger) -> None:
    with sealed.views.snapshot() as cursor:
        stored = read_checkpoints(cursor)
    checkpoints = [row.signed.checkpoint for row in stored if row.signed is not None]

    assert [c.sequence for c in checkpoints] == list(range(1, len(stored) + 1))
    assert [c.records for c in checkpoints] == [CHECKPOINT_EVERY * c.sequence
                                                for c in checkpoints]
    assert [c.previous for c in checkpoints[1:]] == [c.digest() for c in checkpoints[:-1]]


def test_a_checkpoint_falls_due_after_its_interval_with_anything_new(
        make_sealed_ledger: Callable[..., Ledger], database_url: str,
        clock: FixedClock) -> None:
    ledger = make_sealed_ledger(database_url)
    client(ledger, ALICE).register_customer(make_profile(seed=1))
    ledger.sealer.seal_all()
    assert ledger.sealer.latest_checkpoint() is None  # fewer records than the interval

    clock.now += timedelta(seconds=ledger.policy.checkpoint_every_seconds)
    ledger.sealer.run_once()

    latest = ledger.sealer.latest_checkpoint()
    assert latest is not None
    assert latest.checkpoint.position == ledger.store.head_position()


def test_two_sealers_racing_over_one_log_seal_each_record_once(
        make_sealed_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_sealed_ledger(database_url)
    write_history(ledger, customers=4)
    rival = Sealer(ledger.views, EventLog.of(ledger.views.dialect), ledger.sealer.policy,
                   ledger.sealer.keys, ledger.sealer.clock, batch_size=3)
    ledger.sealer.batch_size = 2
    failures: list[BaseException] = []

    def seal(sealer: Sealer) -> None:
        try:
            sealer.seal_all()
        except BaseException as error:  # a lost race must be retried, never raised
            failures.append(error)

    threads = [threading.Thread(target=seal, args=(sealer,)) for sealer in (ledger.sealer, rival)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    report = verify(ledger)
    assert report.ok, report.as_dict()
    assert report.sealed == ledger.store.head_position()


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_the_sealer_runs_beside_the_projections_and_healthz_shows_its_lag(
        make_sealed_ledger: Callable[..., Ledger], database_url: str) -> None:
    from fastapi.testclient import TestClient

    ledger = make_sealed_ledger(database_url)
    with TestClient(create_app(ledger)) as health:
        assert health.get("/healthz").json()["sealed_position"] == 0
        ledger.sealer.start(poll_interval=0.01)
        write_history(ledger, customers=1)
        deadline = time.monotonic() + 10
        while ledger.sealer.status().unsealed_records and time.monotonic() < deadline:
            time.sleep(0.01)
        body = health.get("/healthz").json()

    assert (body["sealing_lag"], body["sealer_errors"]) == (0, 0)
    assert body["sealed_position"] == body["head_position"] == ledger.store.head_position()
    assert body["last_checkpoint_position"] == CHECKPOINT_EVERY * (
        body["head_position"] // CHECKPOINT_EVERY)


def test_bootstrap_starts_the_sealer_with_the_projections(
        make_sealed_ledger: Callable[..., Ledger], database_url: str) -> None:
    assert make_sealed_ledger(database_url, start_projections=True).sealer.running
    assert not make_sealed_ledger(database_url).sealer.running


def test_the_events_table_is_where_the_sealer_looks(sealed: Ledger) -> None:
    events = EventLog.of(sealed.views.dialect)
    assert events.table == sealed.store.app_recorder.events_table_name  # type: ignore[attr-defined]


def test_verify_reads_over_a_connection_that_cannot_write(sealed: Ledger) -> None:
    database = open_read_only(sealed.settings)
    try:
        with pytest.raises(Exception, match=r"(?i)read-?only"), database.transaction() as cursor:
            cursor.execute("DELETE FROM integrity_chain")
    finally:
        database.close()
    assert verify(sealed).ok


# Tampering by direct SQL on the events table ----------------------------------------------


def test_one_changed_byte_of_one_state_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(7, index=40)
    assert_first_finding(verify(sealed), 7, "modified")


def test_a_deleted_record_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.delete(5)
    assert_first_finding(verify(sealed), 5, "missing")


def test_a_forged_record_slipped_into_history_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.insert_forged(6, like=raw.record(1))
    assert_first_finding(verify(sealed), 6, "inserted")


def test_two_swapped_records_are_found_at_both_positions(sealed: Ledger, raw: RawEvents) -> None:
    raw.swap(4, 9)
    report = verify(sealed)

    assert_first_finding(report, 4, "reordered")
    assert [(f.position, f.kind) for f in report.findings] == [(4, "reordered"),
                                                                (9, "reordered")]


def test_a_changed_version_number_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.set_column(3, "originator_version", 99)
    assert_first_finding(verify(sealed), 3, "modified")


def test_a_record_and_its_seal_deleted_together_are_found(sealed: Ledger,
                                                          raw: RawEvents) -> None:
    raw.delete(8)
    raw.sql("DELETE FROM integrity_chain WHERE position = ?", 8)
    assert_first_finding(verify(sealed), 8, "missing")


def test_a_changed_seal_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.sql("UPDATE integrity_chain SET chain_hash = ? WHERE position = ?", b"\0" * 32, 10)
    assert_first_finding(verify(sealed), 10, "seal_altered")


@pytest.mark.parametrize("where", ["between checkpoints", "at a checkpoint", "at the head"])
def test_a_record_changed_together_with_its_own_seal_is_one_finding_at_its_position(
        sealed: Ledger, raw: RawEvents, where: str) -> None:
    client(sealed, ALICE).register_customer(make_profile(seed=90))
    sealed.sealer.seal_all()
    head = sealed.store.head_position()
    assert head % CHECKPOINT_EVERY  # no checkpoint at the head: only the seal head knows it
    position = {"between checkpoints": 7, "at a checkpoint": 2 * CHECKPOINT_EVERY,
                "at the head": head}[where]
    raw.flip_byte(position, index=30)
    raw.reseal(position)  # its digest and chain value recomputed; later seals left alone

    report = verify(sealed)

    # At a checkpoint's position the signed head is the first thing it no longer matches.
    kind = "rewritten" if where == "at a checkpoint" else "modified"
    assert [(f.position, f.kind) for f in report.findings] == [(position, kind)]
    assert report.findings_total == 1


def test_after_a_record_changed_with_its_seal_the_walk_is_in_step_again(
        sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(5)
    raw.reseal(5)
    raw.flip_byte(11)

    report = verify(sealed)

    assert [(f.position, f.kind) for f in report.findings] == [(5, "modified"),
                                                                (11, "modified")]
    assert report.findings_total == 2


def test_the_first_bad_position_is_the_lowest_whatever_the_cap_on_findings(
        sealed: Ledger, raw: RawEvents) -> None:
    # Checkpoint rows are checked before the walk: junk ones must not crowd out the flip.
    raw.add_junk_checkpoints(MAX_FINDINGS, from_sequence=1000, at_position=10_000)
    raw.flip_byte(7)

    report = verify(sealed)

    assert report.findings_total == MAX_FINDINGS + 1
    assert len(report.findings) == MAX_FINDINGS
    assert_first_finding(report, 7, "modified")
    assert report.as_dict()["first_bad_position"] == 7


def test_a_record_appended_past_the_seal_is_unsealed_not_a_finding(sealed: Ledger,
                                                                    raw: RawEvents) -> None:
    # What no chain can tell: a row added after the seal looks like a write not sealed yet.
    originator_id, _, topic, state = raw.record(1)
    raw.insert(sealed.store.head_position() + 1, (originator_id, 77, topic, state))
    report = verify(sealed)
    assert report.ok
    assert report.unsealed == 1


# Signed checkpoints -------------------------------------------------------------------------


def exported(ledger: Ledger) -> SignedCheckpoint:
    latest = ledger.sealer.latest_checkpoint()
    assert latest is not None
    return SignedCheckpoint.from_export(latest.export())


def test_a_consistent_rewrite_is_found_against_an_exported_checkpoint(
        sealed: Ledger, raw: RawEvents) -> None:
    witness = exported(sealed)
    raw.flip_byte(6)
    raw.rewrite_chain()

    assert verify(sealed).ok  # without a witness, a careful rewrite looks like the truth
    report = verify(sealed, exported=witness)

    assert_first_finding(report, witness.checkpoint.position, "rewritten")
    rewritten = next(f for f in report.findings if f.kind == "rewritten")
    assert rewritten.since is not None and rewritten.since <= 6
    assert report.exported_checkpoint is not None
    assert not report.exported_checkpoint["matches"]


def test_a_rewrite_that_leaves_the_stored_checkpoints_is_found_without_a_witness(
        sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(6)
    raw.rewrite_chain(keep_checkpoints=True)

    report = verify(sealed)

    assert_first_finding(report, 8, "rewritten")  # the first checkpoint after position 6
    assert report.first is not None and report.first.since == 5


def test_a_changed_checkpoint_signature_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.sql("UPDATE integrity_checkpoints SET signature = ? WHERE sequence = 2", b"\1" * 64)
    assert_first_finding(verify(sealed), 2 * CHECKPOINT_EVERY, "bad_signature")


def test_a_removed_checkpoint_is_found(sealed: Ledger, raw: RawEvents) -> None:
    raw.sql("DELETE FROM integrity_checkpoints WHERE sequence = 2")
    assert_first_finding(verify(sealed), 3 * CHECKPOINT_EVERY, "checkpoint_missing")


def test_checkpoints_re_signed_with_another_key_are_caught_by_the_trusted_one(
        sealed: Ledger, raw: RawEvents, tmp_path: Path) -> None:
    raw.flip_byte(6)
    raw.rewrite_chain()
    forger = Sealer(sealed.views, EventLog.of(sealed.views.dialect), sealed.sealer.policy,
                    SigningKeySource(tmp_path / "forger.pem", create_if_missing=True),
                    sealed.sealer.clock)
    raw.sql("UPDATE integrity_seal SET position = 0, records = 0, chain_hash = ?", GENESIS)
    raw.sql("DELETE FROM integrity_chain")
    forger.seal_all()

    assert verify(sealed).ok  # each checkpoint verifies under the key stored with it
    real_key = sealed.sealer.keys.key().public_key
    report = verify(sealed, trusted_keys={real_key: "the signing key file"})

    assert_first_finding(report, CHECKPOINT_EVERY, "bad_signature")
    assert report.checkpoints_verified == 0


def test_a_forged_exported_checkpoint_does_not_verify(sealed: Ledger) -> None:
    document = exported(sealed).export()
    document["checkpoint"]["chain_head"] = "00" * 32
    report = verify(sealed, exported=SignedCheckpoint.from_export(document))
    assert report.first is not None and report.first.kind == "bad_signature"


def test_from_a_trusted_checkpoint_only_what_follows_is_verified(
        sealed: Ledger, raw: RawEvents) -> None:
    witness = exported(sealed)
    write_history(sealed, customers=1, seed=60)
    sealed.sealer.seal_all()
    after = witness.checkpoint.position + 2
    raw.flip_byte(after)

    report = verify(sealed, exported=witness, from_exported=True)

    assert report.started_after == witness.checkpoint.position
    assert report.records == sealed.store.head_position() - witness.checkpoint.position
    assert_first_finding(report, after, "modified")
