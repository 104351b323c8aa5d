"""The policy settings: the values the customer-data policy leaves open, loaded from one file."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.domain.problems import problem_message
from ledger.domain.profile import CHANGEABLE_PATHS, CustomerProfile
from ledger.policy_access import (
    AccessPolicy,
    DeletionPolicy,
    LoginPolicy,
    PasswordPolicy,
    merge_tables,
)
from ledger.policy_audit import AuditPolicy
from ledger.policy_backup import BackupPolicy
from ledger.policy_operations import AlertsPolicy, FaultsPolicy
from ledger.policy_training import TrainingPolicy


class ExportPolicy(BaseModel):
    """EX-2: an export of more customers than this needs an approval first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approval_threshold: int = Field(default=1000, ge=0, le=10_000_000)


_MANDATORY_CANDIDATES = frozenset(CHANGEABLE_PATHS) | {
    f"basic.{name}" for name in CustomerProfile.model_fields["basic"].annotation.model_fields  # type: ignore[union-attr]
}


class Policy(BaseModel):
    """The policy values in force; every field has the default the policy document gives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mandatory_fields: list[list[str]] = Field(min_length=1)
    personal_fields: list[str]
    key_change_deadline_working_days: int = Field(ge=1, le=60)
    holiday_calendar: str
    timezone: str
    review_period: Literal["quarter"]
    locale: Literal["en", "zh-CN"]
    checkpoint_every_events: int = Field(ge=1, le=1_000_000)
    checkpoint_every_seconds: float = Field(gt=0, le=86_400)
    passwords: PasswordPolicy
    login: LoginPolicy
    access: AccessPolicy
    deletion: DeletionPolicy
    audit: AuditPolicy = AuditPolicy()
    faults: FaultsPolicy = FaultsPolicy()
    alerts: AlertsPolicy = AlertsPolicy()
    backup: BackupPolicy = BackupPolicy()
    training: TrainingPolicy
    export: ExportPolicy = ExportPolicy()

    @field_validator("mandatory_fields")
    @classmethod
    def _known_paths(cls, value: list[list[str]]) -> list[list[str]]:
        for alternatives in value:
            if not alternatives:
                raise ValueError("an entry must list at least one field")
            unknown = [path for path in alternatives if path not in _MANDATORY_CANDIDATES]
            if unknown:
                raise ValueError("unknown field(s): " + ", ".join(unknown))
        return value

    @field_validator("personal_fields")
    @classmethod
    def _changeable_paths(cls, value: list[str]) -> list[str]:
        unknown = [path for path in value if path not in CHANGEABLE_PATHS]
        if unknown:
            raise ValueError("not a field path: " + ", ".join(unknown))
        return value

    @field_validator("holiday_calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise ValueError("not a calendar known to the holidays package")
        return value


    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _deletion_steps_permitted(self) -> Policy:
        unpermitted = self.deletion.unpermitted(self.access)
        if unpermitted:
            raise ValueError("deletion: " + "; ".join(unpermitted))
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def business_date(self, moment: datetime) -> date:
        """The date it is at ``moment`` in the policy's time zone: "today" for deadlines,
        reviews and unused grants."""
        return moment.astimezone(self.zone).date()


def _defaults() -> dict[str, Any]:
    text = resources.files("ledger").joinpath("policy_defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# A policy file is a few KB of TOML; one larger than this is not one (a device, a dump).
POLICY_FILE_LIMIT = 1024 * 1024


POLICY_SETTING = "LEDGER_POLICY_FILE"


def _file_problem(path: Path, reason: str) -> ValidationFailedError:
    """The policy file itself cannot be used: one line naming the variable and the file."""
    return ValidationFailedError([Problem(POLICY_SETTING, reason)], message(
        "{setting}: the policy file {path} {reason}", setting=POLICY_SETTING, path=str(path),
        reason=as_message(reason)))


def _read_policy_text(path: Path) -> str:
    """The file's text; whatever keeps it from being read is a ``validation_failed`` naming
    LEDGER_POLICY_FILE (missing, a directory or a device, unreadable, too large, not UTF-8),
    as a file that is read but wrong is: one code, exit 3, for every bad policy file."""
    try:
        if path.exists() and not path.is_file():
            raise _file_problem(path, N_("is not a regular file"))
        with path.open("rb") as file:
            raw = file.read(POLICY_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise _file_problem(path, N_("does not exist")) from None
    except OSError as error:
        raise _file_problem(path, message("cannot be read ({reason})", reason=error.strerror
                                          or type(error).__name__)) from None
    if len(raw) > POLICY_FILE_LIMIT:
        raise _file_problem(path, message("is larger than {limit} bytes",
                                          limit=POLICY_FILE_LIMIT))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _file_problem(path, N_("is not UTF-8 text")) from None


def _problem_of(detail: Any) -> Problem:
    """One of pydantic's errors as the key in the file and what is wrong, never the value."""
    key = ".".join(str(part) for part in detail["loc"]) or "policy"
    if detail["type"] == "extra_forbidden":
        return Problem(key, N_("unknown key (the keys are those of "
                               "src/ledger/policy_defaults.toml)"))
    return Problem(key, problem_message(detail))


def load_policy(path: Path | None = None, *, operations: Collection[str] | None = None
                ) -> Policy:
    """Load the defaults, overlaid by the values in ``path``; a bad file is a clear error.

    ``operations`` are the names the permission table may use: the commands and queries
    live above this module, so whoever knows them passes them in (``service.policy``)."""
    values = _defaults()
    if path is not None:
        text = _read_policy_text(path)
        try:
            overrides = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _file_problem(path, message("is not valid TOML: {reason}",
                                              reason=str(error))) from None
        values = merge_tables(values, overrides)
    try:
        policy = Policy.model_validate(values)
    except ValidationError as error:
        problems = [_problem_of(detail)
                    for detail in error.errors(include_url=False, include_input=False)]
        raise _values_refused(path, problems) from None
    if operations is not None:
        check_operations(policy, operations, path)
    return policy


def _values_refused(path: Path | None, problems: list[Problem]) -> ValidationFailedError:
    """The keys of the file that are wrong: in one line (file, key, reason) when one is."""
    place = str(path) if path is not None else "src/ledger/policy_defaults.toml"
    if len(problems) == 1:
        return ValidationFailedError(problems, message(
            "{setting}: the policy file {path} is not valid: {key}: {reason}",
            setting=POLICY_SETTING, path=place, key=problems[0].field,
            reason=as_message(problems[0].message)))
    return ValidationFailedError(problems, message(
        "{setting}: the policy file {path} has invalid values: {keys}", setting=POLICY_SETTING,
        path=place, keys=tuple(sorted({problem.field for problem in problems}))))


def check_operations(policy: Policy, operations: Collection[str],
                     path: Path | None = None) -> None:
    """Refuse an operation the permission table names but no command or query has: a typo
    there would silently grant nothing (or, in ``self_service``, nothing to anyone)."""
    entries = {f"access.permissions.{role}": names
               for role, names in policy.access.permissions.items()}
    entries["access.self_service"] = policy.access.self_service
    problems = []
    for entry, names in entries.items():
        unknown = [name for name in names if name not in operations]
        if unknown:
            problems.append(Problem(entry, message(
                "unknown operation(s): {operations} (an operation is a command or query name, "
                "as the default policy src/ledger/policy_defaults.toml lists)",
                operations=", ".join(unknown))))
    if problems:
        raise _values_refused(path, problems)
