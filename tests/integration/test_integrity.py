"""Tamper evidence on both backends: the sealer, signed checkpoints, and verify against
tampering done by direct SQL, each named by its first bad position."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from commands.actor import Actor
from ledger.domain.errors import NotFoundError, ValidationFailedError
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.keys import SigningKeySource, public_key_pem
from ledger.integrity.readonly import open_read_only, verify_database
from ledger.integrity.report import MAX_FINDINGS, IntegrityViolationError, VerifyReport
from ledger.integrity.sealer import Sealer
from ledger.integrity.storage import EventLog, read_checkpoints
from ledger.settings import Settings
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.http import create_app
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


def verify(ledger: Ledger, *, settings: Settings | None = None, **options: object
           ) -> VerifyReport:
    """Verify as of the ledger's clock (the time its events are stamped with) unless told,
    with the ledger's settings unless told."""
    options.setdefault("now", ledger.sealer.clock())
    return verify_database(settings or ledger.settings, **options)  # type: ignore[arg-type]


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


@pytest.mark.parametrize(("column", "value"), [
    ("record_digest", b"\0" * 32), ("originator_id", "0" * 32), ("originator_version", 7),
    ("previous_position", 1)])
def test_a_seal_changed_anywhere_but_its_chain_value_is_found(
        sealed: Ledger, raw: RawEvents, column: str, value: object) -> None:
    raw.sql(f"UPDATE integrity_chain SET {column} = ? WHERE position = ?", value, 10)

    report = verify(sealed)

    assert_first_finding(report, 10, "seal_altered")
    assert report.findings_total == 1


@pytest.mark.parametrize("column", ["chain_hash", "record_digest", "previous_position"])
@pytest.mark.sqlite_only  # PostgreSQL's column types refuse the text
def test_a_seal_column_holding_text_is_a_finding_not_a_crash(
        sealed: Ledger, raw: RawEvents, column: str) -> None:
    raw.sql(f"UPDATE integrity_chain SET {column} = ? WHERE position = ?", "abc", 10)

    assert_first_finding(verify(sealed), 10, "seal_altered")


@pytest.mark.parametrize(("column", "value"), [("records", 3), ("checkpoint_sequence", 0)])
def test_a_seal_head_changed_in_its_counts_is_found(sealed: Ledger, raw: RawEvents,
                                                    column: str, value: int) -> None:
    raw.sql(f"UPDATE integrity_seal SET {column} = ?", value)

    report = verify(sealed)

    assert_first_finding(report, sealed.store.head_position(), "seal_altered")


@pytest.mark.parametrize(("table", "column", "kind"), [
    ("integrity_seal", "chain_hash", "modified"),
    ("integrity_seal", "position", "seal_altered"),
    ("integrity_checkpoints", "signature", "bad_signature"),
    ("integrity_checkpoints", "public_key", "bad_signature"),
    ("integrity_checkpoints", "position", "bad_signature")])
@pytest.mark.sqlite_only  # PostgreSQL's column types refuse the text
def test_a_seal_head_or_checkpoint_column_holding_text_is_a_finding_not_a_crash(
        sealed: Ledger, raw: RawEvents, table: str, column: str, kind: str) -> None:
    raw.sql(f"UPDATE {table} SET {column} = ?", "abc")

    report = verify(sealed)

    assert not report.ok
    assert kind in {finding.kind for finding in report.findings}


@pytest.mark.parametrize("column", ["chain_hash", "position"])
@pytest.mark.sqlite_only  # PostgreSQL's column types refuse the text
def test_the_sealer_refuses_to_build_on_a_seal_head_holding_text(
        sealed: Ledger, raw: RawEvents, column: str) -> None:
    client(sealed, ALICE).register_customer(make_profile(seed=91))
    raw.sql(f"UPDATE integrity_seal SET {column} = ?", "abc")
    before = raw.sql("SELECT COUNT(*) FROM integrity_chain")

    with pytest.raises(IntegrityViolationError, match="seal head was altered"):
        sealed.sealer.seal_all()
    assert raw.sql("SELECT COUNT(*) FROM integrity_chain") == before


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

    # Without a witness, a careful rewrite looks like the truth until the checkpoint
    # interval has passed (below, "When the evidence is gone").
    assert verify(sealed).ok
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


