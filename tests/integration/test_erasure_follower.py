"""The erasure follower (DL-3, BK-3), on SQLite and PostgreSQL: the one place where an
erasure takes effect on the keys. It follows the log from a checkpoint kept in the key
store, applies each erasure exactly once in effect (destroying a key is idempotent, so a
crash before the checkpoint moves repeats a no-op), and catches a key store up at start
with the erasures it missed. The read models apply ``Erased`` without touching keys."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ledger.domain.customer import Customer
from ledger.settings import Settings
from service.bootstrap import Ledger, open_database
from tests.privacy_support import Backups, distinctive_profile, erase, register

INDEX_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
KEK = base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def backups(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backups]:
    taken = Backups(tmp_path, lambda: str(request.getfixturevalue("postgres_admin_url")))
    yield taken
    taken.drop_all()


@pytest.fixture
def keystore_url(database_url: str, backups: Backups, tmp_path: Path) -> str:
    """A key store in its own database, as production keeps it (and backs it up)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'keys' / 'ledger-keys.sqlite3'}"
    return backups.new_postgres()


@pytest.fixture
def open_ledger(make_ledger: Callable[..., Ledger], database_url: str, keystore_url: str,
                tmp_path: Path) -> Callable[..., Ledger]:
    def open_(keys: str | None = None) -> Ledger:
        return make_ledger(database_url, kek=KEK, index_key=INDEX_KEY,
                           keystore_url=keys or keystore_url, data_dir=tmp_path / "var")

    return open_


def raw(url: str, settings: Settings, sql: str, params: dict[str, Any] | None = None
        ) -> list[tuple[Any, ...]]:
    db = open_database(url, settings)
    try:
        with db.snapshot() as cursor:
            return [tuple(row) for row in cursor.all(sql, params or {})]
    finally:
        db.close()


def holds_key(url: str, customer_id: str, settings: Settings) -> bool:
    return bool(raw(url, settings, "SELECT 1 FROM data_keys WHERE customer_id = :cid",
                    {"cid": customer_id}))


def follower_position(url: str, settings: Settings) -> int:
    return int(raw(url, settings, "SELECT position FROM follower_checkpoints")[0][0])


def erasure_position(ledger: Ledger, customer_id: str) -> int:
    erased = f"{Customer.Erased.__module__}:{Customer.Erased.__qualname__}"
    return next(n.id for n in ledger.store.read_log(0, 10_000)
                if str(n.originator_id) == customer_id and n.topic == erased)


def tombstones(ledger: Ledger, customer_id: str) -> list[tuple[Any, ...]]:
    with ledger.keys.db.snapshot() as cursor:
        return [tuple(row) for row in cursor.all(
            "SELECT customer_id, key_id, erased_at FROM erased_keys WHERE customer_id = :cid",
            {"cid": customer_id})]


def test_a_crash_before_the_checkpoint_moves_repeats_a_destroy_that_changes_nothing(
        open_ledger: Callable[..., Ledger], keystore_url: str) -> None:
    ledger = open_ledger()
    gone = register(ledger, distinctive_profile("zh_CN"))
    kept = register(ledger, distinctive_profile("en_US"))
    start = ledger.erasures.position()
    erase(ledger, gone)
    # Execute-deletion destroyed the key; the follower (no thread in tests) has not moved:
    # the state a crash right after the destroy and before the checkpoint leaves.
    assert not holds_key(keystore_url, gone, ledger.settings)
    assert ledger.erasures.position() == start < erasure_position(ledger, gone)
    tombstone = tombstones(ledger, gone)
    for attempt in ("first run", "after a crash before the checkpoint"):
        with capture_logs() as logs:
            ledger.erasures.catch_up()
        assert ledger.erasures.position() == ledger.store.head_position(), attempt
        assert tombstones(ledger, gone) == tombstone, "one tombstone, never rewritten"
        assert not any(entry["event"] == "erasures_reapplied" for entry in logs), attempt
        # The follower dies after destroying, before moving its checkpoint: it runs again.
        with ledger.keys.db.transaction() as cursor:
            cursor.execute("UPDATE follower_checkpoints SET position = :p", {"p": start})
    assert holds_key(keystore_url, kept, ledger.settings), "no other customer's key"
    assert ledger.erasures.erase(gone) is None


def test_at_start_the_follower_catches_a_restored_key_store_up_with_a_missed_erasure(
        open_ledger: Callable[..., Ledger], backups: Backups, keystore_url: str) -> None:
    first = open_ledger()
    gone = register(first, distinctive_profile("zh_CN"))
    kept = register(first, distinctive_profile("en_US"))
    first.close()
    backup = backups.copy(keystore_url)
    current = open_ledger()
    erase(current, gone)
    at = erasure_position(current, gone)
    current.close()
    settings = current.settings
    assert holds_key(backup, gone, settings)
    assert follower_position(backup, settings) < at, "the backup predates the erasure"
    with capture_logs() as logs:
        restored = open_ledger(backup)
    assert follower_position(backup, settings) == restored.store.head_position()
    assert not holds_key(backup, gone, settings)
    assert holds_key(backup, kept, settings)
    assert [entry["count"] for entry in logs if entry["event"] == "erasures_reapplied"] == [1]


def test_the_read_models_apply_an_erasure_without_touching_the_key_store(
        open_ledger: Callable[..., Ledger], backups: Backups, keystore_url: str) -> None:
    """A second process runs on an old copy of the key store that still holds the key when
    the erasure is logged: its read models tombstone the customer and drop the search
    rows, and the key stays until its erasure follower runs."""
    first = open_ledger()
    gone = register(first, distinctive_profile("zh_CN"))
    kept = register(first, distinctive_profile("en_US"))
    first.runner.catch_up()
    first.close()
    other = open_ledger(backups.copy(keystore_url))
    other_keys = other.settings.effective_keystore_url
    erase(open_ledger(), gone)
    assert other.runner.catch_up() > 0
    assert holds_key(other_keys, gone, other.settings), "a read model destroyed a key"
    with other.views.snapshot() as cursor:
        erased_at = cursor.one("SELECT erased_at FROM customer_view WHERE customer_id = :cid",
                               {"cid": gone})
        searchable = {str(row[0]) for row in cursor.all(
            "SELECT DISTINCT customer_id FROM customer_search")}
    assert erased_at is not None and erased_at[0] is not None
    assert searchable == {kept}
    other.erasures.catch_up()
    assert not holds_key(other_keys, gone, other.settings)
    assert holds_key(other_keys, kept, other.settings)
