"""Metrics (FT-1) in the Prometheus text format, with ``prometheus-client``.

Two kinds of figure. Counters and the command-duration histogram count what happens in this
process (commands, queries, logins, lockouts, projection errors, integrity failures); they
are fed through the bus's observer port (``commands.observer``), so the command path only
bumps a counter. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before the service
starts, one directory shared by the workers) the client library keeps them in files there
and every worker's scrape adds them up. The figures of the log itself (head, projection
positions and lags, sealing lag, last audit write, last backups) are read from the database
at scrape time, so any worker answers the same.

No label holds an actor, a customer, a username or any value: labels are command and query
names, outcome codes, projection names and backup kinds, each from a fixed set.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# A command takes a few milliseconds; a slow one (a large import row, a lock wait) seconds.
# The job name of a read model (``service.processes.projection_job``).
PROJECTION_PREFIX = "projection:"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class BackupStatus:
    """The last successful backup of one kind, and whether the last one failed or the next
    one is overdue (the backup module reports these)."""

    last_success: datetime | None
    failed: bool = False
    overdue: bool = False


BackupStatusProvider = Callable[[], Mapping[str, BackupStatus]]
"""Each backup kind ("full", "incremental", "keys", ...) with its status."""


def no_backups_reported() -> Mapping[str, BackupStatus]:
    """The default provider: nothing is reported until a backup module is plugged in."""
    return {}


class ProgressTracker:
    """When each projection's position last moved, as seen by whoever samples the
    positions (the scrape, the alert monitor): it works whichever process runs them."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self._seen: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def observe(self, positions: Mapping[str, int]) -> dict[str, float]:
        """Record ``positions`` and return each projection's last-progress time."""
        now = self.now()
        with self._lock:
            for name, position in positions.items():
                last = self._seen.get(name)
                if last is None or last[0] != position:
                    self._seen[name] = (position, now)
            return {name: self._seen[name][1] for name in positions}


@dataclass(frozen=True)
class Figures:
    """The state of the log and its followers at one moment: what the scrape, the alert
    rules, ``/readyz`` and ``ledger metrics`` read."""

    head_position: int
    projection_positions: dict[str, int]
    projection_last_progress: dict[str, float]
    sealed_position: int
    sealing_lag: int
    audit_last_write: float | None
    backups: dict[str, BackupStatus] = field(default_factory=dict)
    # Each background job and the process that drives it (``service.processes.drivers``).
    drivers: dict[str, str] = field(default_factory=dict)

    def projection_lag(self, name: str) -> int:
        # Against the true head of the log (its highest stored position), never against a
        # mark a follower derives: a frozen mark would make every lag look like zero.
        return max(0, self.head_position - self.projection_positions[name])

    def as_dict(self) -> dict[str, Any]:
        return {
            "head_position": self.head_position,
            "projections": {name: {"position": position, "lag": self.projection_lag(name),
                                   "last_progress": self.projection_last_progress.get(name)}
                            for name, position in self.projection_positions.items()},
            "sealed_position": self.sealed_position, "sealing_lag": self.sealing_lag,
            "audit_last_write": self.audit_last_write,
            "backups": {kind: {"last_success": status.last_success.timestamp()
                               if status.last_success else None,
                               "failed": status.failed, "overdue": status.overdue}
                        for kind, status in self.backups.items()},
            "driven_by": dict(self.drivers),
        }


