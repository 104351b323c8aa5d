"""The audit index (AU-5): one row per stored event, for filtering the trail by actor,
operation, target and time without replaying the log.

Commands (their command records), customer and deletion events, account changes and access
records (reads, logins, denials) each become one row: position, time, actor, client address,
kind, operation, outcome, and small non-personal facts. The targets (customer ids, account
ids, usernames of logins) sit in a second table so a filter by target uses an index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.domain.access import AccessRecord
from ledger.domain.account import Account
from ledger.domain.customer import Customer
from ledger.domain.deletion import DeletionRequest
from ledger.domain.events import LedgerAggregate
from ledger.domain.export import Export, ExportRequest
from ledger.domain.faults import Fault, Incident
from ledger.sql import Cursor
from projections.projection import Projection, topic_of

# The command bus's records (commands.idempotency): named, since projections sit inwards.
COMMAND_RECORD_TOPIC = "commands.idempotency:CommandRecord.Processed"

_ACCESS_KINDS: dict[type, tuple[str, str]] = {
    AccessRecord.CustomerDataRead: ("read", ""),
    AccessRecord.FullClearanceUsed: ("read", "full-clearance"),
    AccessRecord.PermissionDenied: ("denial", ""),
    AccessRecord.LoginSucceeded: ("login", "login"),
    AccessRecord.LoginFailed: ("login", "login-failed"),
    AccessRecord.LoggedOut: ("login", "logout"),
    AccessRecord.TotpEnrolmentStarted: ("login", "start-totp-enrolment"),
    AccessRecord.TotpEnrolled: ("login", "enrol-totp"),
    AccessRecord.RestoreDrillCompleted: ("operation", "restore-drill"),
    AccessRecord.RefusedUnderLegalHold: ("refusal", ""),
}


def trail_time(moment: datetime) -> str:
    """A fixed-width UTC form, so times compare correctly as text on both backends."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _events_of(*aggregates: type[LedgerAggregate]) -> list[type]:
    return [value for aggregate in aggregates for value in vars(aggregate).values()
            if isinstance(value, type) and issubclass(value, LedgerAggregate.Event)]


_ACCOUNT_EVENTS = frozenset(_events_of(Account))
_RECORD_EVENTS = frozenset(_events_of(Customer, DeletionRequest, Fault, Incident))


def _row(event: Any) -> tuple[str, str, list[str], str, dict[str, Any]]:
    """(kind, operation, targets, outcome, facts) of one event."""
    if type(event) in _ACCESS_KINDS:
        return _access_row(event)
    if type(event) in _EXPORT_EVENTS:
        return _export_row(event)
    owner = type(event).__qualname__
    origin = str(event.originator_id)
    if type(event) in _ACCOUNT_EVENTS:
        facts = {key: getattr(event, key) for key in ("username", "role", "roles", "reason",
                                                       "needs_approval")
                 if hasattr(event, key)}
        return "event", owner, [origin], "ok", facts
    if type(event) in _RECORD_EVENTS:
        customer = getattr(event, "customer_id", None)
        return "event", owner, [origin, *([str(customer)] if customer else [])], "ok", {}
    outcome = getattr(event, "outcome", {}) or {}
    aggregate = outcome.get("aggregate_id")
    return ("command", str(getattr(event, "command", "")), [aggregate] if aggregate else [],
            str(outcome.get("status", "accepted")), {})


def _access_row(event: Any) -> tuple[str, str, list[str], str, dict[str, Any]]:
    kind, operation = _ACCESS_KINDS[type(event)]
    if isinstance(event, AccessRecord.CustomerDataRead):
        return (kind, event.operation, list(event.customer_ids), event.outcome,
                {"revealed_fields": list(event.revealed_fields)})
    if isinstance(event, AccessRecord.FullClearanceUsed):
        return kind, operation, [], "ok", {"purpose": event.purpose}
    if isinstance(event, AccessRecord.RestoreDrillCompleted):
        return (kind, operation, [event.backup_id], event.outcome.split(":")[0],
                {"restored_position": event.restored_position,
                 "head_position": event.head_position, "rto_seconds": event.rto_seconds,
                 "mismatched": list(event.mismatched)})
    if isinstance(event, AccessRecord.PermissionDenied):
        return (kind, event.operation, [event.target] if event.target else [],
                "permission_denied", {"roles": list(event.roles)})
    if isinstance(event, AccessRecord.RefusedUnderLegalHold):
        return (kind, event.operation, [t for t in (event.target, event.customer_id) if t],
                "workflow_violation", {"hold_id": event.hold_id})
    facts: dict[str, Any] = {"username": event.username}
    outcome = "ok"
    if isinstance(event, AccessRecord.LoginFailed):
        outcome, facts = "failed", facts | {"reason": event.reason}
    return kind, operation, [event.username], outcome, facts


