"""The export routes (EX-1..EX-4): ``POST /exports`` runs ``ExportCustomers`` and answers
with the file, ``POST /exports/reports`` the same for a report; ``POST /exports/identify``
names the export a leaked file came from. Approving an export request is a plain command
(``POST /commands/approve-export``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from commands.exports import ExportCustomers, ExportReport
from ledger.domain.errors import ConflictError, NotFoundError, WorkflowViolationError
from projections.export_identify import IdentifyAnswer, IdentifyExport
from service.export_answer import ExportAnswer, export_answer
from service.http_auth import ActorDep, LedgerDep
from service.http_contract import raises


def exports_router() -> APIRouter:
    router = APIRouter(prefix="/exports", tags=["exports"])

    @router.post("", response_model=ExportAnswer, operation_id="export")
    # An approved request that does not exist, whose rows changed, or is used or unapproved.
    @raises(NotFoundError, ConflictError, WorkflowViolationError)
    def export(command: ExportCustomers, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
        """Export the customers a filter selects, masked, traced and audited (EX-1..EX-3)."""
        outcome = ledger.bus.execute(command, actor)
        return export_answer(outcome, ledger.exports.take(command.command_id))

    @router.post("/reports", response_model=ExportAnswer, operation_id="export-report")
    def export_report(command: ExportReport, ledger: LedgerDep, actor: ActorDep
                      ) -> dict[str, Any]:
        """Export a report (OP-3) to a file with its visible mark, audited (EX-1, EX-3)."""
        outcome = ledger.bus.execute(command, actor)
        return export_answer(outcome, ledger.exports.take(command.command_id))

    @router.post("/identify", response_model=IdentifyAnswer, operation_id="identify-export")
    def identify(query: IdentifyExport, ledger: LedgerDep, actor: ActorDep) -> Any:
        """Name the export a file, or a part of one, came from (EX-4)."""
        return ledger.bus.ask(query, actor)

    return router
