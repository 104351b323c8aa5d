"""(e) The cost of encryption on reads (issue 3): one customer, and 1,000 customers.

Figures: a read through the customer-view query with the customer's personal fields
opened (key from the key store, unwrapped under the KEK, cached; AES-GCM per field).
Baselines, same run: the very same query on the very same rows without opening them
(what a read cost before personal fields were sealed). The target is a ratio within 2x.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.context import Backend, BenchContext
from bench.harness import Result, interleave, latencies_ms
from projections.queries import GetCustomer, Queries

NAME = "read-protected"
BATCH = 1000


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    ledger, ids = ctx.populated(backend)
    # The query itself, on both sides, without the masking every registered handler adds:
    # what is measured is the cost of opening the fields, and no answer leaves the bench.
    opened = Queries(ledger.runner, ledger.settings.read_wait_timeout,
                     protector=ledger.protector)
    sealed = Queries(ledger.runner, ledger.settings.read_wait_timeout, protector=None)
    rng = random.Random(11)
    chosen = [GetCustomer(customer_id=rng.choice(ids)) for _ in range(ctx.sizes.reads)]
    batch = [GetCustomer(customer_id=rng.choice(ids)) for _ in range(BATCH)]
    probe = opened.get_customer(chosen[0])["customer"]["profile"]
    if "$enc" in str(probe) or "$enc" not in str(sealed.get_customer(chosen[0])):
        raise RuntimeError("the figure must open personal fields and the baseline must not")

    def one(queries: Queries) -> Callable[[], float]:
        def measure() -> float:
            for query in chosen[: ctx.sizes.warmup]:
                queries.get_customer(query)
            return statistics.median(latencies_ms(queries.get_customer, chosen))  # type: ignore[arg-type]
        return measure

    def thousand(queries: Queries) -> Callable[[], float]:
        def measure() -> float:
            started = time.perf_counter()
            for query in batch:
                queries.get_customer(query)
            return (time.perf_counter() - started) * 1000
        return measure

    stats = interleave(ctx.sizes.runs, {
        "one-opened": one(opened), "one-sealed": one(sealed),
        "many-opened": thousand(opened), "many-sealed": thousand(sealed),
    }, progress, budget=ctx.sizes.budget)
    label = "the same query on the same rows, personal fields left sealed"
    return [
        Result(benchmark="read one customer, fields opened", backend=backend, unit="ms/read",
               figure=stats["one-opened"], baseline=stats["one-sealed"],
               baseline_label=label, higher_is_better=False,
               notes=[f"{len(chosen)} reads per run among {len(ids)} customers; keys cached"]),
        Result(benchmark=f"read {BATCH:,} customers, fields opened", backend=backend,
               unit="ms", figure=stats["many-opened"], baseline=stats["many-sealed"],
               baseline_label=label, higher_is_better=False,
               notes=[f"{BATCH} get-customer reads in a row; keys cached after first use"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
