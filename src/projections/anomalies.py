"""Anomalies in the audit trail (AU-4), over a time range, with the policy's thresholds:
bursts of failed logins (per account and per client address), accounts reading more
customers in an hour than allowed, access outside working hours, privilege grants and
incident locks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from ledger.domain.deadlines import is_working_day
from ledger.policy import Policy
from ledger.policy_audit import AuditPolicy
from projections.answers import AnomaliesAnswer
from projections.queries import Moment, Query

# Kinds of trail entry that are someone using the system (not a background fact).
_ACCESS_KINDS = ("read", "command", "login", "denial")
_GRANTS = ("Account.RoleGrantRequested", "Account.RoleGrantApproved")


class AuditAnomalies(Query):
    """What the audit trail shows as unusual between two moments, by the policy's thresholds."""

    name = "audit-anomalies"
    answer = AnomaliesAnswer
    since: Moment = Field(description="From this ISO 8601 moment.")
    until: Moment = Field(description="Up to this ISO 8601 moment.")

    @model_validator(mode="after")
    def _ordered(self) -> AuditAnomalies:
        if self.since > self.until:
            raise ValueError("since must not be after until")
        return self


def _moment(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["recorded_at"].replace("Z", "+00:00"))


def _bursts(times: list[datetime], size: int, window: timedelta) -> Iterator[list[datetime]]:
    """Maximal runs of at least ``size`` moments, each within ``window`` of the run's first."""
    start = 0
    while start + size <= len(times):
        end = start
        while end + 1 < len(times) and times[end + 1] - times[start] <= window:
            end += 1
        if end - start + 1 >= size:
            yield times[start:end + 1]
            start = end + 1
        else:
            start += 1


def failed_login_bursts(entries: list[dict[str, Any]], policy: AuditPolicy
                        ) -> list[dict[str, Any]]:
    by_key: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for entry in entries:
        if entry["kind"] == "login" and entry["operation"] == "login-failed":
            moment = _moment(entry)
            by_key[("account", entry["facts"].get("username") or "")].append(moment)
            if entry["client_address"]:
                by_key[("address", entry["client_address"])].append(moment)
    window = timedelta(minutes=policy.failed_login_window_minutes)
    found = []
    for (per, subject), times in sorted(by_key.items()):
        for burst in _bursts(sorted(times), policy.failed_login_burst, window):
            found.append({"kind": "failed_login_burst", "per": per, "subject": subject,
                          "count": len(burst), "first_at": burst[0].isoformat(),
                          "last_at": burst[-1].isoformat()})
    return found


def heavy_readers(entries: list[dict[str, Any]], policy: AuditPolicy) -> list[dict[str, Any]]:
    read: dict[tuple[str, datetime], set[str]] = defaultdict(set)
    for entry in entries:
        if entry["kind"] == "read" and entry["actor"]:
            hour = _moment(entry).replace(minute=0, second=0, microsecond=0)
            read[(entry["actor"], hour)].update(entry["targets"])
    return [{"kind": "many_customers_read", "subject": actor, "hour": hour.isoformat(),
             "count": len(ids), "threshold": policy.customers_read_per_hour}
            for (actor, hour), ids in sorted(read.items())
            if len(ids) > policy.customers_read_per_hour]


def outside_working_hours(entries: list[dict[str, Any]], policy: AuditPolicy, zone: ZoneInfo,
                          calendar: str) -> list[dict[str, Any]]:
    found = []
    for entry in entries:
        if entry["kind"] not in _ACCESS_KINDS or not entry["actor"]:
            continue
        local = _moment(entry).astimezone(zone)
        on_duty = (is_working_day(local.date(), calendar)
                   and policy.working_hours_start <= local.time() < policy.working_hours_end)
        if not on_duty:
            found.append({"kind": "outside_working_hours", "subject": entry["actor"],
                          "at": local.isoformat(), "operation": entry["operation"],
                          "position": entry["position"]})
    return found


def grants_and_locks(entries: list[dict[str, Any]], usernames: dict[str, str],
                     privileged: frozenset[str]) -> list[dict[str, Any]]:
    """Grants of the policy's high-privilege roles, and accounts locked in an incident."""
    found = []
    for entry in entries:
        account = next(iter(entry["targets"]), "")
        subject = usernames.get(account, account)
        if entry["operation"] in _GRANTS and entry["facts"].get("role") in privileged:
            step = ("approved" if entry["operation"].endswith("Approved") else
                    "requested" if entry["facts"].get("needs_approval") else "granted")
            found.append({"kind": "privilege_grant", "subject": subject,
                          "role": entry["facts"].get("role"), "step": step,
                          "by": entry["actor"], "at": entry["recorded_at"],
                          "position": entry["position"]})
        elif entry["operation"] == "Account.Locked" and entry["facts"].get("reason") == "incident":
            found.append({"kind": "incident_lock", "subject": subject, "by": entry["actor"],
                          "at": entry["recorded_at"], "position": entry["position"]})
    return found


def mass_exports(entries: list[dict[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """Exports of more customers than the approval threshold (EX-2), and requests for one."""
    found = []
    for entry in entries:
        if entry["kind"] != "export" or entry["outcome"] not in ("ok", "pending_approval"):
            continue
        count = entry["facts"].get("rows", entry["facts"].get("customers")) or 0
        if count > threshold:
            found.append({"kind": "mass_export", "subject": entry["actor"] or "",
                          "count": count, "threshold": threshold, "at": entry["recorded_at"],
                          "step": "exported" if entry["outcome"] == "ok" else "requested",
                          "position": entry["position"]})
    return found


def find_anomalies(entries: list[dict[str, Any]], policy: Policy,
                   usernames: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every anomaly in ``entries`` (audit-trail entries in position order)."""
    audit = policy.audit
    return [*failed_login_bursts(entries, audit), *heavy_readers(entries, audit),
            *outside_working_hours(entries, audit, policy.zone, policy.holiday_calendar),
            *grants_and_locks(entries, usernames or {},
                              frozenset(policy.access.high_privilege_roles)),
            *mass_exports(entries, policy.export.approval_threshold)]
