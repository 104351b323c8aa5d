"""The training part of the policy (TR-1..TR-3): the defaults the policy document gives,
on in production, and every bad value refused at load naming its key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ledger.domain.errors import ValidationFailedError
from ledger.policy import load_policy
from ledger.policy_access import ROLES
from ledger.policy_training import add_months
from tests.conftest import FAST_HASHING_POLICY


def test_the_default_policy_checks_grants_against_training() -> None:
    training = load_policy().training
    assert training.required_for_grants is True
    assert (training.pass_mark, training.new_employee_months, training.period_months,
            training.warning_days) == (80, 3, 12, 30)
    assert all(training.qualifying_courses(role) for role in ROLES)


def test_the_tests_shared_policy_keeps_the_production_default() -> None:
    # The suite runs with the check on: no test passes only because it was switched off.
    assert load_policy(FAST_HASHING_POLICY).training.required_for_grants is True


def test_a_policy_file_adds_a_course_and_changes_the_period(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[training]\nperiod_months = 6\npass_mark = 85\n'
                    '[training.courses.finance-controls]\ntitle = "Finance controls"\n'
                    'version = "2"\nroles = ["finance"]\nvalidity_months = 3\n',
                    encoding="utf-8")
    training = load_policy(path).training
    assert training.qualifying_courses("finance") == ["customer-data-handling",
                                                      "finance-controls"]
    assert training.valid_until("finance-controls", date(2026, 11, 30)) == date(2027, 2, 27)
    assert training.valid_until("audit", date(2026, 11, 30)) == date(2027, 5, 29)
    assert not training.passed(84)


@pytest.mark.parametrize(("text", "field"), [
    ("[training]\npass_mark = 101\n", "training.pass_mark"),
    ("[training]\nperiod_months = 9\n", "training.period_months"),
    ("[training]\nwarning_days = 0\n", "training.warning_days"),
    ('[training.courses.x]\ntitle = "X"\nversion = "1"\nroles = ["intern"]\n',
     "training.courses.x.roles"),
    ('[training.courses."Fire Safety"]\ntitle = "X"\nversion = "1"\nroles = ["sales"]\n',
     "training.courses"),
    ('[training.courses.x]\ntitle = "X"\nversion = "1"\nroles = ["sales"]\n'
     "validity_months = 13\n", "training.courses.x.validity_months"),
    ('[training]\nperiod_months = 6\n[training.courses.x]\ntitle = "X"\nversion = "1"\n'
     'roles = ["sales"]\nvalidity_months = 12\n', "training"),
    ('[training.courses.x]\ntitle = "X"\nversion = "1"\nroles = ["sales"]\nlevel = 2\n',
     "training.courses.x.level"),
])
def test_a_bad_training_value_is_refused_naming_its_key(tmp_path: Path, text: str,
                                                        field: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    assert field in refused.value.fields, refused.value.fields


def test_a_role_no_course_qualifies_for_is_refused_while_grants_are_checked(
        tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[training.courses.bulk-export]\nroles = ["auditor"]\n', encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    (problem,) = refused.value.problems
    assert problem.field == "training" and problem.message.endswith(
        "no course in [training.courses] qualifies for: bulk_export")
    path.write_text('[training]\nrequired_for_grants = false\n'
                    '[training.courses.bulk-export]\nroles = ["auditor"]\n', encoding="utf-8")
    assert load_policy(path).training.qualifying_courses("bulk_export") == []


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2026, 5, 15), 6, date(2026, 11, 15)),
])
def test_months_are_added_as_calendars_count_them(day: date, months: int, expected: date
                                                  ) -> None:
    assert add_months(day, months) == expected
