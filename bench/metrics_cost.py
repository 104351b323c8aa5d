"""(m) The cost of the metrics on the command path (issue 14).

Figure: commands/s of ``LedgerClient.in_process(...).register_customer`` on a fresh store
with the ledger as ``bootstrap()`` builds it, the Prometheus observer counting every command
(``ledger_commands_total`` and the ``ledger_command_duration_seconds`` histogram). Baseline,
same run, interleaved: the same commands on a fresh store whose bus observer is
``NoObserver`` (nothing counted). The ratio is the share of throughput the metrics keep.
"""

from __future__ import annotations

from typing import Any

from bench.context import Backend, BenchContext
from bench.harness import Result, interleave, rate
from bench.register import register_all
from commands.observer import NoObserver

NAME = "metrics-cost"
TITLE = "register, 1 client, metrics on vs off"


def run(ctx: BenchContext, backend: Backend, progress: Any) -> Result:
    profiles = ctx.profiles(ctx.sizes.customers)
    warmup = ctx.warmup_profiles()

    def measured(observed: bool) -> float:
        with ctx.fresh_ledger(backend) as ledger:
            if not observed:
                ledger.bus.observer = NoObserver()
            return rate(len(profiles), register_all(ledger, profiles, warmup))

    stats = interleave(ctx.sizes.runs, {"metrics": lambda: measured(True),
                                        "none": lambda: measured(False)}, progress,
                       budget=ctx.sizes.budget)
    return Result(
        benchmark=TITLE, backend=backend, unit="commands/s", figure=stats["metrics"],
        baseline=stats["none"],
        baseline_label="commands/s of the same bus with the observer NoObserver (no metrics)",
        notes=[f"LedgerClient.in_process().register_customer, N={len(profiles)} commands "
               f"per run after {len(warmup)} warm-up; the observer bumps one counter and "
               "one histogram per command"],
    )


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [run(ctx, backend, progress) for backend in ctx.backends()]
