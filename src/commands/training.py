"""Training and assessment commands (TR-1..TR-3) and their handlers, one per command: record
a training session, record an assessment, and apply the training rules to an account's
grants (the training follower's command, ``commands.training_follower``). The grant check
itself is part of ``grant-role`` (``commands.roles``) and uses ``grant_requirement`` here.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import uuid4

from pydantic import Field

from commands.accounts import AccountCommand, load_account, load_registry
from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.account import Account, AccountStatus, account_id
from ledger.domain.errors import Problem, ValidationFailedError, WorkflowViolationError
from ledger.domain.messages import message
from ledger.domain.training import TrainingRules, reference
from ledger.policy_access import ROLES
from ledger.policy_training import TrainingPolicy, add_months

INITIAL_ADMINISTRATOR = "initial_administrator"
"""The exemption a grant is made under while fewer than two administrators exist (README,
"Training and assessment")."""

TrainingMethod = Literal["classroom", "online", "on_the_job"]


class RecordTraining(AccountCommand):
    """Record a training session an employee attended (TR-1)."""

    name = "record-training"
    course: str = Field(min_length=1, max_length=63)
    course_version: str = Field(min_length=1, max_length=20)
    trained_on: date
    trainer: str = Field(min_length=1, max_length=100)
    method: TrainingMethod


class RecordAssessment(AccountCommand):
    """Record an employee's assessment in a course: a score out of 100 (TR-1, TR-2)."""

    name = "record-assessment"
    course: str = Field(min_length=1, max_length=63)
    score: int = Field(ge=0, le=100)
    assessed_on: date
    assessor: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="Who assessed; default the one recording it.")


class ApplyTrainingRules(AccountCommand):
    """Suspend the account's grants no passed, unexpired assessment covers any more, and
    lift the suspensions a new pass covers (TR-3)."""

    name = "apply-training-rules"


# The rules -------------------------------------------------------------------

def check_course(training: TrainingPolicy, course: str) -> None:
    if course not in training.courses:
        raise ValidationFailedError([Problem("course", message(
            "is not a course of the policy ([training.courses]); one of {courses}",
            courses=", ".join(sorted(training.courses))))])


def check_not_future(day: date, today: date, field: str) -> None:
    if day > today:
        raise ValidationFailedError([Problem(field, "is in the future")])


def administrators(uow: UnitOfWork, *, enough: int = 2) -> int:
    """How many accounts (not disabled) hold an approved ``sysadmin`` grant, suspended or
    not (so a suspension never reopens the initial administrator's exemption); counting
    stops at ``enough``."""
    found = 0
    for username in load_registry(uow).usernames:
        account = uow.get(account_id(username))
        if (isinstance(account, Account) and account.status is not AccountStatus.DISABLED
                and account.grants.get("sysadmin", {}).get("active")):
            found += 1
            if found >= enough:
                break
    return found


def checks_in_force(uow: UnitOfWork) -> bool:
    """Grants are checked against training when the policy says so and the installation
    has a second administrator: until then the initial administrator is exempt."""
    return uow.policy.training.required_for_grants and administrators(uow) >= 2


def rules_for(training: TrainingPolicy, account: Account) -> TrainingRules:
    created = account.created_at.date() if account.created_at else date.min
    return TrainingRules(
        qualifying={role: training.qualifying_courses(role) for role in ROLES},
        new_employee_until=add_months(created, training.new_employee_months))


def grant_requirement(uow: UnitOfWork, account: Account, role: str
                      ) -> tuple[dict[str, Any] | None, str | None]:
    """The assessment a grant of ``role`` relies on, or the exemption it is made under; a
    refusal names the courses that would qualify and what each lacks."""
    training = uow.policy.training
    if not training.required_for_grants:
        return None, None
    courses = training.qualifying_courses(role)
    covering = account.covering_assessment(courses, uow.today())
    if covering is not None:
        return reference(covering), None
    if not checks_in_force(uow):
        return None, INITIAL_ADMINISTRATOR
    raise WorkflowViolationError(
        message("granting {role} needs a passed, unexpired assessment (score at least "
                "{pass_mark}) in a course that qualifies for it: {courses}; record one with "
                "record-assessment first", role=role, pass_mark=training.pass_mark,
                courses=", ".join(courses)),
        details={"role": role, "missing": account.missing_training(courses, uow.today())})


# Handlers --------------------------------------------------------------------

def record_training(command: RecordTraining, uow: UnitOfWork) -> Result:
    check_course(uow.policy.training, command.course)
    check_not_future(command.trained_on, uow.today(), "trained_on")
    account = load_account(uow, command.username)
    account.check_not_disabled()
    training_id = str(uuid4())
    account.record_training(training_id=training_id, course=command.course,
                            course_version=command.course_version,
                            trained_on=command.trained_on, trainer=command.trainer,
                            method=command.method, by=uow.actor)
    return {"username": command.username, "course": command.course,
            "training_id": training_id}


def record_assessment(command: RecordAssessment, uow: UnitOfWork) -> Result:
    training = uow.policy.training
    check_course(training, command.course)
    check_not_future(command.assessed_on, uow.today(), "assessed_on")
    assessor = command.assessor or uow.actor
    if command.username in (uow.actor, assessor):
        raise WorkflowViolationError("no one may assess themselves or record their own "
                                     "assessment", details={"course": command.course})
    account = load_account(uow, command.username)
    account.check_not_disabled()
    assessment_id = str(uuid4())
    passed = training.passed(command.score)
    valid_until = training.valid_until(command.course, command.assessed_on)
    account.record_assessment(assessment_id=assessment_id, course=command.course,
                              score=command.score, passed=passed, assessor=assessor,
                              assessed_on=command.assessed_on, valid_until=valid_until,
                              by=uow.actor)
    return {"username": command.username, "course": command.course,
            "assessment_id": assessment_id, "passed": passed,
            "valid_until": valid_until.isoformat() if passed else None}


def apply_training_rules(command: ApplyTrainingRules, uow: UnitOfWork) -> Result:
    account = load_account(uow, command.username)
    changed: list[str] = []
    if checks_in_force(uow):
        changed = account.apply_training_rules(rules_for(uow.policy.training, account),
                                               uow.today())
    return {"username": command.username, "changed": changed}


HANDLERS: dict[type[Command], Handler] = {
    RecordTraining: record_training,
    RecordAssessment: record_assessment,
    ApplyTrainingRules: apply_training_rules,
}
