"""(m) The cost of the metrics on the command path (issue 14).

Figure: commands/s of ``LedgerClient.in_process(...).register_customer`` on a fresh store
with the ledger as ``bootstrap()`` builds it, the Prometheus observer counting every command
(``ledger_commands_total`` and the ``ledger_command_duration_seconds`` histogram). Baseline,
same run, interleaved: the same commands on a fresh store whose bus observer is
``NoObserver`` (nothing counted). The ratio is the share of throughput the metrics keep;
under load it is within the runs' noise, so a second row measures the observer alone:
its calls/s (one counter and one histogram each), against the first backend's commands/s
of the same run, so the ratio says how many observer calls one command costs.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from bench.context import Backend, BenchContext
from bench.harness import Result, Stopwatch, interleave, rate
from bench.register import register_all
from commands.observer import NoObserver
from service.metrics import OperationsMetrics

OBSERVER_CALLS = 50_000

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


def observer_rate() -> float:
    metrics = OperationsMetrics(CollectorRegistry())
    with Stopwatch() as watch:
        for _ in range(OBSERVER_CALLS):
            metrics.command_done("register-customer", "accepted", 0.004)
    return rate(OBSERVER_CALLS, watch.seconds)


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    results = [run(ctx, backend, progress) for backend in ctx.backends()]
    stats = interleave(ctx.sizes.runs, {"observer": observer_rate}, progress,
                       budget=ctx.sizes.budget)
    first = results[0]
    results.append(Result(
        benchmark="metrics observer alone", backend="-", unit="calls/s",
        figure=stats["observer"], baseline=first.figure,
        baseline_label=f"commands/s of the {first.backend} row above (metrics on)",
        notes=[f"OperationsMetrics.command_done x {OBSERVER_CALLS} per run: one labelled "
               "counter increment and one histogram observation"]))
    return results
