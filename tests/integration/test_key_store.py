"""The key store and the KEK (ST-3, DP-2, DL-3), on SQLite and PostgreSQL.

A wrong, missing or malformed KEK stops the ledger at start-up before anything is
written; rotation re-wraps every data key and touches no event; a key store restored
from a backup taken before an erasure loses the erased key again before any read.
"""

from __future__ import annotations

import base64
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.crypto import ERASED, KeyMaterialError, key_id_of
from ledger.domain.errors import ValidationFailedError
from ledger.keystore import RESERVE_BATCH, KeyStore
from ledger.settings import Settings, sqlite_path_of
from projections.queries import GetCustomer
from service.bootstrap import Ledger, bootstrap, open_database
from tests.privacy_support import (
    CLERK,
    Backups,
    database_bytes,
    distinctive_profile,
    erase,
    register,
)
from tests.store_snapshot import snapshot_store, store_unchanged


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


INDEX_KEY = new_key()


@pytest.fixture
def backups(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backups]:
    taken = Backups(tmp_path, lambda: str(request.getfixturevalue("postgres_admin_url")))
    yield taken
    taken.drop_all()


@pytest.fixture
def open_ledger(make_ledger: Callable[..., Ledger], tmp_path: Path) -> Callable[..., Ledger]:
    """A ledger with the given KEK (and a fixed blind-index key), keys outside ./var."""
    def open_(url: str, kek: str, **settings: Any) -> Ledger:
        return make_ledger(url, kek=kek, index_key=INDEX_KEY, data_dir=tmp_path / "var",
                           **settings)

    return open_


def start(url: str, **settings: Any) -> Ledger:
    return bootstrap(Settings(database_url=url, **settings), start_projections=False)


def contents(url: str) -> dict[str, bytes]:
    """What the event-store database holds (SQLite's shared-memory index aside)."""
    return {place: data for place, data in database_bytes(url).items()
            if not place.endswith("-shm")}


