"""The fault and incident register as read models (FT-3, IR-1), and its queries: the faults
(open, overdue against a clock, or all) and the incidents with their response steps."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from ledger.domain.faults import Fault, Incident
from ledger.sql import Cursor
from projections.answers import Answer, Reflecting
from projections.projection import EventByEventProjection, topic_of
from projections.queries import Query
from projections.reading import ReadModels


def _utc(text: str) -> str:
    """A fixed-width UTC form, so moments compare correctly as text on both backends."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FaultRegister(EventByEventProjection):
    name = "faults"
    tables = ("faults", "incidents")
    topics = frozenset(topic_of(cls) for cls in (
        Fault.Reported, Fault.Acknowledged, Fault.ActionRecorded, Fault.Resolved,
        Incident.Reported, Incident.StepRecorded, Incident.LockTaken, Incident.Closed))

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS faults (
                fault_id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                severity TEXT NOT NULL,
                symptom TEXT NOT NULL,
                impact TEXT NOT NULL,
                started_at TEXT NOT NULL,
                reported_at TEXT NOT NULL,
                reported_by TEXT NOT NULL,
                due_by TEXT NOT NULL,
                alert TEXT,
                alert_fingerprint TEXT,
                acknowledged_by TEXT,
                acknowledged_at TEXT,
                actions TEXT NOT NULL,
                resolution TEXT,
                evidence TEXT,
                resolved_by TEXT,
                resolved_at TEXT
            )""")
        cursor.execute("CREATE INDEX IF NOT EXISTS faults_open ON faults (status, due_by)")
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS incidents (
                incident_id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                summary TEXT NOT NULL,
                detected_at TEXT NOT NULL,
                reported_at TEXT NOT NULL,
                reported_by TEXT NOT NULL,
                steps TEXT NOT NULL,
                resolution TEXT,
                closed_at TEXT
            )""")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        at = _utc(event.timestamp.isoformat())
        key = {"id": str(event.originator_id), "at": at}
        if isinstance(event, Fault.Reported):
            cursor.execute(
                "INSERT INTO faults (fault_id, status, severity, symptom, impact, started_at,"
                " reported_at, reported_by, due_by, alert, alert_fingerprint, actions) VALUES"
                " (:id, 'reported', :severity, :symptom, :impact, :started, :at, :by, :due,"
                " :alert, :fingerprint, '[]')",
                key | {"severity": event.severity, "symptom": event.symptom,
                       "impact": event.impact, "started": _utc(event.started_at),
                       "by": event.reported_by, "due": _utc(event.due_by),
                       "alert": event.alert, "fingerprint": event.alert_fingerprint})
        elif isinstance(event, Fault.Acknowledged):
            cursor.execute("UPDATE faults SET status = 'acknowledged', acknowledged_by = :by,"
                           " acknowledged_at = :at WHERE fault_id = :id",
                           key | {"by": event.acknowledged_by})
        elif isinstance(event, Fault.ActionRecorded):
            self._append(cursor, "faults", "fault_id", "actions", key,
                         {"action": event.action, "by": event.recorded_by, "at": at})
        elif isinstance(event, Fault.Resolved):
            cursor.execute("UPDATE faults SET status = 'resolved', resolution = :resolution,"
                           " evidence = :evidence, resolved_by = :by, resolved_at = :at"
                           " WHERE fault_id = :id",
                           key | {"resolution": event.resolution, "evidence": event.evidence,
                                  "by": event.resolved_by})
        else:
            self._apply_incident(cursor, event, key)

    def _apply_incident(self, cursor: Cursor, event: Any, key: dict[str, str]) -> None:
        if isinstance(event, Incident.Reported):
            cursor.execute(
                "INSERT INTO incidents (incident_id, kind, summary, detected_at, reported_at,"
                " reported_by, steps) VALUES (:id, :kind, :summary, :detected, :at, :by, '[]')",
                key | {"kind": event.kind, "summary": event.summary,
                       "detected": _utc(event.detected_at), "by": event.reported_by})
        elif isinstance(event, Incident.StepRecorded):
            self._append(cursor, "incidents", "incident_id", "steps", key,
                         {"step": event.step, "by": event.recorded_by, "at": key["at"]})
        elif isinstance(event, Incident.LockTaken):
            self._append(cursor, "incidents", "incident_id", "steps", key,
                         {"step": "lock", "target": event.target, "locked": event.locked,
                          "by": event.taken_by, "at": key["at"]})
        elif isinstance(event, Incident.Closed):
            cursor.execute("UPDATE incidents SET resolution = :resolution, closed_at = :at"
                           " WHERE incident_id = :id", key | {"resolution": event.resolution})

    @staticmethod
    def _append(cursor: Cursor, table: str, id_column: str, column: str,
                key: dict[str, str], entry: dict[str, Any]) -> None:
        row = cursor.one(f"SELECT {column} FROM {table} WHERE {id_column} = :id",  # noqa: S608
                         key)
        entries = [*json.loads(row[0]), entry] if row else [entry]
        cursor.execute(f"UPDATE {table} SET {column} = :entries "  # noqa: S608
                       f"WHERE {id_column} = :id", key | {"entries": json.dumps(entries)})


