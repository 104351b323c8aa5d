"""The access parts of the policy file: validated, and overridden table by table."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.registry import ALL_COMMANDS, EXPORT_COMMANDS
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment
from ledger.domain.errors import ValidationFailedError
from ledger.policy import load_policy
from ledger.policy_access import ROLES
from projections.account_queries import ACCOUNT_QUERIES
from projections.audit import AUDIT_QUERIES
from projections.export_identify import IdentifyExport
from projections.faults import FAULT_QUERIES
from projections.privacy import PRIVACY_QUERIES
from projections.queries import QUERIES
from projections.reports import REPORTS
from projections.training_queries import TRAINING_QUERIES
from service.policy import KNOWN_OPERATIONS, METRICS_OPERATION, load_service_policy

OPERATIONS = (set(ALL_COMMANDS) | set(QUERIES) | set(PRIVACY_QUERIES) | set(ACCOUNT_QUERIES)
              | set(AUDIT_QUERIES) | {"customer-history"}
              | {StartTotpEnrolment.name, ConfirmTotpEnrolment.name}
              | set(FAULT_QUERIES) | {METRICS_OPERATION} | set(TRAINING_QUERIES)
              | set(EXPORT_COMMANDS) | {IdentifyExport.name}
              | {report.name for report in REPORTS.values()})


def test_the_permission_table_names_only_known_roles_and_operations() -> None:
    access = load_policy().access
    assert set(access.permissions) == set(ROLES)
    assert access.operations() <= OPERATIONS, access.operations() - OPERATIONS


def test_every_operation_is_allowed_to_someone() -> None:
    assert load_policy().access.operations() == OPERATIONS


def test_a_policy_file_overrides_one_role_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[access.permissions]\nsales = ["get-customer"]\n'
                    '[login]\nmax_failed_attempts = 3\n', encoding="utf-8")
    policy = load_policy(path)
    assert policy.access.permissions["sales"] == ["get-customer"]
    assert "verify-change" in policy.access.permissions["info_specialist"]
    assert (policy.login.max_failed_attempts, policy.login.session_idle_minutes) == (3, 30)


@pytest.mark.parametrize(("text", "field"), [
    ('[access.permissions]\nintern = ["get-customer"]\n', "access.permissions"),
    ('[access.clearance]\nsales = ["top_secret"]\n', "access"),
    ('[access.sensitive_fields]\ncontact = ["basic.shoe_size"]\n', "access.sensitive_fields"),
    ('[login]\nallowed_networks = ["10.0.0.0/33"]\n', "login.allowed_networks"),
    ('[passwords]\nmin_length = 4\n', "passwords.min_length"),
])
def test_a_bad_access_value_is_refused(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    assert any(f.startswith(field) for f in refused.value.fields), refused.value.fields


def test_allowed_networks_default_to_loopback() -> None:
    login = load_policy().login
    assert login.allows_address("127.0.0.1") and login.allows_address("::1")
    assert not login.allows_address("203.0.113.5")
    assert not login.allows_address("cli")


def test_the_deletion_steps_default_to_the_roles_the_policy_document_names() -> None:
    steps = load_policy().deletion.step_roles
    assert (steps.review, steps.approve, steps.execute) == (
        "department_head", "info_mgmt_head", "sysadmin")


def test_a_deletion_step_given_an_unknown_role_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[deletion]\napprove_role = "chief_officer"\n', encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    (problem,) = refused.value.problems
    assert (problem.field, problem.message) == (
        "deletion.approve_role", "unknown role(s): chief_officer")


def test_a_deletion_step_given_a_role_that_may_not_run_it_is_refused_at_load(
        tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[deletion]\napprove_role = "auditor"\n', encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    assert "approve_role: auditor may not run approve-deletion" in str(
        refused.value.problems[0].message)


def test_a_misspelt_operation_is_refused_naming_its_entry(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[access]\nself_service = ["change-pasword"]\n'
                    '[access.permissions]\nsales = ["get-custmer", "get-customer"]\n',
                    encoding="utf-8")

    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path, operations=OPERATIONS)

    assert {(p.field, p.message.split(" (")[0]) for p in refused.value.problems} == {
        ("access.permissions.sales", "unknown operation(s): get-custmer"),
        ("access.self_service", "unknown operation(s): change-pasword")}
    assert "command or query name" in refused.value.problems[0].message


def test_the_service_knows_every_operation_the_default_policy_names() -> None:
    assert KNOWN_OPERATIONS == OPERATIONS
    assert load_service_policy().access.operations() == OPERATIONS
