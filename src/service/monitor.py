"""Watching the ledger (FT-1, FT-2): the log's figures as read from the database, and the
alert monitor that judges them by the policy's rules every ``evaluate_every_seconds``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from commands.actor import Actor
from commands.bus import MessageBus
from ledger.follower import BackgroundFollower
from ledger.integrity.sealer import seal_status
from ledger.integrity.storage import EventLog
from ledger.integrity.verify import verify_chain
from ledger.policy import Policy
from ledger.sql import SqlDatabase
from ledger.store import LedgerStore
from projections.audit_trail import trail_time
from projections.faults import FaultQueries
from projections.runner import ProjectionRunner
from service.alerts import Alert, AlertState, RuleInputs, evaluate, fault_id_of
from service.metrics import BackupStatusProvider, Figures, OperationsMetrics, ProgressTracker

log = structlog.get_logger("ledger.alerts")

MONITOR_ACTOR = "system:alerts"
# The monitor records faults as an operator would; it holds no other role.
MONITOR_ROLES = frozenset({"sysadmin"})


class LogFigures:
    """Reads the figures of the log and its followers, in a few statements."""

    def __init__(self, store: LedgerStore, runner: ProjectionRunner, views: SqlDatabase,
                 backups: BackupStatusProvider, tracker: ProgressTracker | None = None,
                 drivers: Callable[[], dict[str, str]] = dict) -> None:
        self.store = store
        self.drivers = drivers
        self.runner = runner
        self.views = views
        self.backups = backups
        self.tracker = tracker or ProgressTracker()
        self.events = EventLog.of(views.dialect)

    def read(self) -> Figures:
        # The head is the highest position stored in the log itself (marten#4961: a
        # derived high-water mark that froze made every projection look current).
        head = self.store.head_position()
        positions = self.runner.positions()
        progress = self.tracker.observe(positions)
        with self.views.snapshot() as cursor:
            sealing = seal_status(cursor, self.events)
        return Figures(head, positions, progress, sealing.sealed_position,
                       sealing.unsealed_records, self._last_write(head),
                       dict(self.backups()), self.drivers())

    def _last_write(self, head: int) -> float | None:
        if not head:
            return None
        found = self.store.app_recorder.select_notifications(start=head, limit=1)
        if not found:
            return None
        event: Any = self.store.mapper.to_domain_event(found[0])
        moment: datetime = event.timestamp
        return moment.timestamp()


class AlertMonitor(BackgroundFollower):
    """Evaluates the alert rules on a timer and keeps the alert state (``service.alerts``)."""

    thread_name = "ledger-alerts"
    failure_event = "alert_evaluation_failed"

    def __init__(self, figures: LogFigures, policy: Policy, bus: MessageBus,
                 faults: FaultQueries, metrics: OperationsMetrics, state: AlertState,
                 trusted_keys: Callable[[], dict[bytes, str]],
                 now: Callable[[], float] = time.time,
                 training_expiring: Callable[[], int] = lambda: 0) -> None:
        super().__init__()
        self.figures = figures
        self.policy = policy
        self.rules = policy.alerts
        self.bus = bus
        self.faults = faults
        self.metrics = metrics
        self.state = state
        self.trusted_keys = trusted_keys
        self.now = now
        # How many grants lose their training cover soon (TR-3's warning).
        self.training_expiring = training_expiring
        self.integrity_failed = False
        self._last_integrity_check: float | None = None

    def run_once(self) -> int:
        """Evaluate once; 0, so the loop waits the evaluation interval."""
        self.state.update(self.evaluate(), self.now())
        return 0

    def evaluate(self) -> list[Alert]:
        now = self.now()
        figures = self.figures.read()
        self._check_integrity_if_due(now)
        failed, lockouts = self._login_counts(now)
        inputs = RuleInputs(
            head_position=figures.head_position,
            projection_positions=figures.projection_positions,
            projection_last_progress=figures.projection_last_progress,
            sealing_lag=figures.sealing_lag, audit_last_write=figures.audit_last_write,
            integrity_failed=self.integrity_failed, failed_logins_in_window=failed,
            lockouts_in_window=lockouts, overdue_faults=self.faults.count_overdue(),
            backups={kind: (status.failed, status.overdue)
                     for kind, status in figures.backups.items()},
            now=now, training_expiring=self.training_expiring(),
            training_warning_days=self.policy.training.warning_days)
        return evaluate(self.rules, inputs)

    def check_integrity(self) -> bool:
        """Verify the hash chain now; True if tampering was found (and counted)."""
        with self.figures.views.snapshot() as cursor:
            report = verify_chain(cursor, self.figures.events, trusted_keys=self.trusted_keys(),
                                  interval=timedelta(
                                      seconds=self.policy.checkpoint_every_seconds))
        self.integrity_failed = report.tampered
        if report.tampered:
            self.metrics.integrity_failures.inc()
            first = report.first
            log.error("integrity_check_failed", findings=report.findings_total,
                      first_position=first.position if first else None)
        return report.tampered

    def _check_integrity_if_due(self, now: float) -> None:
        every = self.rules.integrity_check_every_seconds
        if not every:
            return
        if self._last_integrity_check is None or now - self._last_integrity_check >= every:
            self._last_integrity_check = now
            self.check_integrity()

    def _login_counts(self, now: float) -> tuple[int, int]:
        """Failed logins and lockouts in the window, from the audit trail: every worker's."""
        since = trail_time(datetime.fromtimestamp(now, UTC) - timedelta(
            minutes=self.rules.login_window_minutes))
        with self.figures.views.snapshot() as cursor:
            failed = cursor.one("SELECT COUNT(*) FROM audit_trail WHERE kind = 'login' AND "
                                "operation = 'login-failed' AND recorded_at >= :since",
                                {"since": since})
            locked = cursor.one("SELECT COUNT(*) FROM audit_trail WHERE operation = "
                                "'Account.Locked' AND facts LIKE :reason AND "
                                "recorded_at >= :since",
                                {"since": since, "reason": '%"reason": "failed_logins"%'})
        return int(failed[0]) if failed else 0, int(locked[0]) if locked else 0


class AlertFaults:
    """Opens a fault for a firing alert and records its resolution on it, through the bus
    as the monitor's own actor, so both are in the audit trail."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.actor = Actor(MONITOR_ACTOR, MONITOR_ROLES, "alerts")

    def open(self, alert: Alert, starts_at: float) -> UUID | None:
        fault_id = fault_id_of(alert, starts_at)
        command: dict[str, Any] = {
            "command_id": f"alert-fault-{fault_id}", "fault_id": str(fault_id),
            "symptom": alert.summary, "impact": f"alert {alert.name} ({alert.severity})",
            "started_at": datetime.fromtimestamp(starts_at, UTC).isoformat(),
            "severity": "complex" if alert.severity == "critical" else "general",
            "alert": alert.name, "alert_fingerprint": alert.fingerprint}
        try:
            self.bus.execute_named("report-fault", command, self.actor)
        except Exception as error:  # the alert still goes out; the log says why no fault
            log.error("alert_fault_not_opened", alert=alert.name, error=type(error).__name__)
            return None
        return fault_id

    def close(self, alert: Alert, fault_id: UUID) -> None:
        try:
            self.bus.execute_named("record-fault-action", {
                "command_id": f"alert-resolved-{fault_id}", "fault_id": str(fault_id),
                "action": f"alert {alert.name} resolved"}, self.actor)
        except Exception as error:
            log.error("alert_resolution_not_recorded", alert=alert.name,
                      error=type(error).__name__)