# Queries ---------------------------------------------------------------------

class FaultEntry(Answer):
    fault_id: str
    status: str = Field(description="reported, acknowledged or resolved")
    severity: str = Field(description="general or complex")
    symptom: str
    impact: str
    started_at: str
    reported_at: str
    reported_by: str
    due_by: str = Field(description="The repair deadline, in working hours (FT-3).")
    overdue: bool
    alert: str | None = Field(description="The alert that opened the fault, if one did.")
    actions: list[dict[str, Any]]
    resolution: str | None


class FaultsAnswer(Reflecting):
    faults: list[FaultEntry]
    now: str = Field(description="The moment overdue was judged at.")


class IncidentEntry(Answer):
    incident_id: str
    kind: str = Field(description="attack, data_leak or system_failure")
    summary: str
    detected_at: str
    reported_at: str
    reported_by: str
    steps: list[dict[str, Any]] = Field(description="Response steps, locks among them.")
    closed: bool
    resolution: str | None


class IncidentsAnswer(Reflecting):
    incidents: list[IncidentEntry]


class ListFaults(Query):
    """Faults in the register: the open ones by default, or only the overdue ones."""

    name = "list-faults"
    answer = FaultsAnswer
    status: Literal["open", "overdue", "all"] = "open"
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


class ListIncidents(Query):
    """Security incidents with their response steps, newest first."""

    name = "list-incidents"
    answer = IncidentsAnswer
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many.")


FAULT_QUERIES: dict[str, type[Query]] = {cls.name: cls for cls in (ListFaults, ListIncidents)}

_FAULT_COLUMNS = ("fault_id, status, severity, symptom, impact, started_at, reported_at, "
                  "reported_by, due_by, alert, actions, resolution")


class FaultQueries:
    """Answers the register's queries; overdue is judged against ``now``."""

    def __init__(self, read: ReadModels, now: Callable[[], datetime]) -> None:
        self.read = read
        self.now = now

    def list_faults(self, query: ListFaults) -> dict[str, Any]:
        now = _utc(self.now().isoformat())
        where = {"open": "status <> 'resolved'", "all": "1 = 1",
                 "overdue": "status <> 'resolved' AND due_by < :now"}[query.status]
        with self.read.reading(query, "faults") as (cursor, position):
            rows = cursor.all(f"SELECT {_FAULT_COLUMNS} FROM faults WHERE {where}"  # noqa: S608
                              " ORDER BY due_by, fault_id LIMIT :limit",
                              {"now": now, "limit": query.limit})
        return {"faults": [self._fault(row, now) for row in rows], "now": now,
                "reflects_position": position}

    @staticmethod
    def _fault(row: tuple[Any, ...], now: str) -> dict[str, Any]:
        fault = dict(zip(_FAULT_COLUMNS.split(", "), row, strict=True))
        fault["actions"] = json.loads(fault["actions"])
        fault["overdue"] = fault["status"] != "resolved" and fault["due_by"] < now
        return fault

    def list_incidents(self, query: ListIncidents) -> dict[str, Any]:
        columns = ("incident_id, kind, summary, detected_at, reported_at, reported_by, steps,"
                   " resolution, closed_at")
        with self.read.reading(query, "faults") as (cursor, position):
            rows = cursor.all(f"SELECT {columns} FROM incidents"  # noqa: S608
                              " ORDER BY reported_at DESC, incident_id LIMIT :limit",
                              {"limit": query.limit})
        incidents = []
        for row in rows:
            incident = dict(zip(columns.split(", "), row, strict=True))
            incident["steps"] = json.loads(incident["steps"])
            incident["closed"] = incident.pop("closed_at") is not None
            incidents.append(incident)
        return {"incidents": incidents, "reflects_position": position}

    def count_overdue(self) -> int:
        """How many open faults are past their repair deadline now (for the alert rule)."""
        with self.read.views.snapshot() as cursor:
            row = cursor.one("SELECT COUNT(*) FROM faults WHERE status <> 'resolved'"
                             " AND due_by < :now", {"now": _utc(self.now().isoformat())})
        return int(row[0]) if row else 0

    def handlers(self) -> dict[type[Query], Callable[[Any], Any]]:
        return {ListFaults: self.list_faults, ListIncidents: self.list_incidents}
