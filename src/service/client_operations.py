"""The operations methods of ``LedgerClient`` (FT-3, IR-1): the fault and incident register,
and the metrics text over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.faults import ListFaults, ListIncidents
from projections.queries import Query


class OperationsMethods:
    """Faults, incidents and metrics."""

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    # Faults ------------------------------------------------------------------

    def report_fault(self, symptom: str, started_at: datetime | str, impact: str, *,
                     severity: str = "general", command_id: str | None = None
                     ) -> dict[str, Any]:
        """Record a fault; the outcome's ``result`` holds its ``fault_id`` and ``due_by``."""
        return self._command("report-fault", symptom=symptom, impact=impact,
                             started_at=_moment(started_at), severity=severity,
                             command_id=command_id)

    def acknowledge_fault(self, fault_id: str, *, command_id: str | None = None
                          ) -> dict[str, Any]:
        """Say that you are handling the fault."""
        return self._command("acknowledge-fault", fault_id=fault_id, command_id=command_id)

    def record_fault_action(self, fault_id: str, action: str, *,
                            command_id: str | None = None) -> dict[str, Any]:
        """Record one step taken on the fault."""
        return self._command("record-fault-action", fault_id=fault_id, action=action,
                             command_id=command_id)

    def resolve_fault(self, fault_id: str, resolution: str, *, evidence: str | None = None,
                      command_id: str | None = None) -> dict[str, Any]:
        """Close the fault with its resolution and evidence."""
        return self._command("resolve-fault", fault_id=fault_id, resolution=resolution,
                             evidence=evidence, command_id=command_id)

    def list_faults(self, status: str = "open", *, limit: int = 100,
                    min_position: int | None = None) -> dict[str, Any]:
        """Faults: ``open`` (default), ``overdue`` (past their repair deadline) or ``all``."""
        return self._query(ListFaults, status=status, limit=limit, min_position=min_position)

    # Incidents ---------------------------------------------------------------

    def report_incident(self, kind: str, summary: str, detected_at: datetime | str, *,
                        command_id: str | None = None) -> dict[str, Any]:
        """Record a security incident (attack, data_leak, system_failure)."""
        return self._command("report-incident", kind=kind, summary=summary,
                             detected_at=_moment(detected_at), command_id=command_id)

    def record_incident_step(self, incident_id: str, step: str, *,
                             command_id: str | None = None) -> dict[str, Any]:
        """Record one response step taken for the incident."""
        return self._command("record-incident-step", incident_id=incident_id, step=step,
                             command_id=command_id)

    def lock_for_incident(self, incident_id: str, *, username: str | None = None,
                          role: str | None = None, command_id: str | None = None
                          ) -> dict[str, Any]:
        """Lock an account or every holder of a role in one step, recorded on the incident."""
        return self._command("lock-for-incident", incident_id=incident_id, username=username,
                             role=role, command_id=command_id)

    def close_incident(self, incident_id: str, resolution: str, *,
                       command_id: str | None = None) -> dict[str, Any]:
        """Close the incident with how it ended."""
        return self._command("close-incident", incident_id=incident_id,
                             resolution=resolution, command_id=command_id)

    def list_incidents(self, *, limit: int = 100, min_position: int | None = None
                       ) -> dict[str, Any]:
        """Security incidents with their response steps, newest first."""
        return self._query(ListIncidents, limit=limit, min_position=min_position)


def _moment(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value
