"""A registration that saves nothing keeps no key: replays and refusals give the id they
took back to the spares, so the key store counts one key per customer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.domain.errors import ConflictError
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.client_retry import NO_RETRY
from tests.conftest import ALICE
from tests.factories import make_profile


def _client(ledger: Ledger) -> LedgerClient:
    return LedgerClient.in_process(ledger, ALICE.id, roles=sorted(ALICE.roles),
                                   department=ALICE.department, retry=NO_RETRY)


def test_replays_of_a_registration_leave_one_key(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_ledger(database_url)
    client = _client(ledger)
    profile = make_profile(seed=11)

    first = client.register_customer(profile, command_id="import-row-1")
    replays = [client.register_customer(profile, command_id="import-row-1") for _ in range(5)]

    assert all(replay["replayed"] for replay in replays)
    assert {replay["aggregate_id"] for replay in replays} == {first["aggregate_id"]}
    assert ledger.keys.status()["active_keys"] == 1


def test_a_refused_registration_leaves_no_key(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_ledger(database_url)
    client = _client(ledger)
    client.register_customer(make_profile(seed=12), command_id="import-row-2")

    with pytest.raises(ConflictError):
        # The same command id for a different registration is refused.
        client.register_customer(make_profile(seed=13), command_id="import-row-2")

    assert ledger.keys.status()["active_keys"] == 1


def test_after_a_restart_the_key_store_counts_one_key_per_customer(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_ledger(database_url)
    client = _client(ledger)
    for number in range(3):
        for _ in range(3):
            client.register_customer(make_profile(seed=20 + number),
                                     command_id=f"import-row-{20 + number}")
    ledger.close()

    reopened = make_ledger(database_url)

    assert reopened.keys.status() | {"kek_id": None} == {
        "active_keys": 3, "reserved_keys": 0, "destroyed_keys": 0, "kek_id": None}
