"""Approval above a size (EX-2), on SQLite and PostgreSQL: an export of more customers than
the policy's threshold is filed, approved by someone else with the bulk-export privilege,
bound to the exact query, fields and position, and run once by its requester."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.errors import ConflictError, PermissionDeniedError, WorkflowViolationError
from ledger.domain.export import Export, ExportRequest
from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery
from service.bootstrap import Ledger
from tests.conftest import FixedClock
from tests.integration.export_support import (
    APPROVER,
    CLERK,
    exporter,
    policy_with_threshold,
    register_customers,
)
from tests.store_snapshot import only_a_denial_recorded, snapshot_store, store_unchanged

FIELDS = ["basic.name", "source_channel"]


@pytest.fixture
def small_threshold(make_ledger: Callable[..., Ledger], database_url: str,
                    tmp_path: Path) -> Ledger:
    ledger = make_ledger(database_url, policy_file=policy_with_threshold(tmp_path, 3))
    register_customers(ledger, 5)
    return ledger


def _all(ledger: Ledger, kind: type) -> list[Any]:
    return [event for record in snapshot_store(ledger.store).events
            if isinstance(event := record.decode(ledger.store), kind)]


def _file(ledger: Ledger, **options: Any) -> dict[str, Any]:
    return exporter(ledger).export_customers(FIELDS, purpose="annual mailing", **options)


def test_a_large_export_is_filed_for_approval_not_run(small_threshold: Ledger) -> None:
    filed = _file(small_threshold)
    assert filed["status"] == "pending_approval" and filed["content"] is None
    assert filed["result"]["customers"] == 5
    assert filed["result"]["approval_threshold"] == 3
    assert _all(small_threshold, Export.Produced) == []
    [request] = _all(small_threshold, ExportRequest.Filed)
    assert request.requested_by == CLERK.id


def test_someone_else_with_the_privilege_approves_and_the_requester_runs_it_once(
        small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    exporter(small_threshold, APPROVER).approve_export(request_id)
    run = _file(small_threshold, request_id=request_id)
    assert run["status"] == "exported" and run["result"]["rows"] == 5
    assert run["result"]["request_id"] == request_id
    with store_unchanged(small_threshold.store), pytest.raises(WorkflowViolationError,
                                                               match="used already"):
        _file(small_threshold, request_id=request_id)


def test_an_approval_bound_to_one_query_refuses_another(small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    exporter(small_threshold, APPROVER).approve_export(request_id)
    client = exporter(small_threshold)
    with store_unchanged(small_threshold.store), pytest.raises(WorkflowViolationError,
                                                               match="another query"):
        client.export_customers([*FIELDS, "basic.phone"], purpose="annual mailing",
                                request_id=request_id)
    with store_unchanged(small_threshold.store), pytest.raises(WorkflowViolationError,
                                                               match="another query"):
        client.export_customers(FIELDS, purpose="annual mailing",
                                filter={"source_channel": "sales"}, request_id=request_id)


def test_an_approval_refuses_once_the_rows_it_selected_changed(
        small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    exporter(small_threshold, APPROVER).approve_export(request_id)
    register_customers(small_threshold, 1, first_seed=40)
    with store_unchanged(small_threshold.store), pytest.raises(ConflictError):
        _file(small_threshold, request_id=request_id)


def test_an_unapproved_request_does_not_run(small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    with store_unchanged(small_threshold.store), pytest.raises(WorkflowViolationError,
                                                               match="not approved"):
        _file(small_threshold, request_id=request_id)


def test_the_requester_cannot_approve_their_own_request(small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    both = CLERK.__class__(CLERK.id, CLERK.roles | {"bulk_export"})
    with only_a_denial_recorded(small_threshold.store), pytest.raises(PermissionDeniedError):
        exporter(small_threshold, both).approve_export(request_id)


def test_approving_needs_the_bulk_export_privilege(small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    other_clerk = CLERK.__class__("li.na", CLERK.roles)
    with only_a_denial_recorded(small_threshold.store), pytest.raises(PermissionDeniedError):
        exporter(small_threshold, other_clerk).approve_export(request_id)


def test_only_the_requester_runs_the_approved_export(small_threshold: Ledger) -> None:
    request_id = _file(small_threshold)["request_id"]
    exporter(small_threshold, APPROVER).approve_export(request_id)
    other_clerk = CLERK.__class__("li.na", CLERK.roles)
    with only_a_denial_recorded(small_threshold.store), pytest.raises(PermissionDeniedError):
        exporter(small_threshold, other_clerk).export_customers(
            FIELDS, purpose="annual mailing", request_id=request_id)


def test_the_trail_lists_every_step_and_the_anomalies_count_mass_exports(
        small_threshold: Ledger, clock: FixedClock) -> None:
    request_id = _file(small_threshold)["request_id"]
    exporter(small_threshold, APPROVER).approve_export(request_id)
    export_id = _file(small_threshold, request_id=request_id)["export_id"]
    small_threshold.runner.catch_up()
    trail = small_threshold.answer(AuditTrailQuery(operation="export"))["entries"]
    steps = [(e["kind"], e["outcome"]) for e in trail if e["kind"] == "export"]
    # The approval is used in the same transaction as the export it let run.
    assert steps == [("export", "pending_approval"), ("export", "approved"),
                     ("export", "used"), ("export", "ok")]
    anomalies = small_threshold.answer(AuditAnomalies(
        since=clock.now.replace(year=2025), until=clock.now.replace(year=2027)))["anomalies"]
    mass = [a for a in anomalies if a["kind"] == "mass_export"]
    assert [(a["subject"], a["count"], a["step"]) for a in mass] == [
        (CLERK.id, 5, "requested"), (CLERK.id, 5, "exported")]
    assert export_id in {e["facts"].get("export_id") for e in trail}
