"""Alerts that reach people (FT-2): the policy's rules over the log's figures, sent to every
configured webhook in Alertmanager's webhook payload (version 4), resolved the same way,
logged as structured events, and recorded in the register: a firing alert opens a fault
linked to it, and its resolution is recorded on that fault.

Alert texts name rules, projections and counts only: never an actor, a customer or a value.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx
import structlog

from ledger.domain.errors import LedgerError
from ledger.domain.messages import Message, message, rendered
from ledger.i18n import ENGLISH, translator
from ledger.policy_operations import AlertsPolicy

log = structlog.get_logger("ledger.alerts")

RECEIVER = "ledger"
WATCHDOG = "Watchdog"
# Alertmanager's "not ended" mark for a firing alert.
NOT_ENDED = "0001-01-01T00:00:00Z"
_FAULTS = uuid5(NAMESPACE_URL, "urn:customer-ledger:alert-fault")


class AlertNotDeliveredError(LedgerError):
    """A webhook did not accept the alert after every try (``ledger alerts test``)."""

    code = "alert_not_delivered"
    http_status = 502
    # sysexits.h's EX_PROTOCOL: the remote end did not answer as it should.
    exit_code = 76


@dataclass(frozen=True)
class Alert:
    """One alert: its rule's name, labels that tell instances apart, and its texts."""

    name: str
    severity: str
    # English, as it is logged and recorded on the fault; ``text`` reads it in a language.
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def text(self, language: str) -> str:
        """The summary in ``language`` (the policy's ``locale`` for a webhook's readers)."""
        return rendered(self.summary, translator(language))

    @property
    def fingerprint(self) -> str:
        text = self.name + "".join(f"|{k}={v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def all_labels(self) -> dict[str, str]:
        return {"alertname": self.name, "severity": self.severity, "service": "ledger",
                **self.labels}


@dataclass(frozen=True)
class RuleInputs:
    """What the rules judge: the log's figures and the register's and trail's counts."""

    head_position: int
    projection_positions: Mapping[str, int]
    projection_last_progress: Mapping[str, float]
    sealing_lag: int
    audit_last_write: float | None
    integrity_failed: bool
    failed_logins_in_window: int
    lockouts_in_window: int
    overdue_faults: int
    backups: Mapping[str, tuple[bool, bool]]
    """Each backup kind: (failed, overdue)."""
    now: float
    training_expiring: int = 0
    """Role grants whose training cover ends within the training policy's warning days."""
    training_warning_days: int = 0


def evaluate(rules: AlertsPolicy, inputs: RuleInputs) -> list[Alert]:
    """Every alert the rules fire on ``inputs``, the Watchdog first (it always fires)."""
    firing = [Alert(WATCHDOG, "none", message("The ledger's alerting is alive: this alert "
                                              "always fires, so its silence means the ledger "
                                              "is silent."))]
    lagging: list[Message] = []
    stalled: list[Message] = []
    for name, position in sorted(inputs.projection_positions.items()):
        # Lag against the true head of the log, never against a derived mark.
        lag = max(0, inputs.head_position - position)
        if rules.projection_lag_events and lag > rules.projection_lag_events:
            lagging.append(message("{name} ({lag} events behind)", name=name, lag=lag))
        stalled_for = inputs.now - inputs.projection_last_progress.get(name, inputs.now)
        if rules.projection_stalled_seconds and lag > 0 and (
                stalled_for > rules.projection_stalled_seconds):
            stalled.append(message("{name} ({lag} events behind, still for {seconds} s)",
                                   name=name, lag=lag, seconds=int(stalled_for)))
    # One alert for all the read models: they follow one log, so they mostly stall together.
    if lagging:
        firing.append(Alert("ProjectionLagging", "warning", message(
            "Read models lag the log: {models}.", models=tuple(lagging))))
    if stalled:
        firing.append(Alert("ProjectionStalled", "critical", message(
            "Read models stopped while the log moved on: {models}.", models=tuple(stalled))))
    if rules.sealing_lag_records and inputs.sealing_lag > rules.sealing_lag_records:
        firing.append(Alert("SealingLagging", "warning", message(
            "{records} records are not yet sealed into the hash chain.",
            records=inputs.sealing_lag)))
    if inputs.integrity_failed:
        firing.append(Alert("IntegrityCheckFailed", "critical", message(
            "The integrity check found stored history altered, deleted or reordered (ledger "
            "verify names the first bad position).")))
    if rules.failed_logins_per_window and (
            inputs.failed_logins_in_window >= rules.failed_logins_per_window):
        firing.append(Alert("FailedLoginBurst", "warning", message(
            "{failures} failed logins in the last {minutes} minutes.",
            failures=inputs.failed_logins_in_window, minutes=rules.login_window_minutes)))
    if rules.lockouts_per_window and inputs.lockouts_in_window >= rules.lockouts_per_window:
        firing.append(Alert("LockoutBurst", "critical", message(
            "{lockouts} accounts locked after failed logins in the last {minutes} minutes.",
            lockouts=inputs.lockouts_in_window, minutes=rules.login_window_minutes)))
    for kind, (failed, overdue) in sorted(inputs.backups.items()):
        if failed or overdue:
            firing.append(Alert("BackupFailed" if failed else "BackupOverdue", "critical",
                                message("The {kind} backup failed.", kind=kind) if failed
                                else message("The {kind} backup is overdue.", kind=kind),
                                {"kind": kind}))
    silent_for = inputs.now - (inputs.audit_last_write or inputs.now)
    if rules.audit_silence_seconds and silent_for > rules.audit_silence_seconds:
        firing.append(Alert("AuditWritesStopped", "warning", message(
            "Nothing has been written to the audit trail for {seconds} s.",
            seconds=int(silent_for))))
    if inputs.training_expiring:
        # TR-3's warning before a grant is suspended: a count only; the access review and
        # `ledger training overdue` name the people.
        firing.append(Alert("TrainingExpiring", "warning", message(
            "{grants} role grant(s) lose their training cover within {days} days and will "
            "be suspended unless a new assessment is passed (the access review lists them).",
            grants=inputs.training_expiring, days=inputs.training_warning_days)))
    if inputs.overdue_faults:
        firing.append(Alert("FaultOverdue", "warning", message(
            "{faults} open fault(s) are past their repair deadline (ledger fault list "
            "--overdue).", faults=inputs.overdue_faults)))
    return firing


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def webhook_payload(alerts: Sequence[tuple[Alert, float, float | None]], status: str,
                    external_url: str = "", language: str = ENGLISH) -> dict[str, Any]:
    """Alertmanager's webhook body, version 4, for ``(alert, starts_at, ends_at)`` triples
    that all have ``status`` (firing or resolved); the summaries in ``language``."""
    entries = [{"status": status, "labels": alert.all_labels,
                "annotations": {"summary": alert.text(language)},
                "startsAt": rfc3339(starts), "endsAt": rfc3339(ends) if ends else NOT_ENDED,
                "generatorURL": external_url, "fingerprint": alert.fingerprint}
               for alert, starts, ends in alerts]
    common = {"service": "ledger"}
    return {"version": "4", "groupKey": '{}:{service="ledger"}', "truncatedAlerts": 0,
            "status": status, "receiver": RECEIVER, "groupLabels": common,
            "commonLabels": common, "commonAnnotations": {}, "externalURL": external_url,
            "alerts": entries}


@dataclass(frozen=True)
class Delivery:
    """How one webhook answered: its HTTP status, or the transport error's kind."""

    url: str
    status_code: int | None
    attempts: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict[str, Any]:
        """What may be shown of the delivery: the webhook by its label, not its address."""
        return {"webhook": webhook_label(self.url), "status_code": self.status_code,
                "attempts": self.attempts, "error": self.error, "delivered": self.delivered}


class WebhookSender:
    """Posts a payload to every URL, each with ``attempts`` tries of ``timeout`` seconds;
    a transport error, a 429 or a 5xx is tried again after a short, growing pause."""

    def __init__(self, urls: Sequence[str], timeout: float, attempts: int,
                 pause: float = 0.2) -> None:
        self.urls = list(urls)
        self.timeout = timeout
        self.attempts = attempts
        self.pause = pause

    def send(self, payload: Mapping[str, Any]) -> list[Delivery]:
        with httpx.Client(timeout=self.timeout) as client:
            return [self._send_one(client, url, payload) for url in self.urls]

    def _send_one(self, client: httpx.Client, url: str, payload: Mapping[str, Any]
                  ) -> Delivery:
        delivery = Delivery(url, None, 0, "not_sent")
        for attempt in range(1, self.attempts + 1):
            try:
                answer = client.post(url, json=payload)
                delivery = Delivery(url, answer.status_code, attempt)
            except httpx.HTTPError as error:
                delivery = Delivery(url, None, attempt, type(error).__name__)
            retry = delivery.status_code is None or delivery.status_code == 429 or (
                delivery.status_code >= 500)
            if not retry:
                break
            if attempt < self.attempts:
                time.sleep(self.pause * 2 ** (attempt - 1))
        if not delivery.delivered:
            log.warning("alert_webhook_failed", webhook=webhook_label(url),
                        status_code=delivery.status_code, error=delivery.error,
                        attempts=delivery.attempts)
        return delivery


def webhook_label(url: str) -> str:
    """A webhook as a log line may name it: its scheme and host, and a digest of the rest.
    Many receivers carry their secret in the address itself (a token in the path or the
    query, a password before the host), and logs travel further than the policy file."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return f"{parts.scheme}://{where} (#{digest})"


def fault_id_of(alert: Alert, starts_at: float) -> UUID:
    """The fault an alert opens, the same for every retry of the same firing."""
    return uuid5(_FAULTS, f"{alert.fingerprint}:{starts_at:.6f}")


@dataclass
class Firing:
    alert: Alert
    starts_at: float
    last_sent: float
    fault_id: UUID | None


OpenFault = Callable[[Alert, float], UUID | None]
CloseAlert = Callable[[Alert, UUID], None]


class AlertState:
    """The alerts firing now and the transitions each evaluation brings: a new alert is
    logged, sent and opens a fault; a cleared one is logged, sent as resolved and recorded
    on its fault; one still firing is sent again every ``repeat_every_seconds``."""

    def __init__(self, rules: AlertsPolicy, sender: WebhookSender, open_fault: OpenFault,
                 close_alert: CloseAlert, external_url: str = "",
                 language: str = ENGLISH) -> None:
        self.rules = rules
        self.language = language
        self.sender = sender
        self.open_fault = open_fault
        self.close_alert = close_alert
        self.external_url = external_url
        self.firing: dict[str, Firing] = {}
        self.deliveries: list[Delivery] = []

    def update(self, alerts: Sequence[Alert], now: float) -> None:
        current = {alert.fingerprint: alert for alert in alerts}
        started = [alert for key, alert in current.items() if key not in self.firing]
        cleared = [firing for key, firing in self.firing.items() if key not in current]
        for alert in started:
            log.warning("alert_fired", alert=alert.name, severity=alert.severity,
                        labels=dict(alert.labels), summary=alert.summary,
                        fingerprint=alert.fingerprint)
            fault_id = None if alert.name == WATCHDOG else self.open_fault(alert, now)
            self.firing[alert.fingerprint] = Firing(alert, now, 0.0, fault_id)
        due = [firing for firing in self.firing.values()
               if firing.alert.fingerprint in current
               and now - firing.last_sent >= self.rules.repeat_every_seconds]
        if due:
            self._send([(f.alert, f.starts_at, None) for f in due], "firing")
            for firing in due:
                firing.last_sent = now
        if cleared:
            for firing in cleared:
                log.info("alert_resolved", alert=firing.alert.name,
                         labels=dict(firing.alert.labels), fingerprint=firing.alert.fingerprint)
                del self.firing[firing.alert.fingerprint]
                if firing.fault_id is not None:
                    self.close_alert(firing.alert, firing.fault_id)
            self._send([(f.alert, f.starts_at, now) for f in cleared], "resolved")

    def _send(self, alerts: list[tuple[Alert, float, float | None]], status: str) -> None:
        if self.sender.urls:
            self.deliveries = self.sender.send(webhook_payload(alerts, status,
                                                               self.external_url,
                                                               self.language))