def test_a_walk_from_a_trusted_checkpoint_says_that_checkpoint_matches(sealed: Ledger) -> None:
    witness = exported(sealed)
    write_history(sealed, customers=1, seed=61)
    sealed.sealer.seal_all()

    report = verify(sealed, exported=witness, from_exported=True)

    assert report.ok
    assert report.exported_checkpoint is not None
    assert report.exported_checkpoint["matches"] is True  # it said "does NOT match"


# When the evidence is gone (issue 10, item 3) ---------------------------------------------
# Stored checkpoints are judged against a public key configured outside the database, never
# one read from it; records older than the checkpoint interval that no trusted checkpoint
# covers are "unverified", never OK.

# The policy's default checkpoint_every_seconds, which the sealed ledger keeps.
INTERVAL = timedelta(seconds=300)


def later(ledger: Ledger, by: timedelta = INTERVAL + timedelta(seconds=1)) -> datetime:
    """A moment at which every record written so far is older than the interval."""
    return ledger.sealer.clock() + by


def assert_unverified(sealed: Ledger, **options: object) -> None:
    head = sealed.store.head_position()
    report = verify(sealed, now=later(sealed), **options)
    assert (report.status, report.ok, report.findings_total) == ("unverified", False, 0)
    assert (report.unverified, report.first_unverified_position) == (head, 1)
    assert report.covered_up_to == 0


def remove_key_file(ledger: Ledger, tmp_path: Path) -> Path:
    """Take the signing key off this machine; return its public half, saved to a file."""
    key_file = ledger.settings.signing_key_file
    assert key_file is not None and key_file.exists()
    public = tmp_path / "signing.pub"
    public.write_text(public_key_pem(ledger.sealer.keys.key().public_key), encoding="utf-8")
    key_file.rename(tmp_path / "kept-elsewhere.pem")
    return public


def with_public_key(ledger: Ledger, public: Path) -> Settings:
    """The ledger's settings as a verifier has them with LEDGER_SIGNING_PUBLIC_KEY_FILE."""
    return ledger.settings.model_copy(update={"signing_public_key_file": public})


# Covered, recent and old.


def test_a_history_every_record_of_which_a_trusted_checkpoint_covers_stays_ok(
        sealed: Ledger) -> None:
    report = verify(sealed, now=later(sealed, by=timedelta(days=30)))

    assert report.ok and report.status == "ok"
    assert report.covered_up_to == sealed.store.head_position()
    assert report.unverified == 0


def test_records_after_the_last_checkpoint_are_unverified_once_older_than_the_interval(
        sealed: Ledger) -> None:
    covered = sealed.store.head_position()
    client(sealed, ALICE).register_customer(make_profile(seed=80))
    sealed.sealer.seal_all()  # sealed, but fewer records than a checkpoint needs
    head = sealed.store.head_position()
    assert head % CHECKPOINT_EVERY

    fresh = verify(sealed, now=later(sealed, by=INTERVAL))
    old = verify(sealed, now=later(sealed))

    assert fresh.ok and fresh.covered_up_to == covered
    assert (old.status, old.findings_total) == ("unverified", 0)
    assert (old.unverified, old.first_unverified_position) == (head - covered, covered + 1)


# The evidence removed.


