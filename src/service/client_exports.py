"""The export methods of ``LedgerClient`` (EX-1..EX-4), plain types in and out."""

from __future__ import annotations

import base64
from typing import Any
from uuid import uuid4

from service.client_transport import Transport


class ExportMethods:
    """Export customers, approve a large export, and name the export a file came from."""

    transport: Transport

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError

    def export_customers(self, fields: list[str], *, purpose: str, format: str = "csv",
                         filter: dict[str, Any] | None = None, request_id: str | None = None,
                         command_id: str | None = None) -> dict[str, Any]:
        """Export the customers ``filter`` selects; the answer's ``content`` holds the file
        (None while the export waits for approval: its ``request_id`` names the request)."""
        payload: dict[str, Any] = {
            "command_id": command_id or str(uuid4()), "fields": fields, "purpose": purpose,
            "format": format, "filter": filter or {}}
        if request_id is not None:
            payload["request_id"] = request_id
        answer = self.transport.export(payload)
        file = answer.get("file")
        return answer | {"content": base64.b64decode(file["content_base64"]) if file else None}

    def export_report(self, report: str, *, purpose: str, format: str = "csv",
                      params: dict[str, str] | None = None, command_id: str | None = None
                      ) -> dict[str, Any]:
        """Export the report ``report`` (customers, review-coverage, ...) to a traced file;
        the answer's ``content`` holds it."""
        answer = self.transport.export({
            "command_id": command_id or str(uuid4()), "report": report, "purpose": purpose,
            "format": format, "params": params or {}}, "export-report")
        file = answer.get("file")
        return answer | {"content": base64.b64decode(file["content_base64"]) if file else None}

    def approve_export(self, request_id: str, *, command_id: str | None = None,
                       reason: str | None = None) -> dict[str, Any]:
        """Approve someone else's export request (the bulk-export privilege)."""
        return self._command("approve-export", request_id=request_id, command_id=command_id,
                             reason=reason)

    def identify_export(self, content: bytes) -> dict[str, Any]:
        """Which export a file, or a part of one, came from, by its trace marks."""
        return self.transport.identify(
            {"content_base64": base64.b64encode(content).decode()})
