"""Shared by the export tests: the people who export and approve, customers to export, and
the contact values a file must not show to someone without contact clearance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from commands.actor import Actor
from ledger.domain.profile import validate_profile
from ledger.policy import load_policy
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.conftest import FAST_HASHING_POLICY
from tests.factories import make_profile

CLERK = Actor("wang.fang", frozenset({"info_specialist"}))
FINANCE = Actor("qian.min", frozenset({"finance"}))
APPROVER = Actor("sun.li", frozenset({"bulk_export"}))
_MANDATORY = load_policy().mandatory_fields


def exporter(ledger: Ledger, actor: Actor = CLERK) -> LedgerClient:
    return LedgerClient.in_process(ledger, actor.id, roles=sorted(actor.roles))


def register_customers(ledger: Ledger, count: int, *, first_seed: int = 0,
                       **overrides: Any) -> list[dict[str, Any]]:
    """``count`` customers, registered and projected: each one's id and stored profile."""
    client = exporter(ledger)
    registered = []
    for seed in range(first_seed, first_seed + count):
        profile = make_profile("zh_CN" if seed % 2 else "en_US", seed=seed, **overrides)
        outcome = client.register_customer(profile)
        registered.append({"customer_id": outcome["aggregate_id"],
                           "profile": validate_profile(profile, _MANDATORY)})
    ledger.runner.catch_up()
    return registered


def contact_values(customer: dict[str, Any]) -> list[str]:
    """The customer's phone, fax and email values and its contacts' ones, as stored."""
    profile = customer["profile"]
    values = [profile["basic"].get(name) for name in ("phone", "fax", "email")]
    for contact in profile.get("contacts") or []:
        values += [contact.get("phone"), contact.get("email"), contact.get("name")]
    return [value for value in values if value]


def policy_with_threshold(tmp_path: Path, threshold: int) -> Path:
    """The tests' policy with ``export.approval_threshold`` set."""
    path = tmp_path / "export_policy.toml"
    path.write_text(FAST_HASHING_POLICY.read_text(encoding="utf-8")
                    + f"\n[export]\napproval_threshold = {threshold}\n", encoding="utf-8")
    return path