def test_an_emptied_checkpoint_table_and_a_reset_seal_are_unverified_not_ok(
        sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(6)  # what the evidence would have shown
    raw.reset_seal()
    assert_unverified(sealed)


def test_dropped_integrity_tables_are_unverified_not_ok(sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(6)
    raw.drop_integrity_tables()
    assert_unverified(sealed)


def test_a_dropped_events_table_is_every_sealed_record_missing(sealed: Ledger,
                                                                raw: RawEvents) -> None:
    sealed_records = len(raw.positions())
    raw.drop_events_table()

    report = verify(sealed)

    assert_first_finding(report, 1, "missing")
    assert report.findings_total == sealed_records
    assert report.records == report.head_position == 0


def test_a_database_without_the_events_and_the_chain_tables_is_no_ledger_database(
        sealed: Ledger, raw: RawEvents) -> None:
    raw.drop_events_table()
    raw.drop_integrity_tables()

    with pytest.raises(NotFoundError, match="no ledger tables"):
        verify(sealed)


def test_a_rewritten_chain_without_its_checkpoints_is_unverified_not_ok(
        sealed: Ledger, raw: RawEvents) -> None:
    raw.flip_byte(6)
    raw.rewrite_chain()
    report = verify(sealed, now=later(sealed))
    assert (report.status, report.sealed, report.covered_up_to) == (
        "unverified", sealed.store.head_position(), 0)


# Which keys are trusted.


def re_sign_with_another_key(sealed: Ledger, raw: RawEvents, tmp_path: Path) -> None:
    """Rewrite the history and seal it again under a key of the forger's own."""
    raw.flip_byte(6)
    raw.reset_seal()
    forger = Sealer(sealed.views, EventLog.of(sealed.views.dialect), sealed.sealer.policy,
                    SigningKeySource(tmp_path / "forger.pem", create_if_missing=True),
                    sealed.sealer.clock)
    forger.seal_all()


def test_checkpoints_re_signed_with_another_key_are_unverified_without_a_configured_key(
        sealed: Ledger, raw: RawEvents, tmp_path: Path) -> None:
    remove_key_file(sealed, tmp_path)
    re_sign_with_another_key(sealed, raw, tmp_path)

    report = verify(sealed, now=later(sealed))

    # Each checkpoint verifies under the key stored beside it; that key is the forger's.
    assert report.status == "unverified"
    assert report.checkpoints_verified == 0 < report.checkpoints_stored
    assert report.trust.startswith("none")


def test_checkpoints_re_signed_with_another_key_are_tampering_under_the_configured_public_key(
        sealed: Ledger, raw: RawEvents, tmp_path: Path) -> None:
    public = remove_key_file(sealed, tmp_path)
    re_sign_with_another_key(sealed, raw, tmp_path)
    report = verify(sealed, settings=with_public_key(sealed, public))

    assert report.status == "tampered"
    assert report.first is not None
    assert (report.first.position, report.first.kind) == (CHECKPOINT_EVERY, "bad_signature")
    assert report.checkpoints_verified == 0
    assert str(public) in report.trust


def test_the_configured_public_key_vouches_for_the_genuine_checkpoints(
        sealed: Ledger, tmp_path: Path) -> None:
    auditor = with_public_key(sealed, remove_key_file(sealed, tmp_path))

    report = verify(sealed, settings=auditor, now=later(sealed, by=timedelta(days=30)))

    assert report.ok
    assert report.checkpoints_verified == report.checkpoints_stored > 0
    assert report.covered_up_to == sealed.store.head_position()


def test_without_any_configured_key_the_genuine_checkpoints_vouch_for_nothing(
        sealed: Ledger, tmp_path: Path) -> None:
    remove_key_file(sealed, tmp_path)

    assert verify(sealed).ok  # nothing is older than the interval yet
    assert_unverified(sealed)


@pytest.mark.parametrize("content", [None, "not a key", "ed25519 private key"])
def test_a_configured_public_key_that_cannot_be_read_is_an_error_not_no_key(
        sealed: Ledger, tmp_path: Path, content: str | None) -> None:
    public = tmp_path / "signing.pub"
    if content == "ed25519 private key":
        public.write_bytes(Path(str(sealed.settings.signing_key_file)).read_bytes())
    elif content is not None:
        public.write_text(content, encoding="utf-8")

    with pytest.raises(ValidationFailedError, match="public key"):
        verify(sealed, settings=with_public_key(sealed, public))




def test_a_tail_cut_back_to_an_earlier_checkpoint_is_caught_only_by_an_exported_one(
        sealed: Ledger, raw: RawEvents) -> None:
    # README: the public key says who may sign, an export what the history was.
    witness = exported(sealed)
    keep = 4 * CHECKPOINT_EVERY
    kept_hash = raw.sql("SELECT chain_hash FROM integrity_chain WHERE position = ?", keep)[0][0]
    raw.sql(f"DELETE FROM {raw.table} WHERE {raw.position} > ?", keep)
    raw.sql("DELETE FROM integrity_chain WHERE position > ?", keep)
    raw.sql("DELETE FROM integrity_checkpoints WHERE sequence > 4")
    raw.sql("UPDATE integrity_seal SET position = ?, records = ?, chain_hash = ?, "
            "checkpoint_sequence = 4", keep, keep, kept_hash)

    assert verify(sealed, now=later(sealed, by=timedelta(days=30))).ok
    report = verify(sealed, exported=witness)
    assert report.status == "tampered"
    assert report.first is not None and (report.first.position, report.first.kind) == (
        witness.checkpoint.position, "rewritten")
