"""Stores filled in bulk, untimed: real ledger events without the bus's per-command costs.

Registering 50,000 customers through the bus takes minutes; the benchmarks that need a
big store (catch-up, cost growth) build it here instead, from the same pieces the
``register-customer`` handler and the bus use: the profile validated and sealed with the
customer's own data key (``ProfileProtector.seal_profile``), ``Customer.register``, and a
``CommandRecord`` beside each registration, so the log has the shape the bus gives it (two
events per registration). The data keys come from the key store's ids made ahead, 64 in
a transaction, as a registration's do; everything else is the real code too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from bench.context import CLERK
from commands.idempotency import CommandRecord, fingerprint
from commands.models import RegisterCustomer
from ledger.domain.customer import Customer
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.domain.profile import validate_profile
from service.bootstrap import Ledger

SAVE_BATCH = 500  # aggregates per store.save: one transaction of ~500 events
VERIFIER = "bench-verifier"


def register_in_bulk(ledger: Ledger, profiles: Sequence[dict[str, Any]], count: int,
                     progress: Callable[[str], None] | None = None) -> list[uuid.UUID]:
    """``count`` customers registered (profiles reused in turn), each with its command
    record, saved ``SAVE_BATCH`` at a time; returns their ids in log order."""
    protector = ledger.protector
    mandatory = ledger.policy.mandatory_fields
    normalised = [validate_profile(profile, mandatory) for profile in profiles]
    keyed = protector.keyed_hash
    ids: list[uuid.UUID] = []
    for start in range(0, count, SAVE_BATCH):
        if progress is not None:
            progress(f"registering in bulk: {start:,}/{count:,}")
        batch: list[Any] = []
        for index in range(start, min(count, start + SAVE_BATCH)):
            # As the handler does: an id whose key the key store made ahead, in batches.
            customer_id = protector.new_customer_id()
            profile = normalised[index % len(normalised)]
            ids.append(customer_id)
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
