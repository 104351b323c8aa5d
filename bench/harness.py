"""The shared harness: interleaved runs, median and spread, and the Markdown/Rich tables.

Every benchmark measures its figure and its baseline in the same process, run after run,
alternating which goes first, so slow drift on a noisy machine hits both alike.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stats:
    """One measurement repeated: the value of each run, and its median and spread."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def spread(self) -> str:
        return f"{fmt(self.median)} ({fmt(self.min)}-{fmt(self.max)})"


@dataclass
class Result:
    """One row of the results table: a figure, the baseline it is judged against, the ratio."""

    benchmark: str
    backend: str
    unit: str
    figure: Stats
    baseline: Stats | None
    baseline_label: str
    higher_is_better: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """Figure median over baseline median: a fraction of raw speed for rates (higher is
        better), a multiple of raw latency for latencies (lower is better)."""
        if self.baseline is None or self.baseline.median == 0:
            return None
        return self.figure.median / self.baseline.median

    @property
    def ratio_text(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "-"
        return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


@dataclass
class Skipped:
    benchmark: str
    backend: str
    reason: str


def fmt(value: float) -> str:
    """A figure with a sensible number of digits and thousands separators."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


MIN_RUNS = 3


def interleave(runs: int, measures: dict[str, Callable[[], float]],
               progress: Callable[[str], None] | None = None,
               budget: float | None = None) -> dict[str, Stats]:
    """Run every measure ``runs`` times, rotating which goes first each run.

    With a ``budget`` (seconds), stop after the first complete run past it, but never
    before ``MIN_RUNS`` runs: a loaded machine gets fewer runs, not a longer bench."""
    names = list(measures)
    values: dict[str, list[float]] = {name: [] for name in names}
    started = time.perf_counter()
    for run in range(runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            if progress is not None:
                progress(f"run {run + 1}/{runs}: {name}")
            values[name].append(measures[name]())
        over = budget is not None and time.perf_counter() - started > budget
        if over and run + 1 >= MIN_RUNS:
            break
    return {name: Stats(tuple(found)) for name, found in values.items()}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


class Stopwatch:
    """``with Stopwatch() as watch: ...``; then ``watch.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started


def latencies_ms(call: Callable[[object], object], items: Iterable[object]) -> list[float]:
    """The latency of ``call(item)`` for each item, in milliseconds."""
    found: list[float] = []
    clock = time.perf_counter
    for item in items:
        started = clock()
        call(item)
        found.append((clock() - started) * 1000)
    return found


# Tables ---------------------------------------------------------------------------------

HEADERS = ("Benchmark", "Backend", "Figure", "Unit", "Min-max", "Baseline", "Baseline min-max",
           "Ratio", "Runs")


def timed_threads(workers: Sequence[Callable[[int], object]], count: int
                  ) -> tuple[float, list[float]]:
    """Seconds for the workers to take items 0..count-1 from one shared queue, each worker
    calling its function per item, all starting together; and each call's latency in ms."""
    next_index = itertools.count()
    latencies: list[list[float]] = [[] for _ in workers]
    barrier = threading.Barrier(len(workers) + 1)
    failures: list[BaseException] = []

    def work(number: int) -> None:
        call, found = workers[number], latencies[number]
        clock = time.perf_counter
        barrier.wait()
        try:
            while (index := next(next_index)) < count:
                started = clock()
                call(index)
                found.append((clock() - started) * 1000)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,), name=f"bench-worker-{n}")
               for n in range(len(workers))]
    for thread in threads:
        thread.start()
    barrier.wait()
    with Stopwatch() as watch:
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return watch.seconds, [ms for found in latencies for ms in found]


def table_rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    """One row per result: medians, their spreads over the runs, and the ratio."""
    rows: list[tuple[str, ...]] = []
    for result in results:
        base = result.baseline
        rows.append((
            result.benchmark,
            result.backend,
            fmt(result.figure.median),
            result.unit,
            f"{fmt(result.figure.min)}-{fmt(result.figure.max)}",
            fmt(base.median) if base else "-",
            f"{fmt(base.min)}-{fmt(base.max)}" if base else "-",
            result.ratio_text,
            str(len(result.figure.values)),
        ))
    return rows


def baseline_legend(results: Sequence[Result]) -> list[str]:
    """What each benchmark's baseline is, once per benchmark."""
    seen: dict[str, str] = {}
    for result in results:
        seen.setdefault(result.benchmark, result.baseline_label)
    return [f"{name}: {label}" for name, label in seen.items()]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; numeric-looking columns are right-aligned."""
    rows = [list(row) for row in rows]
    numeric = [
        bool(rows) and all(_looks_numeric(row[i]) for row in rows) for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("x", "").strip()
    return stripped.isdigit()


def rich_table(results: Sequence[Result], skipped: Sequence[Skipped], title: str) -> object:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    justify = {"Figure": "right", "Min-max": "right", "Baseline": "right",
               "Baseline min-max": "right", "Ratio": "right", "Runs": "right"}
    for header in HEADERS:
        table.add_column(header, justify=justify.get(header, "left"))  # type: ignore[arg-type]
    for result, row in zip(results, table_rows(results), strict=True):
        style = None
        ratio = result.ratio
        if ratio is not None:
            good = ratio >= 1 if result.higher_is_better else ratio <= 1
            style = "green" if good else None
        table.add_row(*row, style=style)
    for skip in skipped:
        table.add_row(skip.benchmark, skip.backend, "-", "-", "-", "-", "-", "-", "0",
                      style="yellow")
    return table
