"""Policy values for accounts and access: passwords (LG-2, LG-6), logins (LG-3..LG-5) and the
permission table with its field-sensitivity levels (AC-1..AC-3). Part of ``Policy``."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.domain.profile import CHANGEABLE_PATHS

ROLES = ("sales", "customer_service", "technical", "finance", "info_specialist",
         "department_head", "info_mgmt_head", "sysadmin", "auditor", "bulk_export")
"""Every role a grant may name (AC-1); ``bulk_export`` is a privilege rather than a job."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PasswordPolicy(_Section):
    """LG-2 strength rules, LG-6 rotation, and the cost of the slow salted hash."""

    min_length: int = Field(ge=8, le=128)
    require_letter: bool
    require_digit: bool
    require_special: bool
    reject_common: bool
    reject_username: bool
    rotation_days: int = Field(ge=1, le=3650)
    # argon2id parameters (RFC 9106); lower them only for tests.
    hash_time_cost: int = Field(ge=1, le=20)
    hash_memory_kib: int = Field(ge=1024, le=4 * 1024 * 1024)
    hash_parallelism: int = Field(ge=1, le=16)


class LoginPolicy(_Section):
    """LG-3 lockout, LG-4 second factor, LG-5 networks, and session lifetimes."""

    max_failed_attempts: int = Field(ge=1, le=100)
    session_lifetime_minutes: int = Field(ge=1, le=24 * 60)
    session_idle_minutes: int = Field(ge=1, le=24 * 60)
    allowed_networks: list[str]
    totp_required_roles: list[str]
    totp_issuer: str = Field(min_length=1, max_length=100)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not a network in CIDR form: {network}") from None
        return value

    @field_validator("totp_required_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return _known_roles(value)

    def allows_address(self, address: str | None) -> bool:
        """Whether a client at ``address`` may log in (LG-5)."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(network, strict=False)
                   for network in self.allowed_networks)


class AccessPolicy(_Section):
    """Who may run which command or query, and which sensitive fields each role may read."""

    permissions: dict[str, list[str]]
    clearance: dict[str, list[str]]
    sensitive_fields: dict[str, list[str]]
    self_service: list[str]
    high_privilege_roles: list[str]
    grant_unused_days: int = Field(ge=1, le=3650)

    @field_validator("permissions", "clearance")
    @classmethod
    def _role_keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        _known_roles(list(value))
        return value

    @field_validator("high_privilege_roles")
    @classmethod
    def _high_roles(cls, value: list[str]) -> list[str]:
        return _known_roles(value)

    @field_validator("sensitive_fields")
    @classmethod
    def _field_paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = [p for paths in value.values() for p in paths if p not in CHANGEABLE_PATHS]
        if unknown:
            raise ValueError("not a field path: " + ", ".join(unknown))
        return value

    @model_validator(mode="after")
    def _known_levels(self) -> AccessPolicy:
        unknown = sorted({level for levels in self.clearance.values() for level in levels}
                         - set(self.sensitive_fields))
        if unknown:
            raise ValueError("clearance names unknown sensitivity level(s): "
                             + ", ".join(unknown))
        return self

    def sensitive_paths(self) -> set[str]:
        """Every field path of every sensitivity level: what a reader cleared for nothing
        sees masked, and what an access record may name."""
        return {path for paths in self.sensitive_fields.values() for path in paths}

    def operations(self) -> set[str]:
        """Every operation the table names."""
        return {op for ops in self.permissions.values() for op in ops} | set(self.self_service)


def _known_roles(value: list[str]) -> list[str]:
    unknown = [role for role in value if role not in ROLES]
    if unknown:
        raise ValueError("unknown role(s): " + ", ".join(unknown))
    return value


def merge_tables(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base``, table by table: a policy file names only what differs."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged
