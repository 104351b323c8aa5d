"""Backups (ST-2, BK-1..3, DP-2): full and incremental backups of the event log on both
backends, restored into empty databases of either backend; key-store backups apart; and
every refusal (a damaged, truncated or foreign backup, a missing parent, a target in use)
writing nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from ledger.backup.errors import BackupInvalidError
from ledger.backup.restore import RestoreTargetNotEmptyError, table_names
from ledger.crypto import KeyMaterialError
from ledger.domain.errors import ValidationFailedError
from ledger.integrity.keys import create_key_file, public_key_pem
from ledger.settings import Settings, sqlite_path_of
from projections.queries import GetCustomer
from service.backup import BackupPlace, LiveBackups
from service.bootstrap import Ledger, open_database
from tests import backup_support
from tests.backup_support import (
    EmptyDatabases,
    backup_bytes,
    digests,
    place_of,
    restore,
)
from tests.integration.tampering import RawEvents
from tests.privacy_support import (
    ask,
    change,
    distinctive_profile,
    personal_values,
    register,
)
from tests.store_snapshot import snapshot_store, store_unchanged

# The fixtures this module shares with the other backup tests.
backup_dir = backup_support.backup_dir
empty_databases = backup_support.empty_databases


@pytest.fixture
def live(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
         backup_dir: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var", backup_dir=backup_dir)


def customers(ledger: Ledger, count: int) -> list[str]:
    made = []
    for index in range(count):
        customer_id = register(ledger, distinctive_profile(("zh_CN", "en_US")[index % 2]))
        change(ledger, customer_id, {"basic.email": f"buyer{index}@example.cn"})
        made.append(customer_id)
    return made


def reopened(make_ledger: Callable[..., Ledger], live: Ledger, url: str) -> Ledger:
    """The restored store, opened as the ledger would open it (same key files)."""
    copy = make_ledger(url, data_dir=live.settings.data_dir)
    copy.runner.catch_up()
    return copy


def full_and_incremental(live: Ledger) -> tuple[str, str]:
    assert live.backups is not None
    customers(live, 2)
    full = live.backups.events("full", "tester").manifest
    customers(live, 1)
    incremental = live.backups.events("incremental", "tester").manifest
    live.backups.key_store("tester")
    assert (incremental.parent_id, incremental.after_position) == (
        full.backup_id, full.last_position)
    return full.backup_id, incremental.backup_id


# Full, incremental, restore -----------------------------------------------------------

def test_a_full_and_an_incremental_restore_into_an_empty_database_of_the_same_backend(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases
) -> None:
    _, incremental = full_and_incremental(live)
    target = empty_databases.of(live.settings.backend)

    result = restore(live, incremental, target)

    assert result["chain_verified"] and result["last_position"] == live.store.head_position()
    copy = reopened(make_ledger, live, target)
    assert snapshot_store(copy.store).events == snapshot_store(live.store).events
    assert digests(copy) == digests(live)


def test_verify_reports_every_backup_valid(live: Ledger) -> None:
    full, incremental = full_and_incremental(live)

    verdicts = place_of(live).verify()

    assert [(v.backup_id, v.status) for v in verdicts if v.kind != "keys"] == [
        (full, "valid"), (incremental, "valid")]
    assert [v.status for v in verdicts if v.kind == "keys"] == ["valid"]


@pytest.mark.postgres
@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgres"), ("postgres", "sqlite")])
def test_a_ledger_moves_between_backends_by_backup_and_restore_with_the_same_digests(
        make_ledger: Callable[..., Ledger], tmp_path: Path, backup_dir: Path,
        empty_databases: EmptyDatabases, source: str, target: str) -> None:
    live = make_ledger(empty_databases.of(source) if source == "postgres"
                       else f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                       data_dir=tmp_path / "var", backup_dir=backup_dir)
    _, incremental = full_and_incremental(live)
    into = empty_databases.of(target)

    result = restore(live, incremental, into)

    assert (result["source_backend"], result["target_backend"]) == (source, target)
    assert result["chain_verified"]
    copy = reopened(make_ledger, live, into)
    assert digests(copy) == digests(live)
    some = next(record.originator_id for record in snapshot_store(live.store).events
                if record.topic.endswith("Customer.Registered"))
    assert (ask(copy, GetCustomer(customer_id=some))["customer"]
            == ask(live, GetCustomer(customer_id=some))["customer"])


def test_the_key_store_goes_where_keys_to_says(
        make_ledger: Callable[..., Ledger], sqlite_url: str, tmp_path: Path, backup_dir: Path,
        empty_databases: EmptyDatabases) -> None:
    live = make_ledger(sqlite_url, data_dir=tmp_path / "var", backup_dir=backup_dir)
    _, incremental = full_and_incremental(live)
    into, keys = empty_databases.sqlite(), empty_databases.sqlite()

    result = restore(live, incremental, into, keys_to_url=keys)

    assert result["data_keys"] > 0
    copy = make_ledger(into, data_dir=live.settings.data_dir, keystore_url=keys)
    copy.runner.catch_up()
    assert digests(copy) == digests(live)


def test_an_incremental_after_a_log_from_elsewhere_is_refused(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases,
        tmp_path: Path) -> None:
    assert live.backups is not None
    customers(live, 2)
    live.backups.events("full", "tester")
    # Another ledger's log, backed up into the same directory, does not continue it.
    other = make_ledger(empty_databases.of(live.settings.backend), data_dir=tmp_path / "var",
                        backup_dir=live.settings.backup_dir)
    customers(other, 3)
    assert other.backups is not None

    with store_unchanged(other.store), pytest.raises(
            BackupInvalidError, match="no longer continues backup"):
        other.backups.events("incremental", "tester")
    assert len(place_of(live).events.ids()) == 1


def test_an_incremental_with_nothing_new_is_empty_and_still_verifies(live: Ledger) -> None:
    assert live.backups is not None
    customers(live, 1)
    live.backups.events("full", "tester")
    empty = live.backups.events("incremental", "tester").manifest

    assert empty.records == 0
    assert place_of(live).verify(empty.backup_id)[-1].status == "valid"


# Encrypted, failing closed ---------------------------------------------------------

def test_no_backup_file_holds_any_stored_value_in_plaintext(live: Ledger) -> None:
    full_and_incremental(live)
    files = backup_bytes(live)
    # The company's name and the event topics are stored in clear in the event store (not
    # personal data): in a backup even they are ciphertext.
    stored = snapshot_store(live.store).events
    clear = {record.topic.encode() for record in stored} | {
        distinctive_profile("zh_CN")["basic"]["name"].encode()}
    assert not [(name, value) for name, data in files.items()
                if not name.endswith(("manifest.json", "erasure-register.json"))
                for value in clear if value in data]
    manifests = b"".join(data for name, data in files.items() if name.endswith("manifest.json"))
    assert not [value for value in clear if value in manifests]


def test_no_backup_key_no_backup_and_not_one_file_written(live: Ledger) -> None:
    customers(live, 1)
    # In production a backup key must be configured: none is made up.
    production = live.settings.model_copy(update={"environment": "production"})
    place = BackupPlace.from_settings(production)
    backups = LiveBackups(place, views=live.views, key_db=live.keys.db,
                          erased=live.keys.erased_customers, signing=live.sealer.keys,
                          seal=lambda: None, policy=live.policy.backup)

    with store_unchanged(live.store), pytest.raises(
            KeyMaterialError, match="production needs a configured backup key"):
        backups.events("full", "tester")

    # No backup, not even a partial one: only the failure, by kind, time and code.
    assert [p.name for p in place.events.path.iterdir()] == ["last-failure.json"]
    failure = json.loads((place.events.path / "last-failure.json").read_text())
    assert (failure["kind"], failure["code"]) == ("full", "key_material")
    assert place.status(live.policy.backup, _now()).last_failure == failure


@pytest.mark.parametrize("where", ["data_dir", "database_dir", "database_file"])
def test_a_backup_directory_in_the_live_data_is_refused(tmp_path: Path, where: str) -> None:
    database = tmp_path / "live" / "ledger.sqlite3"
    chosen = {"data_dir": tmp_path / "var" / "backups", "database_dir": database.parent / "b",
              "database_file": database}[where]
    settings = Settings(database_url=f"sqlite:///{database}", data_dir=tmp_path / "var",
                        backup_dir=chosen)

    with pytest.raises(ValidationFailedError) as refused:
        BackupPlace.from_settings(settings)

    assert refused.value.problems[0].field == "LEDGER_BACKUP_DIR"
    assert not chosen.exists() or chosen == database


def test_key_store_backups_are_kept_apart_from_the_event_backups(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live' / 'l.sqlite3'}",
                        data_dir=tmp_path / "var", backup_dir=tmp_path / "b",
                        backup_keys_dir=tmp_path / "b" / "keys")

    with pytest.raises(ValidationFailedError, match="kept apart"):
        BackupPlace.from_settings(settings)


# Bad input: a clear error, nothing written ------------------------------------------

def _backup_file(live: Ledger, backup_id: str, name: str) -> Path:
    return place_of(live).events.directory_of(backup_id) / name


def test_tampering_with_any_byte_of_a_backup_file_is_reported_naming_the_file(
        live: Ledger) -> None:
    full, _ = full_and_incremental(live)
    place = place_of(live)
    for name in ("manifest.json", "events.lbk", "integrity.lbk"):
        path = _backup_file(live, full, name)
        original = path.read_bytes()
        # Every byte position is equally covered by the hashes; 24 spread over each file,
        # its first and its last byte included, keep the test to seconds.
        step = max(1, len(original) // 23)
        for offset in sorted({*range(0, len(original), step), len(original) - 1}):
            path.write_bytes(original[:offset] + bytes([original[offset] ^ 0x01])
                             + original[offset + 1:])
            [verdict, *_] = [v for v in place.verify(full) if v.backup_id == full]
            assert verdict.status == "invalid", (name, offset)
            assert name in (verdict.reason or ""), (name, offset, verdict.reason)
        path.write_bytes(original)
    assert all(v.status == "valid" for v in place.verify())


@pytest.mark.parametrize("damage", ["truncated", "wrong key", "bad signature",
                                    "missing parent", "foreign signing key"])
def test_a_bad_backup_is_refused_in_one_line_and_nothing_is_written(
        live: Ledger, empty_databases: EmptyDatabases, damage: str, tmp_path: Path) -> None:
    full, incremental = full_and_incremental(live)
    place = place_of(live)
    if damage == "truncated":
        path = _backup_file(live, incremental, "events.lbk")
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "wrong key":
        place = BackupPlace.from_settings(live.settings.model_copy(update={
            "backup_key": _secret("A" * 43 + "=")}))
    elif damage == "bad signature":
        path = _backup_file(live, incremental, "manifest.json")
        document = json.loads(path.read_text())
        document["manifest"]["records"] += 1
        path.write_text(json.dumps(document))
    elif damage == "missing parent":
        place.events.remove(full)
    elif damage == "foreign signing key":
        other = tmp_path / "other.pem"
        public = tmp_path / "other.pub.pem"
        public.write_text(public_key_pem(create_key_file(other).public_key))
        place = BackupPlace.from_settings(live.settings.model_copy(update={
            "signing_key_file": other, "signing_public_key_file": public}))
    target = empty_databases.of(live.settings.backend)

    with store_unchanged(live.store), pytest.raises(BackupInvalidError) as refused:
        place.restore(incremental, target, open_database=_open)

    assert "\n" not in refused.value.message and refused.value.exit_code == 21
    assert [v for v in place.verify(incremental) if v.status in ("invalid", "missing")]
    assert _is_empty(target)


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases
) -> None:
    _, incremental = full_and_incremental(live)
    target = empty_databases.of(live.settings.backend)
    restore(live, incremental, target)
    in_use = make_ledger(target, data_dir=live.settings.data_dir)
    before = snapshot_store(in_use.store)

    with pytest.raises(RestoreTargetNotEmptyError, match="not empty"):
        restore(live, incremental, target)

    assert snapshot_store(in_use.store) == before


def test_the_live_database_is_never_a_restore_target(live: Ledger) -> None:
    _, incremental = full_and_incremental(live)

    with store_unchanged(live.store), pytest.raises(ValidationFailedError, match="live"):
        restore(live, incremental, live.settings.database_url)


@pytest.mark.sqlite_only  # a SQLite file's spellings
def test_the_live_sqlite_files_spelled_another_way_are_never_a_restore_target(
        live: Ledger) -> None:
    _, incremental = full_and_incremental(live)
    events = sqlite_path_of(live.settings.database_url)
    keys = sqlite_path_of(live.settings.effective_keystore_url)
    spellings = [f"sqlite:///{events.parent}/../{events.parent.name}/{events.name}",
                 f"sqlite:///{os.path.relpath(events)}", f"sqlite:///{keys}"]

    for url in spellings:
        with store_unchanged(live.store), pytest.raises(ValidationFailedError, match="live"):
            restore(live, incremental, url)


def test_an_incremental_needs_a_full_before_it(live: Ledger) -> None:
    assert live.backups is not None
    customers(live, 1)

    with store_unchanged(live.store), pytest.raises(BackupInvalidError, match="full backup"):
        live.backups.events("incremental", "tester")
    assert place_of(live).events.ids() == []
    assert not (live.settings.data_dir / "backup_key.key").exists()  # no key made for it


# Helpers ---------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _secret(text: str) -> SecretStr:
    return SecretStr(text)


def _open(url: str, settings: Settings) -> Any:
    return open_database(url, settings)


def _is_empty(url: str) -> bool:
    if url.startswith("sqlite") and not sqlite_path_of(url).exists():
        return True
    db = open_database(url, Settings(database_url=url))
    try:
        return table_names(db) == []
    finally:
        db.close()


def test_customers_are_readable_in_the_restored_store(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases
) -> None:
    _, incremental = full_and_incremental(live)
    target = empty_databases.of(live.settings.backend)
    restore(live, incremental, target)
    copy = reopened(make_ledger, live, target)

    for record in snapshot_store(live.store).events:
        if record.topic.endswith("Customer.Registered"):
            customer_id = UUID(str(record.originator_id))
            assert (ask(copy, GetCustomer(customer_id=customer_id))["customer"]
                    == ask(live, GetCustomer(customer_id=customer_id))["customer"])
    assert personal_values(distinctive_profile("zh_CN"))


# The backups as the metrics and the alert rules see them -----------------------------

def _backup_series(ledger: Ledger) -> dict[str, float]:
    families = {family.name: family for family in text_string_to_metric_families(
        ledger.metrics.render().decode())}
    family = families.get("ledger_backup_last_success_timestamp_seconds")
    return {} if family is None else {
        sample.labels["kind"]: sample.value for sample in family.samples}


def test_a_backup_taken_is_what_the_metrics_report(live: Ledger) -> None:
    assert live.backups is not None
    # Never backed up: each kind's series is there, at 0 (so an alert on its age fires).
    assert _backup_series(live) == {"full": 0, "incremental": 0, "keys": 0, "drill": 0}
    customers(live, 1)
    full = live.backups.events("full", "tester").manifest
    series = _backup_series(live)
    # A full backup also counts as the latest backup for the incremental schedule.
    assert series["drill"] == 0 and series["incremental"] == series["full"]
    assert series["full"] == pytest.approx(datetime.fromisoformat(full.created_at).timestamp())
    [status] = [found for kind, found in live.figures.backups().items() if kind == "full"]
    assert (status.failed, status.overdue) == (False, False)


def test_a_failed_backup_after_the_last_success_is_reported_failed(live: Ledger) -> None:
    assert live.backups is not None
    customers(live, 1)
    live.backups.events("full", "tester")
    live.backups.place.record_failure("full", OSError("disk full"), datetime.now(UTC))
    assert live.figures.backups()["full"].failed


@pytest.mark.sqlite_only  # PostgreSQL's column types refuse the text
def test_a_record_whose_state_was_rewritten_as_text_is_backed_up_not_a_crash(
        live: Ledger) -> None:
    """SQLite keeps whatever an edit by hand writes into a column: the same bytes stored as
    text back up as they are, and changed text is named by the backup's check."""
    assert live.backups is not None
    customers(live, 2)
    live.sealer.seal_all()
    raw = RawEvents(live.settings.database_url)
    try:
        raw.sql("UPDATE stored_events SET state = CAST(state AS TEXT) WHERE rowid = 3")
        same = live.backups.events("full", "tester").manifest
        raw.sql("UPDATE stored_events SET state = state || ' ' WHERE rowid = 4")
        changed = live.backups.events("full", "tester").manifest
    finally:
        raw.close()

    verdicts = {v.backup_id: v for v in place_of(live).verify()}
    assert verdicts[same.backup_id].status == "valid"
    assert verdicts[changed.backup_id].status == "invalid"
    assert "position 4" in (verdicts[changed.backup_id].reason or "")
