"""(e) The cost of access control: one login, and the authorisation check per command.

Figures: median ms of ``identity.login`` for an existing account (argon2id verify at the
default policy's cost, the account load, the failure-counter reset, the session row and
the audited ``LoginSucceeded`` event), with the same for an unknown username beside it;
and the median per-command cost of the bus's policy authoriser (an allowed
``register-customer``: table lookup plus the once-a-day role-use record). Baselines, same
run: one bare argon2id ``verify`` at the same parameters; the allow-all hook.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from argon2 import PasswordHasher, Type

from bench.context import Backend, BenchContext
from bench.harness import Result, fmt, interleave, latencies_ms
from commands.accounts import ChangePassword, CreateAccount, GrantRole
from commands.bus import Actor, AllowAll
from ledger.credentials import AuthenticationError

NAME = "login"
LOGINS = 10
CHECKS = 20_000


PASSWORD = "Quiet-Harbour#5512"
ADMIN = Actor("local-admin:bench", frozenset({"sysadmin"}), "cli")


def open_account(ledger: Any, username: str, role: str) -> None:
    """An account holding ``role`` whose one-time password was replaced."""
    ledger.bus.execute(CreateAccount(username=username, employee_id=f"E-{username}",
                                     department="sales", initial_password="Initial-Pass#2041"),
                       ADMIN)
    ledger.bus.execute(GrantRole(username=username, role=role), ADMIN)
    ledger.bus.execute(ChangePassword(username=username, current_password="Initial-Pass#2041",
                                      new_password=PASSWORD), Actor(username))


def _per_call_us(call: Any, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    with ctx.fresh_ledger(backend) as ledger:
        open_account(ledger, "bench.login", "sales")
        identity = ledger.access.identity
        policy = ledger.policy.passwords
        hasher = PasswordHasher(time_cost=policy.hash_time_cost,
                                memory_cost=policy.hash_memory_kib,
                                parallelism=policy.hash_parallelism, type=Type.ID)
        stored = hasher.hash(PASSWORD)
        unknown: list[float] = []

        def login(_: object) -> object:
            return identity.login("bench.login", PASSWORD, client_address="::1")

        def login_unknown(_: object) -> object:
            try:
                identity.login("no.such.user", PASSWORD, client_address="::1")
            except AuthenticationError:
                return None
            raise RuntimeError("an unknown user logged in")

        def measure_login() -> float:
            unknown.append(statistics.median(latencies_ms(login_unknown, range(LOGINS))))
            return statistics.median(latencies_ms(login, range(LOGINS)))

        def measure_hash() -> float:
            return statistics.median(latencies_ms(
                lambda _: hasher.verify(stored, PASSWORD), range(LOGINS)))

        logins = interleave(3, {"login": measure_login,
                                                     "argon2": measure_hash}, progress)
        actor = Actor("bench.login", frozenset({"sales"}), "::1")
        authoriser, allow_all = ledger.access.authoriser, AllowAll()
        checks = interleave(ctx.sizes.runs, {
            "policy": lambda: _per_call_us(
                lambda: authoriser.authorise(actor, "register-customer", None), CHECKS),
            "allow-all": lambda: _per_call_us(
                lambda: allow_all.authorise(actor, "register-customer", None), CHECKS),
        }, progress)
    return [
        Result(benchmark="login (existing account)", backend=backend, unit="ms/login",
               figure=logins["login"], baseline=logins["argon2"], higher_is_better=False,
               baseline_label="median ms of one bare argon2id verify at the policy's cost "
                              f"(t={policy.hash_time_cost}, m={policy.hash_memory_kib} KiB, "
                              f"p={policy.hash_parallelism})",
               notes=[f"identity.login, {LOGINS} logins per run",
                      f"unknown username: {fmt(statistics.median(unknown))} ms (the hash "
                      "runs against a dummy, so the time says nothing)"]),
        Result(benchmark="authorisation check per command", backend=backend,
               unit="us/check", figure=checks["policy"], baseline=checks["allow-all"],
               higher_is_better=False,
               baseline_label="median us of the allow-all hook's call",
               notes=[f"PolicyAuthoriser.authorise(register-customer), {CHECKS} calls per "
                      "run; a denial adds one event append (a write)"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
