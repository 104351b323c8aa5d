"""(k) Export throughput (EX-1..EX-3): customers exported to CSV through the real bus.

Figure: rows/s of ``LedgerClient.in_process(...).export_customers`` (five columns, CSV, as an
information specialist: the rows selected from the customer view, each profile opened with
its data key and masked for the exporter, ordered by the keyed PRF, the canaries placed,
the file rendered and hashed, the audit event saved). Baseline, same run, same database: a
plain ``SELECT`` of the same rows from the customer view written with the ``csv`` module.

The trace-mark overhead is measured apart, on one selection: rendering it with its marks
(keyed order, canaries, visible mark) against rendering the same rows as selected, without.

The store is built once per backend and size, untimed, by ``bench.bulk`` (sealed profiles
and command records as the bus writes them), and projected before the timed runs.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bulk import register_in_bulk
from bench.context import CLERK, Backend, BenchContext
from bench.harness import Result, Stopwatch, interleave, rate
from commands.exports import Exports
from ledger.domain.export import ExportFilter, ExportFormat
from ledger.domain.sensitivity import FULL_CLEARANCE
from ledger.export_files import VisibleMark, render
from service.bootstrap import Ledger
from service.client import LedgerClient

NAME = "exports"
TITLE = "export customers to CSV"
FIELDS = ["basic.name", "basic.phone", "basic.email", "source_channel", "registered_at"]
SIZES = (10_000, 100_000)
EXPORTER_ROLES = ["info_specialist"]


def _policy(ctx: BenchContext) -> Path:
    # Every size runs at once: the approval threshold is the policy's to set, not measured.
    path = ctx.workdir / "export-policy.toml"
    path.write_text("[export]\napproval_threshold = 10000000\n", encoding="utf-8")
    return path


def plain_select_csv(ledger: Ledger) -> int:
    """The baseline: the same rows, read plainly and written with the csv module."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer_id", *FIELDS])
    with ledger.views.snapshot() as cursor:
        rows = cursor.all("SELECT customer_id, name, profile, source_channel, registered_at"
                          " FROM customer_view WHERE erased_at IS NULL ORDER BY customer_id")
    writer.writerows(rows)
    return len(out.getvalue())


def _exporter(ledger: Ledger) -> Exports:
    handler = ledger.bus.handlers[next(cls for cls in ledger.bus.handlers
                                       if cls.name == "export")]
    exports: Exports = handler.__self__  # type: ignore[attr-defined]
    return exports


def mark_overhead(ledger: Ledger, runs: int) -> tuple[float, float]:
    """Median seconds to render one selection with its marks, and without."""
    exports = _exporter(ledger)
    columns = ["customer_id", *FIELDS]
    selection = exports.source.select(ExportFilter(), columns, FULL_CLEARANCE)
    marked, plain = [], []
    for _ in range(runs):
        export_id = str(uuid.uuid4())
        mark = VisibleMark(export_id, CLERK, datetime.now(UTC), "0" * 64, "0" * 20)
        with Stopwatch() as watch:
            table, _ = exports._table(export_id, columns, selection, FULL_CLEARANCE, mark)
            render(ExportFormat.CSV, columns, table, mark)
        marked.append(watch.seconds)
        with Stopwatch() as watch:
            render(ExportFormat.CSV, columns,
                   [[row.get(c) for c in columns] for row in selection.rows], mark)
        plain.append(watch.seconds)
    return sorted(marked)[len(marked) // 2], sorted(plain)[len(plain) // 2]


def run(ctx: BenchContext, backend: Backend, size: int, progress: Any) -> Result:
    with ctx.fresh_database(backend, stem="exports") as location:
        ledger = ctx.open_ledger(backend, location, policy_file=_policy(ctx))
        try:
            register_in_bulk(ledger, ctx.profiles(1000), size, progress)
            progress(f"projecting {size:,} customers")
            ledger.runner.catch_up()
            client = LedgerClient.in_process(ledger, CLERK, roles=EXPORTER_ROLES)

            def export_run() -> float:
                with Stopwatch() as watch:
                    answer = client.export_customers(FIELDS, purpose="benchmark")
                return rate(answer["result"]["rows"], watch.seconds)

            def plain_run() -> float:
                with Stopwatch() as watch:
                    plain_select_csv(ledger)
                return rate(size, watch.seconds)

            stats = interleave(ctx.sizes.runs, {"export": export_run, "plain": plain_run},
                               progress, budget=ctx.sizes.budget)
            with_marks, without = mark_overhead(ledger, 3)
        finally:
            ledger.close()
    return Result(
        benchmark=f"{TITLE}, {size:,} customers", backend=backend, unit="rows/s",
        figure=stats["export"], baseline=stats["plain"],
        baseline_label="rows/s of a plain SELECT of the same customer-view rows written "
                       "with the csv module (no opening, masking or marks)",
        notes=[f"LedgerClient.in_process().export_customers, {len(FIELDS)} fields, CSV, as "
               "info_specialist (contact fields opened and shown)",
               f"trace marks (keyed order, canaries, visible mark) cost {with_marks:.3f} s "
               f"against {without:.3f} s to render the same rows without: "
               f"{with_marks / without:.2f}x the rendering, "
               f"{(with_marks - without) / (size / stats['export'].median):.1%} of the "
               "whole export's time"])


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    sizes = SIZES if ctx.sizes.customers >= 2000 else (1_000,)
    return [run(ctx, backend, size, progress)
            for size in sizes for backend in ctx.backends()]
