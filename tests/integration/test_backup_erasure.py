"""Erasure reaches every backup (BK-3, DL-3): an erasure shreds the key-store backups that
held the customer's key, the erasure register is re-applied by every restore, and no file
a backup or a restore produced holds an erased customer's personal values."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.backup.errors import BackupInvalidError
from ledger.backup.register import update_register
from ledger.crypto import ERASED
from ledger.integrity.keys import create_key_file
from projections.privacy import ErasureCertificate
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests import backup_support
from tests.backup_support import (
    EmptyDatabases,
    backup_bytes,
    digests,
    place_of,
    restore,
    restored_bytes,
)
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.privacy_support import (
    INFO_HEAD,
    ask,
    change,
    distinctive_profile,
    erase,
    leaks,
    personal_values,
    register,
)

# The fixtures this module shares with the other backup tests.
backup_dir = backup_support.backup_dir
empty_databases = backup_support.empty_databases


@pytest.fixture
def live(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
         backup_dir: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var", backup_dir=backup_dir)


def opened(make_ledger: Callable[..., Ledger], live: Ledger, url: str) -> Ledger:
    copy = make_ledger(url, data_dir=live.settings.data_dir)
    copy.runner.catch_up()
    return copy


def view(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = ask(ledger, GetCustomer(customer_id=UUID(customer_id)), INFO_HEAD)
    return answer["customer"]


def reads_erased(customer: dict[str, Any]) -> bool:
    """Erased in the log restored (``erased``, no profile), or by its key alone (a log from
    before the erasure): every personal value ``[erased]``."""
    if customer["erased"]:
        return bool(customer["profile"] == {})
    basic = customer["profile"]["basic"]
    return bool(basic["legal_representative"] == ERASED and basic["address"] == ERASED)


def test_an_erasure_after_a_key_store_backup_makes_that_backup_unreadable(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases
) -> None:
    assert live.backups is not None
    erased = register(live, distinctive_profile("zh_CN"))
    kept = register(live, distinctive_profile("en_US"))
    before = live.backups.events("full", "tester").manifest.backup_id
    old_keys = live.backups.key_store("tester")["backup_id"]

    outcome = erase(live, erased)

    verdicts = {v.backup_id: v.status for v in place_of(live).verify()}
    assert verdicts[old_keys] == "shredded"
    assert sorted(verdicts.values()).count("valid") == 2  # the event backup, the fresh keys
    certificate = ask(live, ErasureCertificate(request_id=UUID(
        outcome["result"]["request_id"])), INFO_HEAD)
    assert certificate["key_store_backups_shredded"] == [old_keys]
    with pytest.raises(BackupInvalidError, match="shredded"):
        restore(live, before, empty_databases.of(live.settings.backend),
                keys_backup_id=old_keys)

    # The event backup taken before the erasure, with the key store as it now stands.
    target = empty_databases.of(live.settings.backend)
    restore(live, before, target)
    copy = opened(make_ledger, live, target)
    assert view(copy, kept) == view(live, kept)
    gone = view(copy, erased)["profile"]
    assert gone["basic"]["legal_representative"] == ERASED
    assert gone["basic"]["phone"] == ERASED
    values = personal_values(distinctive_profile("zh_CN"))
    assert leaks(values, backup_bytes(live) | restored_bytes(target)) == {}


def test_the_register_is_re_applied_when_an_old_key_store_backup_still_held_the_key(
        live: Ledger, make_ledger: Callable[..., Ledger], empty_databases: EmptyDatabases
) -> None:
    assert live.backups is not None
    erased = register(live, distinctive_profile("zh_CN"))
    kept = register(live, distinctive_profile("en_US"))
    full = live.backups.events("full", "tester").manifest.backup_id
    old_keys = live.backups.key_store("tester")["backup_id"]
    # Erased by a process with no backups configured: nothing shreds the old copy then.
    unaware = make_ledger(live.settings.database_url, data_dir=live.settings.data_dir,
                          keystore_url=live.settings.keystore_url)
    erase(unaware, erased)
    # The next backup brings the register up to date from the key store's tombstones.
    incremental = live.backups.events("incremental", "tester").manifest
    assert incremental.erasure_register_version == 1

    for backup_id in (full, incremental.backup_id):
        target = empty_databases.of(live.settings.backend)
        result = restore(live, backup_id, target, keys_backup_id=old_keys)
        assert result["erasures_applied"] == 1
        copy = opened(make_ledger, live, target)
        assert reads_erased(view(copy, erased))
        assert view(copy, kept) == view(live, kept)
        assert copy.keys.is_erased(erased) and copy.keys.data_key(erased) is None

    # The next key-store backup shreds the old one that still holds the erased key.
    assert old_keys in live.backups.key_store("tester")["shredded"]


# Property ------------------------------------------------------------------------------

OPERATIONS = st.lists(st.sampled_from(["register", "change", "erase", "full", "incremental",
                                       "keys"]), min_size=3, max_size=9)


def _profile(tag: str, seed: int) -> dict[str, Any]:
    return make_profile("en_US", seed=seed, basic__legal_representative=f"Rep {tag} Quill",
                        basic__address={"country": "GB", "city": f"Town {tag}",
                                        "street": f"{tag} Lane 7"},
                        other={"special_requirements": f"Gate {tag} ramp only"})


def test_any_restored_chain_verifies_equals_a_rebuild_and_holds_no_erased_plaintext(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
        backup_dir: Path, empty_databases: EmptyDatabases) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"

    @settings(max_examples=5 if backend == "sqlite" else 2, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(operations=OPERATIONS, chosen=st.integers(0, 20), target_backend=st.sampled_from(
        ["sqlite", backend]))
    def scenario(operations: list[str], chosen: int, target_backend: str) -> None:
        run = uuid.uuid4().hex[:8]
        url = (f"sqlite:///{tmp_path / run / 'live.sqlite3'}" if backend == "sqlite"
               else empty_databases.postgres())
        live = make_ledger(url, data_dir=tmp_path / run / "var",
                           backup_dir=backup_dir.with_name(f"events-{run}"))
        assert live.backups is not None
        alive: list[str] = []
        gone: dict[str, set[str]] = {}
        backups: list[str] = []
        for index, operation in enumerate([*operations, "register", "incremental"]):
            if operation == "register" or (operation in ("change", "erase") and not alive):
                tag = f"{run}{index}"
                profile = _profile(tag, index)
                alive.append(register(live, profile))
                gone_values = personal_values(profile)
                gone[alive[-1]] = gone_values
            elif operation == "change":
                change(live, alive[-1], {"basic.legal_representative": f"Rep {run}{index} Z"})
                gone[alive[-1]].add(f"Rep {run}{index} Z")
            elif operation == "erase":
                erase(live, alive.pop(0))
            elif operation == "keys":
                live.backups.key_store("tester")
            else:
                kind = "full" if not backups else operation
                backups.append(live.backups.events(kind, "tester").manifest.backup_id)
        live.backups.key_store("tester")
        erased = {customer: values for customer, values in gone.items()
                  if customer not in alive}

        target = empty_databases.of(target_backend)
        result = restore(live, backups[chosen % len(backups)], target)

        assert result["chain_verified"]
        copy = opened(make_ledger, live, target)
        incremental_digests = digests(copy)
        copy.runner.rebuild()
        assert digests(copy) == incremental_digests
        for customer in erased:
            if copy.store.position_of(UUID(customer)) is not None:
                assert reads_erased(view(copy, customer))
        values = {value for found in erased.values() for value in found}
        assert leaks(values, backup_bytes(live) | restored_bytes(target)) == {}

    scenario()


def test_a_rolled_back_register_is_refused_by_a_restore_and_reported_by_verify(
        live: Ledger, empty_databases: EmptyDatabases) -> None:
    assert live.backups is not None
    erased = register(live, distinctive_profile("zh_CN"))
    live.backups.events("full", "tester")
    register_file = place_of(live).events.path / "erasure-register.json"
    before = register_file.read_bytes()
    erase(live, erased)
    incremental = live.backups.events("incremental", "tester").manifest
    register_file.write_bytes(before)  # an older copy put back: it does not name the erasure
    target = empty_databases.of(live.settings.backend)

    with pytest.raises(BackupInvalidError, match=r"erasure register .* is older"):
        restore(live, incremental.backup_id, target)
    assert incremental.erasure_register_version == 1
    # verify says so too, rather than every backup valid and a restore that is refused
    [verdict] = [v for v in place_of(live).verify()
                  if v.status not in ("valid", "shredded")]
    assert (verdict.backup_id, verdict.status) == ("erasure-register", "invalid")
    assert verdict.reason is not None and incremental.backup_id in verdict.reason
    assert "rolled back" in verdict.reason


def test_key_store_backups_past_their_retention_are_shredded_and_removed(
        live: Ledger, clock: FixedClock) -> None:
    assert live.backups is not None
    register(live, distinctive_profile("zh_CN"))
    first = live.backups.key_store("tester")["backup_id"]
    second = live.backups.key_store("tester")["backup_id"]
    clock.now += timedelta(days=live.policy.backup.keys_retention_days, seconds=1)
    third = live.backups.key_store("tester")

    assert third["removed"] == [first, second]
    assert place_of(live).keys.ids() == [third["backup_id"]]
    assert {first, second} <= place_of(live).ring.shredded()
    clock.now += timedelta(days=live.policy.backup.keys_retention_days, seconds=1)
    assert live.backups.key_store("tester")["removed"] == [third["backup_id"]]


def test_a_register_re_signed_by_another_key_is_refused_by_verify_and_restore(
        live: Ledger, empty_databases: EmptyDatabases, tmp_path: Path) -> None:
    assert live.backups is not None
    erased = register(live, distinctive_profile("zh_CN"))
    erase(live, erased)
    full = live.backups.events("full", "tester").manifest
    register_file = place_of(live).events.path / "erasure-register.json"
    # Whoever can write the backup directory signs a register of their own that names no
    # one (its version is still the backup's, so only the signature can tell).
    register_file.unlink()
    forged = update_register(register_file.parent, [str(uuid.uuid4())],
                             create_key_file(tmp_path / "forger.pem"), datetime.now(UTC))
    assert forged.version == full.erasure_register_version == 1

    [verdict] = [v for v in place_of(live).verify() if v.status not in ("valid", "shredded")]
    assert (verdict.backup_id, verdict.status) == ("erasure-register", "invalid")
    with pytest.raises(BackupInvalidError, match="bad signature"):
        restore(live, full.backup_id, empty_databases.of(live.settings.backend))
