"""What an export answers, on every transport: the command's outcome, and the file itself
when one was produced by this call (a retried command id answers the first outcome, and
no file: the file is handed out once)."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, Field

from commands.exports import ExportFile


class ExportedFile(BaseModel):
    filename: str
    media_type: str
    content_base64: str = Field(description="The file's bytes, base64.")


class ExportAnswer(BaseModel):
    """An export's outcome: ``exported`` with its file, or ``pending_approval`` with the
    request to approve (EX-2)."""

    command_id: str
    status: str = Field(description="exported or pending_approval")
    position: int = Field(description="The event position of the audit record.")
    replayed: bool = Field(description="True when a retry answered the earlier outcome "
                                       "(the file is then not sent again).")
    export_id: str | None = None
    request_id: str | None = None
    result: dict[str, Any] = Field(description="Row count, SHA-256, masked fields, query "
                                               "hash and the position the file reflects.")
    file: ExportedFile | None = None


def export_answer(outcome: dict[str, Any], file: ExportFile | None) -> dict[str, Any]:
    result = outcome["result"]
    return {
        "command_id": outcome["command_id"], "status": result["status"],
        "position": outcome["position"], "replayed": outcome["replayed"],
        "export_id": result.get("export_id"), "request_id": result.get("request_id"),
        "result": result,
        "file": None if file is None or outcome["replayed"] else {
            "filename": file.filename, "media_type": file.media_type,
            "content_base64": base64.b64encode(file.content).decode()},
    }