class OperationsMetrics:
    """The counters and the histogram; the bus's and the identity service's observer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.commands = Counter("ledger_commands", "Commands by name and outcome code.",
                                ["command", "outcome"], registry=registry)
        self.command_seconds = Histogram(
            "ledger_command_duration_seconds", "Time a command takes on the bus.",
            ["command"], registry=registry, buckets=DURATION_BUCKETS)
        self.queries = Counter("ledger_queries", "Queries by name and outcome code.",
                               ["query", "outcome"], registry=registry)
        self.projection_errors = Counter(
            "ledger_projection_errors", "Batches a projection failed to apply.",
            ["projection"], registry=registry)
        self.integrity_failures = Counter(
            "ledger_integrity_failures", "Integrity checks that found tampering.",
            registry=registry)
        self.logins = Counter("ledger_logins", "Logins by outcome (succeeded, failed).",
                              ["outcome"], registry=registry)
        self.lockouts = Counter("ledger_lockouts", "Accounts locked after failed logins.",
                                registry=registry)

    # OperationsObserver ---------------------------------------------------------

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command, outcome).inc()
        self.command_seconds.labels(command).observe(seconds)

    def query_done(self, query: str, outcome: str) -> None:
        self.queries.labels(query, outcome).inc()

    def login_done(self, outcome: str) -> None:
        self.logins.labels(outcome).inc()

    def account_locked_out(self) -> None:
        self.lockouts.inc()

    def projection_failed(self, projection: str) -> None:
        self.projection_errors.labels(projection).inc()

    # Readings for the alert rules (this process's counts) ---------------------------

    def total(self, counter: Counter, **labels: str) -> float:
        found = 0.0
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and all(
                        sample.labels.get(k) == v for k, v in labels.items()):
                    found += sample.value
        return found


class FiguresCollector(Collector):
    """The log's figures, read when scraped."""

    def __init__(self, figures: Callable[[], Figures]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        figures = self.figures()
        yield GaugeMetricFamily("ledger_head_position",
                                "The highest position stored in the event log.",
                                value=figures.head_position)
        positions = GaugeMetricFamily("ledger_projection_position",
                                      "The position each read model reflects.",
                                      labels=["projection"])
        lags = GaugeMetricFamily("ledger_projection_lag_events",
                                 "Events between the head of the log and each read model.",
                                 labels=["projection"])
        progress = GaugeMetricFamily("ledger_projection_last_progress_timestamp_seconds",
                                     "When each read model's position last moved.",
                                     labels=["projection"])
        for name, position in sorted(figures.projection_positions.items()):
            positions.add_metric([name], position)
            lags.add_metric([name], figures.projection_lag(name))
            progress.add_metric([name], figures.projection_last_progress.get(name, 0.0))
        yield from (positions, lags, progress)
        yield GaugeMetricFamily("ledger_sealing_lag_records",
                                "Records not yet sealed into the hash chain.",
                                value=figures.sealing_lag)
        yield GaugeMetricFamily("ledger_audit_last_write_timestamp_seconds",
                                "When the newest event of the log (the audit trail) was "
                                "written.", value=figures.audit_last_write or 0.0)
        backups = GaugeMetricFamily("ledger_backup_last_success_timestamp_seconds",
                                    "When the last backup of each kind succeeded.",
                                    labels=["kind"])
        for kind, status in sorted(figures.backups.items()):
            backups.add_metric([kind], status.last_success.timestamp()
                               if status.last_success else 0.0)
        yield backups
        yield from _driven_by(figures.drivers)


def _driven_by(drivers: Mapping[str, str]) -> Iterator[Metric]:
    """1 for each job and the process (host:pid, no personal data) that drives it."""
    projections = GaugeMetricFamily(
        "ledger_projection_driven_by", "1 for each read model and the process that keeps "
        "it (the holder of its lock).", labels=["projection", "process"])
    followers = GaugeMetricFamily(
        "ledger_follower_driven_by", "1 for the sealer and each follower and the process "
        "that drives it.", labels=["follower", "process"])
    for job, process in sorted(drivers.items()):
        name = job.removeprefix(PROJECTION_PREFIX)
        (projections if name != job else followers).add_metric([name, process], 1)
    yield from (projections, followers)


class MetricsEndpoint:
    """What ``/metrics`` answers: this process's counters (or, in multiprocess mode, every
    worker's, from the shared directory) and the log's figures."""

    def __init__(self, figures: Callable[[], Figures]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.operations = OperationsMetrics(self.registry)
        self.collector = FiguresCollector(figures)
        self.registry.register(self.collector)

    def render(self) -> bytes:
        directory = os.environ.get(MULTIPROCESS_DIRECTORY)
        if not directory:
            return generate_latest(self.registry)
        scrape = CollectorRegistry()
        MultiProcessCollector(scrape, path=directory)  # type: ignore[no-untyped-call]
        scrape.register(self.collector)
        return generate_latest(scrape)
