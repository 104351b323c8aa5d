"""(f) The cost of the training check on a grant (TR-3), on each backend.

Figures: median ms per ``grant-role`` through the bus with ``training.required_for_grants``
on, in an installation past the initial administrator's exemption (two administrator
accounts) where each grantee holds a passed assessment (the check reads the grantee's own
assessments, already loaded); and the same under the exemption (no administrator account
yet), where finding no assessment makes the check count the administrators, loading every
account of the registry. Baseline, same run, same backend: ``grant-role`` with the check
off. Each measure runs on a fresh store of ``ACCOUNTS`` employees opened untimed (with a
policy of cheap password hashes, since hashing is not what is measured).
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.context import Backend, BenchContext
from bench.harness import Result, interleave, latencies_ms
from commands.accounts import CreateAccount
from commands.actor import Actor
from commands.roles import ApproveGrant, GrantRole
from commands.training import RecordAssessment

NAME = "grant"
ADMIN = Actor("local-admin:bench", frozenset({"sysadmin"}), "cli")
SECOND = Actor("local-admin:bench2", frozenset({"sysadmin"}), "cli")
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()  # never in the future anywhere
CHEAP_HASHES = "[passwords]\nhash_time_cost = 1\nhash_memory_kib = 1024\nhash_parallelism = 1\n"


def _policy(ctx: BenchContext, checked: bool) -> Path:
    path = ctx.workdir / f"grant-policy-{'on' if checked else 'off'}.toml"
    path.write_text(CHEAP_HASHES + f"[training]\nrequired_for_grants = {str(checked).lower()}\n",
                    encoding="utf-8")
    return path


def _employee(ledger: Any, username: str, *, assessed: str | None) -> None:
    ledger.bus.execute(CreateAccount(username=username, employee_id=f"E-{username}",
                                     department="sales", initial_password="Initial-Pass#2041"),
                       ADMIN)
    if assessed is not None:
        ledger.bus.execute(RecordAssessment(username=username, course=assessed, score=90,
                                            assessed_on=YESTERDAY), ADMIN)


def _grants_ms(ctx: BenchContext, backend: Backend, accounts: int, *, checked: bool,
               administrators: bool) -> float:
    with ctx.fresh_database(backend, stem="grant") as location:
        ledger = ctx.open_ledger(backend, location, policy_file=_policy(ctx, checked))
        try:
            if administrators:
                for username in ("ops.one", "ops.two"):
                    _employee(ledger, username, assessed="system-administration")
                    ledger.bus.execute(GrantRole(username=username, role="sysadmin"), ADMIN)
                    ledger.bus.execute(ApproveGrant(username=username, role="sysadmin"),
                                       SECOND)
            names = [f"clerk.{number:04d}" for number in range(accounts)]
            for username in names:
                _employee(ledger, username,
                          assessed="customer-data-handling" if administrators else None)
            return statistics.median(latencies_ms(
                lambda username: ledger.bus.execute(
                    GrantRole(username=str(username), role="sales"), ADMIN), names))
        finally:
            ledger.close()


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    accounts = max(10, min(100, ctx.sizes.customers // 20))
    stats = interleave(ctx.sizes.runs, {
        "checked": lambda: _grants_ms(ctx, backend, accounts, checked=True,
                                      administrators=True),
        "exempt": lambda: _grants_ms(ctx, backend, accounts, checked=True,
                                     administrators=False),
        "off": lambda: _grants_ms(ctx, backend, accounts, checked=False,
                                  administrators=True),
    }, progress, budget=ctx.sizes.budget)
    label = "median ms of grant-role with training.required_for_grants = false"
    return [
        Result(benchmark="grant-role, training checked", backend=backend, unit="ms/grant",
               figure=stats["checked"], baseline=stats["off"], higher_is_better=False,
               baseline_label=label,
               notes=[f"{accounts} grants per run, each grantee holding a passed assessment; "
                      "two administrator accounts"]),
        Result(benchmark="grant-role, initial administrator exempt", backend=backend,
               unit="ms/grant", figure=stats["exempt"], baseline=stats["off"],
               higher_is_better=False, baseline_label=label,
               notes=[f"{accounts} employees, no administrator account: each grant loads "
                      "every account to count the administrators"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
