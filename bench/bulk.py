"""Stores filled in bulk, untimed: real ledger events without the bus's per-command costs.

Registering 50,000 customers through the bus takes minutes; the benchmarks that need a
big store (catch-up, cost growth) build it here instead, from the same pieces the
``register-customer`` handler and the bus use: the profile validated and sealed with the
customer's own data key (``ProfileProtector.seal_profile``), ``Customer.register``, and a
``CommandRecord`` beside each registration, so the log has the shape the bus gives it (two
events per registration). The data keys are made up front and written in one transaction
instead of one transaction (and two reads) per customer; everything else is the real code.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.context import CLERK
from commands.idempotency import CommandRecord, fingerprint
from commands.models import RegisterCustomer
from ledger.crypto import key_id_of, new_data_key, wrap
from ledger.domain.customer import Customer
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.domain.profile import validate_profile
from ledger.keystore import KeyStore
from ledger.protection import ProfileProtector
from ledger.service.bootstrap import Ledger
from ledger.service.key_material import load_kek
from ledger.settings import sqlite_path_of

SAVE_BATCH = 500  # aggregates per store.save: one transaction of ~500 events
VERIFIER = "bench-verifier"

INSERT_KEY = ("INSERT INTO data_keys (customer_id, key_id, wrapped, kek_id, created_at) "
              "VALUES ({p}, {p}, {p}, {p}, {p})")


class PreparedKeys(KeyStore):
    """The ledger's key store, with the data keys of the customers about to be registered
    made in advance and inserted in one transaction; sealing then finds them in memory."""

    def __init__(self, ledger: Ledger, customer_ids: Sequence[uuid.UUID]) -> None:
        kek = load_kek(ledger.settings)
        super().__init__(ledger.keys.db, kek)
        now = datetime.now(UTC).isoformat()
        self._prepared: dict[str, tuple[str, AESGCM]] = {}
        rows = []
        for customer_id in map(str, customer_ids):
            key = new_data_key()
            key_id = key_id_of(key, "data")
            self._prepared[customer_id] = (key_id, AESGCM(key))
            rows.append((customer_id, key_id, wrap(kek, key), self.kek_id, now))
        insert_rows(ledger.settings.effective_keystore_url, INSERT_KEY, rows)

    def create(self, customer_id: str) -> str:
        return self._prepared[customer_id][0]

    def cipher(self, customer_id: str) -> tuple[str, AESGCM] | None:
        return self._prepared[customer_id]


def insert_rows(database_url: str, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``statement`` (with ``{p}`` placeholders) for every row, in one transaction."""
    if database_url.startswith("sqlite"):
        lite = sqlite3.connect(str(sqlite_path_of(database_url)), isolation_level=None,
                               timeout=10)
        try:
            lite.execute("BEGIN IMMEDIATE")
            lite.executemany(statement.format(p="?"), rows)
            lite.execute("COMMIT")
        finally:
            lite.close()
    else:
        with psycopg.connect(database_url) as pg, pg.cursor() as cursor:
            cursor.executemany(statement.format(p="%s"), rows)


def register_in_bulk(ledger: Ledger, profiles: Sequence[dict[str, Any]], count: int,
                     progress: Callable[[str], None] | None = None) -> list[uuid.UUID]:
    """``count`` customers registered (profiles reused in turn), each with its command
    record, saved ``SAVE_BATCH`` at a time; returns their ids in log order."""
    ids = [uuid.uuid4() for _ in range(count)]
    original = ledger.protector
    protector = ProfileProtector(PreparedKeys(ledger, ids), original.index,
                                 list(original.personal_paths))
    mandatory = ledger.policy.mandatory_fields
    normalised = [validate_profile(profile, mandatory) for profile in profiles]
    keyed = original.index.keyed_hash
    for start in range(0, count, SAVE_BATCH):
        if progress is not None:
            progress(f"registering in bulk: {start:,}/{count:,}")
        batch: list[Any] = []
        for index in range(start, min(count, start + SAVE_BATCH)):
            customer_id, profile = ids[index], normalised[index % len(normalised)]
            command = RegisterCustomer(profile=profile)
            digest = fingerprint(command.name, CLERK, command.fingerprint_payload(), keyed)
            metadata = EventMetadata(actor=CLERK, command_id=command.command_id,
                                     correlation_id=command.command_id)
            with recording_as(metadata):
                customer = Customer.register(protector.seal_profile(str(customer_id), profile),
                                             customer_id=customer_id)
                outcome = {"command_id": command.command_id, "command": command.name,
                           "status": "accepted", "aggregate_id": str(customer_id),
                           "version": 1, "result": {"customer_id": str(customer_id)},
                           "replayed": False}
                record = CommandRecord.processed(command.command_id, command.name, digest,
                                                 outcome)
            batch += [customer, record]
        ledger.store.save(*batch)
    return ids


def lengthen(ledger: Ledger, customer_ids: Sequence[uuid.UUID], events: int) -> None:
    """Grow each customer to about ``events`` events with propose + verify pairs (a clerk
    renames, another verifies), built with the domain methods and saved per customer; the
    store takes a snapshot every 100 events as it does for commands."""
    today = date.today()
    for customer_id in customer_ids:
        customer: Any = ledger.store.repository.get(customer_id)
        current = ledger.protector.open_profile(str(customer_id), customer.profile)
        with recording_as(EventMetadata(actor=CLERK)):
            for step in range((events - customer.version) // 2):
                changes = ledger.protector.seal_changes(
                    str(customer_id), {"basic.name": f"{current['basic']['name']} {step}"},
                    current)
                proposal = customer.propose_change(changes, happened_on=today,
                                                   proposed_by=CLERK, today=today)
                customer.verify_change(proposal, verified_by=VERIFIER)
        ledger.store.save(customer)
