"""Command records: the first outcome of each command id, saved with the command's events.

The record is an aggregate whose id derives from the command id, so the database's
unique (id, version) key refuses a second record for the same command, on any backend
and across service instances; no process lock is involved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.events import LedgerAggregate

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:customer-ledger:command")


def command_record_id(command_id: str) -> UUID:
    return uuid5(_NAMESPACE, command_id)


def fingerprint(command_name: str, actor: str, payload: dict[str, Any],
                keyed_hash: Callable[[bytes], str] | None = None) -> str:
    canonical = json.dumps([command_name, actor, payload], sort_keys=True,
                           separators=(",", ":")).encode()
    return keyed_hash(canonical) if keyed_hash else hashlib.sha256(canonical).hexdigest()


class CommandRecord(LedgerAggregate):
    """That a command id was processed, a fingerprint of what it asked, and what it returned."""

    class Processed(LedgerAggregate.Created):
        command: str
        fingerprint: str
        outcome: dict[str, Any]

        def apply(self, record: CommandRecord) -> None:
            record.command = self.command
            record.fingerprint = self.fingerprint
            record.outcome = self.outcome

    def __init__(self) -> None:
        self.command = ""
        self.fingerprint = ""
        self.outcome: dict[str, Any] = {}

    @classmethod
    def processed(cls, command_id: str, command: str, digest: str,
                  outcome: dict[str, Any]) -> CommandRecord:
        record: CommandRecord = cls._create(
            cls.Processed, id=command_record_id(command_id),
            command=command, fingerprint=digest, outcome=outcome,
        )
        return record