# EX-3: every export, and every one filed for approval, listed as operation "export".
_EXPORT_OUTCOMES: dict[type, str] = {
    Export.Produced: "ok", ExportRequest.Filed: "pending_approval",
    ExportRequest.Approved: "approved", ExportRequest.Used: "used",
}
_EXPORT_EVENTS = frozenset(_EXPORT_OUTCOMES)
_EXPORT_FACTS = ("purpose", "criteria", "fields", "masked_fields", "format", "rows",
                 "canaries", "sha256", "query_hash", "reflects_position", "request_id",
                 "customers", "position", "approved_by", "export_id")


def _export_row(event: Any) -> tuple[str, str, list[str], str, dict[str, Any]]:
    facts = {key: getattr(event, key) for key in _EXPORT_FACTS if hasattr(event, key)}
    facts["export_id" if isinstance(event, Export.Produced) else "request_id"] = str(
        event.originator_id)
    return "export", "export", [str(event.originator_id)], _EXPORT_OUTCOMES[type(event)], facts


class AuditTrail(Projection):
    """Every command, domain event and access record, indexed for the auditor's trail."""

    name = "audit_trail"
    tables = ("audit_trail", "audit_trail_targets")
    topics = frozenset([COMMAND_RECORD_TOPIC] + [topic_of(cls) for cls in _events_of(
        Customer, DeletionRequest, Account, AccessRecord, Fault, Incident, Export,
        ExportRequest)])

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS audit_trail (
                position BIGINT PRIMARY KEY,
                recorded_at TEXT NOT NULL,
                actor TEXT,
                client_address TEXT,
                kind TEXT NOT NULL,
                operation TEXT NOT NULL,
                command_id TEXT,
                reason TEXT,
                outcome TEXT NOT NULL,
                targets TEXT NOT NULL,
                facts TEXT NOT NULL
            )""")
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS audit_trail_targets (
                target TEXT NOT NULL,
                position BIGINT NOT NULL,
                PRIMARY KEY (target, position)
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS audit_trail_time "
                       "ON audit_trail (recorded_at)")
        cursor.execute("CREATE INDEX IF NOT EXISTS audit_trail_actor "
                       "ON audit_trail (actor, recorded_at)")

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        # Every event only adds rows, so a batch is two bulk inserts.
        rows: list[tuple[Any, ...]] = []
        target_rows: list[tuple[Any, ...]] = []
        for event, position in events:
            kind, operation, targets, outcome, facts = _row(event)
            meta = getattr(event, "meta", {}) or {}
            rows.append((position, trail_time(event.timestamp), meta.get("actor"),
                         meta.get("client_address"), kind, operation, meta.get("command_id"),
                         _stored_reason(meta.get("reason")), outcome, json.dumps(targets),
                         json.dumps(facts)))
            target_rows.extend((target, position) for target in dict.fromkeys(targets))
        cursor.insert_rows("audit_trail", _TRAIL_COLUMNS, rows)
        cursor.insert_rows("audit_trail_targets", ("target", "position"), target_rows)


def _stored_reason(reason: Any) -> str | None:
    """A reason as the index keeps it: sealed ones as the JSON of their envelope (opened per
    read, so an erasure takes them here too), plaintext ones as they are."""
    return json.dumps(reason) if isinstance(reason, dict) else reason


_TRAIL_COLUMNS = ("position", "recorded_at", "actor", "client_address", "kind", "operation",
                  "command_id", "reason", "outcome", "targets", "facts")