def profile_of(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    ledger.runner.catch_up()
    answer = ledger.bus.ask(GetCustomer(customer_id=UUID(customer_id)), CLERK)
    profile: dict[str, Any] = answer["customer"]["profile"]
    return profile


def a_ledger_with_one_customer(open_ledger: Callable[..., Ledger], url: str, kek: str
                               ) -> str:
    """Given a ledger made with ``kek``, holding one customer, and then shut down."""
    ledger = open_ledger(url, kek)
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    ledger.runner.catch_up()
    ledger.close()
    return customer_id


# Wrong, missing or malformed KEK -------------------------------------------------------

def test_a_wrong_kek_stops_the_start_and_writes_nothing(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    kek = new_key()
    customer_id = a_ledger_with_one_customer(open_ledger, database_url, kek)
    before = contents(database_url)
    with pytest.raises(KeyMaterialError, match="not the one this key store was made with"):
        open_ledger(database_url, new_key())
    assert contents(database_url) == before
    again = open_ledger(database_url, kek)
    assert profile_of(again, customer_id)["basic"]["legal_representative"] == "欧阳翠花"


def test_a_configured_kek_file_that_is_missing_stops_the_start_and_writes_nothing(
        make_ledger: Callable[..., Ledger], open_ledger: Callable[..., Ledger],
        database_url: str, tmp_path: Path) -> None:
    a_ledger_with_one_customer(open_ledger, database_url, new_key())
    before = contents(database_url)
    with pytest.raises(KeyMaterialError, match="KEK file does not exist"):
        make_ledger(database_url, kek_file=tmp_path / "gone.key", index_key=INDEX_KEY)
    assert contents(database_url) == before


@pytest.mark.parametrize("kek", ["not base64 at all!",
                                 base64.b64encode(b"sixteen byte key").decode()])
def test_a_malformed_kek_stops_the_start(sqlite_url: str, kek: str) -> None:
    with pytest.raises(KeyMaterialError, match="KEK"):
        start(sqlite_url, kek=kek, index_key=INDEX_KEY)


def test_a_development_kek_that_went_missing_stops_the_start_and_writes_nothing(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "var"
    make_ledger(database_url, data_dir=keys).close()
    (keys / "kek.key").unlink()
    before = contents(database_url)
    with pytest.raises(KeyMaterialError, match=r"not the one this key store was made with|"
                                               r"key store this ledger uses was made with one"):
        make_ledger(database_url, data_dir=keys)
    assert contents(database_url) == before
    if database_url.startswith("sqlite"):  # the key store is looked at before a key is made
        assert not (keys / "kek.key").exists()


def signing_key_file(directory: Path) -> Path:
    """The Ed25519 key production also insists on, so the KEK is what is missing."""
    path = directory / "signing.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def test_production_without_a_kek_refuses_to_start_and_creates_nothing(tmp_path: Path
                                                                       ) -> None:
    url = f"sqlite:///{tmp_path / 'prod' / 'ledger.sqlite3'}"
    with pytest.raises(ValidationFailedError, match=r"set right: LEDGER_KEK$"):
        start(url, environment="production", index_key=INDEX_KEY,
              signing_key_file=signing_key_file(tmp_path),
              keystore_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}", data_dir=tmp_path)
    assert not (tmp_path / "prod" / "ledger.sqlite3").exists()
    assert not (tmp_path / "kek.key").exists(), "production never makes its own KEK"


def test_production_refuses_a_key_store_inside_the_event_store(database_url: str,
                                                               tmp_path: Path) -> None:
    with pytest.raises(ValidationFailedError, match=r"set right: LEDGER_KEYSTORE_URL$"):
        start(database_url, environment="production", kek=new_key(), index_key=INDEX_KEY,
              signing_key_file=signing_key_file(tmp_path), keystore_url=database_url)


@pytest.mark.postgres
def test_production_on_postgresql_needs_its_own_key_store_database(postgres_url: str,
                                                                    tmp_path: Path) -> None:
    with pytest.raises(ValidationFailedError, match=r"set right: LEDGER_KEYSTORE_URL$"):
        start(postgres_url, environment="production", kek=new_key(), index_key=INDEX_KEY,
              signing_key_file=signing_key_file(tmp_path))


def test_development_makes_a_private_kek_file_once_and_keeps_using_it(
        make_ledger: Callable[..., Ledger], sqlite_url: str, tmp_path: Path) -> None:
    first = make_ledger(sqlite_url, data_dir=tmp_path / "var")
    kek_file = tmp_path / "var" / "kek.key"
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    kek_id = first.keys.kek_id
    first.close()
    assert make_ledger(sqlite_url, data_dir=tmp_path / "var").keys.kek_id == kek_id


# Rotation and status --------------------------------------------------------------------

def wrapped_keys(ledger: Ledger) -> dict[str, bytes]:
    with ledger.keys.db.snapshot() as cursor:
        rows = cursor.all("SELECT customer_id, wrapped FROM data_keys")
    return {str(customer_id): bytes(wrapped) for customer_id, wrapped in rows}


def test_rotating_the_kek_rewraps_every_key_and_touches_no_event(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    old, new = new_key(), new_key()
    ledger = open_ledger(database_url, old)
    kept = [register(ledger, distinctive_profile(locale)) for locale in ("zh_CN", "en_US")]
    erase(ledger, register(ledger, distinctive_profile("zh_CN")))
    events, wrapped = snapshot_store(ledger.store), wrapped_keys(ledger)
    assert ledger.keys.rotate_kek(base64.b64decode(new)) == 2
    assert snapshot_store(ledger.store) == events
    rewrapped = wrapped_keys(ledger)
    assert set(kept) <= wrapped.keys()  # with the spare keys made ahead, dropped now
    assert rewrapped.keys() == set(kept)
    assert all(rewrapped[c] != wrapped[c] for c in kept)
    # Rotation dropped the spare keys made ahead for new customers.
    assert ledger.keys.status() == {"active_keys": 2, "destroyed_keys": 1, "reserved_keys": 0,
                                    "kek_id": key_id_of(base64.b64decode(new), "kek")}
    ledger.close()
    with pytest.raises(KeyMaterialError, match="not the one this key store was made with"):
        open_ledger(database_url, old)
    reopened = open_ledger(database_url, new)
    assert profile_of(reopened, kept[1])["basic"]["email"] == "z.quillfeather@larkspur-mills.com"


def test_an_instance_still_on_the_old_kek_makes_no_key_after_a_rotation(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    """A second service instance, started before the rotation, would otherwise wrap new
    keys under the KEK the operator is about to throw away."""
    old, new = new_key(), new_key()
    rotating, running = open_ledger(database_url, old), open_ledger(database_url, old)
    rotating.keys.rotate_kek(base64.b64decode(new))
    with store_unchanged(running.store), pytest.raises(KeyMaterialError, match="rotated"):
        register(running, distinctive_profile("en_US"))
    # A customer id given by the caller takes the one-statement path: refused alike.
    with pytest.raises(KeyMaterialError, match="rotated"):
        running.keys.create("5b0c9a0e-1d2f-4e3a-8b7c-6d5e4f3a2b1c")
    assert running.keys.status()["active_keys"] == 0


def test_rotation_leaves_the_event_store_file_byte_identical(
        open_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url, new_key())
    register(ledger, distinctive_profile("en_US"))
    ledger.runner.catch_up()
    before = contents(sqlite_url)
    ledger.keys.rotate_kek(secrets.token_bytes(32))
    assert contents(sqlite_url) == before


def test_an_erased_customer_never_gets_a_key_again(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = open_ledger(database_url, new_key())
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    erase(ledger, customer_id)
    with pytest.raises(KeyMaterialError, match="erased"):
        ledger.keys.create(customer_id)
    assert ledger.keys.data_key(customer_id) is None


# A key store restored from before an erasure ------------------------------------------

@pytest.fixture
def keystore_url(database_url: str, backups: Backups, tmp_path: Path) -> str:
    """A key store in its own database, as production keeps it."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'keys' / 'ledger-keys.sqlite3'}"
    return backups.new_postgres()


def holds_key(keystore: str, customer_id: str, settings: Settings) -> bool:
    db = open_database(keystore, settings)
    try:
        with db.snapshot() as cursor:
            return cursor.one("SELECT 1 FROM data_keys WHERE customer_id = :cid",
                              {"cid": customer_id}) is not None
    finally:
        db.close()


@pytest.mark.parametrize("projections", ["caught up", "behind the log"])
def test_a_restored_key_store_loses_the_erased_key_again_before_any_read(
        open_ledger: Callable[..., Ledger], backups: Backups, database_url: str,
        keystore_url: str, projections: str) -> None:
    kek = new_key()
    first = open_ledger(database_url, kek, keystore_url=keystore_url)
    erased = register(first, distinctive_profile("zh_CN"))
    kept = register(first, distinctive_profile("en_US"))
    first.runner.catch_up()
    first.close()
    backup = backups.copy(keystore_url)
    current = open_ledger(database_url, kek, keystore_url=keystore_url)
    erase(current, erased)
    if projections == "caught up":
        current.runner.catch_up()
    current.close()
    assert holds_key(backup, erased, current.settings), "the backup still holds the key"
    restored = open_ledger(database_url, kek, keystore_url=backup)
    assert restored.keys.data_key(erased) is None
    assert not holds_key(backup, erased, current.settings)
    assert profile_of(restored, erased) == {}
    assert profile_of(restored, kept)["basic"]["legal_representative"] == (
        "Zebediah Quillfeather")


def test_a_key_store_restored_without_the_erasure_opens_the_old_event_copy_as_erased(
        open_ledger: Callable[..., Ledger], backups: Backups, database_url: str,
        keystore_url: str) -> None:
    """The other way round: an old copy of the events, with the current key store."""
    kek = new_key()
    first = open_ledger(database_url, kek, keystore_url=keystore_url)
    erased = register(first, distinctive_profile("zh_CN"))
    first.runner.catch_up()
    first.close()
    old_events = backups.copy(database_url)
    erase(open_ledger(database_url, kek, keystore_url=keystore_url), erased)
    copy = open_ledger(old_events, kek, keystore_url=keystore_url)
    profile = profile_of(copy, erased)
    assert profile["basic"]["legal_representative"] == ERASED
    assert profile["basic"]["name"] == "翡翠织造有限公司", "what is not personal stays"


def test_a_second_key_store_for_the_same_events_shares_no_key(
        open_ledger: Callable[..., Ledger], database_url: str, keystore_url: str) -> None:
    """Keys are never copied between stores, and a fresh key store beside events that
    already exist is a key store lost: the start is refused before it makes or writes
    anything (a key missing without an erasure is an error, never ``[erased]``)."""
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    register(ledger, distinctive_profile("zh_CN"))
    ledger.close()
    with pytest.raises(KeyMaterialError, match="missing or empty"):
        open_ledger(database_url, kek, keystore_url=keystore_url)
    if keystore_url.startswith("sqlite"):
        assert not sqlite_path_of(keystore_url).exists()


def test_the_key_cache_forgets_a_destroyed_key_at_once(
        open_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url, new_key())
    customer_id = register(ledger, distinctive_profile("en_US"))
    assert ledger.keys.data_key(customer_id) is not None
    erase(ledger, customer_id)
    assert ledger.keys.data_key(customer_id) is None


def test_a_new_customer_id_comes_with_its_key_already_stored(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    """Keys are made ahead in batches, each stored before its id is handed out: no event
    can name a customer whose key was never stored, and a registration writes no key."""
    ledger = open_ledger(database_url, new_key())
    handed_out = [ledger.keys.new_customer_id() for _ in range(RESERVE_BATCH + 1)]
    stored = wrapped_keys(ledger)
    assert set(handed_out) <= stored.keys()
    assert len(set(handed_out)) == len(handed_out)
    assert len(stored) == 2 * RESERVE_BATCH  # two batches, one transaction each
    assert all(ledger.keys.data_key(customer_id) for customer_id in handed_out)


def test_a_customer_registered_with_a_spare_key_opens_after_a_restart(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    customer_id = register(ledger, distinctive_profile("en_US"))
    ledger.close()
    reopened = open_ledger(database_url, kek)
    email = profile_of(reopened, customer_id)["basic"]["email"]
    assert email == "z.quillfeather@larkspur-mills.com"


def test_spare_keys_never_handed_out_are_deleted_at_close(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    customers = [register(ledger, distinctive_profile("zh_CN")) for _ in range(2)]
    ledger.close()
    reopened = open_ledger(database_url, kek)
    assert wrapped_keys(reopened).keys() == set(customers)


def test_creating_a_key_again_returns_the_stored_one(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    """A retried registration with its own customer id must not replace the key."""
    ledger = open_ledger(database_url, new_key())
    customer_id = "8c5a3b6e-7f11-4a2b-9d0e-2f6b1c3d4e5f"
    first = ledger.keys.create(customer_id)
    assert ledger.keys.create(customer_id) == first
    assert wrapped_keys(ledger).keys() == {customer_id}


def test_status_counts_active_and_destroyed_keys(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    customers = [register(ledger, distinctive_profile("en_US")) for _ in range(3)]
    erase(ledger, customers[0])
    assert ledger.keys.status() == {"active_keys": 2, "destroyed_keys": 1,
                                    "reserved_keys": RESERVE_BATCH - 3,
                                    "kek_id": key_id_of(base64.b64decode(kek), "kek")}


def test_a_key_store_opened_directly_refuses_another_kek(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}", Settings())
    try:
        KeyStore(db, secrets.token_bytes(32)).create_tables()
        with pytest.raises(KeyMaterialError, match="KEK id"):
            KeyStore(db, secrets.token_bytes(32)).create_tables()
    finally:
        db.close()


def test_many_keys_are_loaded_at_once_and_an_erased_customer_has_none(
        open_ledger: Callable[..., Ledger], database_url: str) -> None:
    kek = new_key()
    ledger = open_ledger(database_url, kek)
    customers = [register(ledger, distinctive_profile("zh_CN")) for _ in range(3)]
    erase(ledger, customers[0])
    ledger.close()
    # A fresh process (nothing cached) catching up: one query for every customer.
    fresh = open_ledger(database_url, kek)
    assert fresh.keys.prefetch(customers) == 2
    assert fresh.keys.prefetch(customers[1:]) == 0  # already cached
    assert fresh.keys.data_key(customers[0]) is None
    assert all(fresh.keys.data_key(customer_id) for customer_id in customers[1:])


def test_expired_keys_are_swept_from_memory_when_the_cache_grows(
        open_ledger: Callable[..., Ledger], sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = open_ledger(sqlite_url, new_key())
    ledger.keys.cache.seconds = -1.0  # everything cached from now on is already stale
    customers = [register(ledger, distinctive_profile("en_US")) for _ in range(3)]
    assert ledger.keys.prefetch(customers) == 3
    assert len(ledger.keys.cache) > 0
    monkeypatch.setattr("ledger.key_cache.SWEEP_SIZE", 1)
    ledger.keys.prefetch([])
    assert len(ledger.keys.cache) == 0
