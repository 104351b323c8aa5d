"""``ledger metrics``, ``ledger alerts test``, ``ledger fault ...`` and ``ledger incident ...``
(FT-1..FT-3, IR-1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from prometheus_client.parser import text_string_to_metric_families

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from service.alerts import Alert, AlertNotDeliveredError, WebhookSender, webhook_payload
from service.cli.common import (
    admin_client,
    local_ledger,
    more_note,
    note,
    number,
    options,
    out,
    run,
    settings,
    show,
    show_outcome,
    table,
    tr,
    when,
)
from service.policy import load_service_policy

alerts_app = typer.Typer(help="Alerts (FT-2): test the webhooks.", no_args_is_help=True)
fault_app = typer.Typer(help="The fault register (FT-3).", no_args_is_help=True)
incident_app = typer.Typer(help="Security incidents and the one-step lock (IR-1).",
                           no_args_is_help=True)

TEST_ALERT = Alert("LedgerTestAlert", "none", N_("A test alert sent by `ledger alerts test`."))


def _now() -> datetime:
    return datetime.now(UTC)


# Metrics ---------------------------------------------------------------------

def _yes_no(value: Any) -> str:
    return tr(N_("yes")) if value else tr(N_("no"))


def _samples(text: str) -> list[dict[str, Any]]:
    """Each sample worth a line: the histogram's buckets and the counters' creation times
    stay for Prometheus."""
    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            rows.append({"metric": sample.name, "labels": dict(sample.labels),
                         "value": sample.value})
    return rows


def metrics() -> None:
    """The metrics in a table: the service's with --url, else the local database's (the
    log's figures; the counters count only the service's own work)."""
    def action() -> list[dict[str, Any]]:
        if options.url:
            with admin_client() as client:
                return _samples(client.metrics_text())
        with local_ledger() as ledger:
            return _samples(ledger.metrics.render().decode())

    def render(rows: list[dict[str, Any]]) -> None:
        shown = table("metric", "labels", "value")
        for row in rows:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(row["labels"].items()))
            shown.add_row(row["metric"], labels, _value_text(row["metric"], row["value"]))
        out.print(shown)

    show(run(action), render)


def _value_text(metric: str, value: float) -> str:
    if metric.endswith("_timestamp_seconds"):
        return datetime.fromtimestamp(value, UTC).isoformat() if value else tr(N_("never"))
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.6g}"


# Alerts ----------------------------------------------------------------------

@alerts_app.command("test")
def alerts_test() -> None:
    """Send a test alert to every webhook of LEDGER_ALERT_WEBHOOK_URLS and show each answer."""
    def action() -> list[dict[str, Any]]:
        chosen = settings()
        if not chosen.webhook_urls:
            raise ValidationFailedError(
                [Problem("LEDGER_ALERT_WEBHOOK_URLS", N_("no webhook is configured"))],
                N_("no webhook to test: set LEDGER_ALERT_WEBHOOK_URLS"))
        policy = load_service_policy(chosen.policy_file)
        rules = policy.alerts
        sender = WebhookSender(chosen.webhook_urls, rules.webhook_timeout_seconds,
                               rules.webhook_attempts)
        started = _now().timestamp()
        deliveries = sender.send(webhook_payload([(TEST_ALERT, started, None)], "firing",
                                                 chosen.external_url or "", policy.locale))
        return [delivery.as_dict() for delivery in deliveries]

    def render(rows: list[dict[str, Any]]) -> None:
        shown = table("webhook", "answer", "tries", "delivered")
        for row in rows:
            answer = row["status_code"] if row["status_code"] is not None else row["error"]
            shown.add_row(row["webhook"], str(answer), str(row["attempts"]),
                          _yes_no(row["delivered"]))
        out.print(shown)

    rows = run(action)
    show(rows, render)
    failed = [row["webhook"] for row in rows if not row["delivered"]]
    if failed:
        run(lambda: _refuse_undelivered(failed))


def _refuse_undelivered(webhooks: list[str]) -> None:
    raise AlertNotDeliveredError(message("{count} webhook(s) did not accept the test alert",
                                         count=len(webhooks)),
                                 details={"webhooks": webhooks})


# Faults ----------------------------------------------------------------------

def _moment(value: str | None) -> str:
    if value is None:
        return _now().isoformat()
    return value


@fault_app.command("report")
def fault_report(
    symptom: Annotated[str, typer.Option(help="What is seen.")],
    impact: Annotated[str, typer.Option(help="Who or what is affected, and how.")],
    started_at: Annotated[str | None, typer.Option(
        help="When it started (ISO 8601 with an offset; default now).")] = None,
    severity: Annotated[str, typer.Option(help="general or complex.")] = "general",
) -> None:
    """Record a fault; its repair deadline is counted in working hours (the policy's
    faults table)."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.report_fault(symptom, _moment(started_at), impact, severity=severity)

    show_outcome(run(action))


@fault_app.command("acknowledge")
def fault_acknowledge(fault_id: str) -> None:
    """Say that you are handling the fault."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.acknowledge_fault(fault_id)

    show_outcome(run(action))


@fault_app.command("action")
def fault_action(fault_id: str, action_taken: Annotated[str, typer.Argument(
        metavar="ACTION", help="The step taken.")]) -> None:
    """Record one step taken on the fault."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.record_fault_action(fault_id, action_taken)

    show_outcome(run(action))


@fault_app.command("resolve")
def fault_resolve(
    fault_id: str,
    resolution: Annotated[str, typer.Option(help="What repaired it.")],
    evidence: Annotated[str | None, typer.Option(help="What shows it is repaired.")] = None,
) -> None:
    """Close the fault with its resolution and evidence."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.resolve_fault(fault_id, resolution, evidence=evidence)

    show_outcome(run(action))


@fault_app.command("list")
def fault_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past their "
                                          "repair deadline.")] = False,
    all_faults: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """The open faults (or only the overdue ones), the nearest deadline first."""
    status = "overdue" if overdue else "all" if all_faults else "open"

    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.list_faults(status, limit=limit)

    def render(answer: dict[str, Any]) -> None:
        shown = table("fault id", "status", "severity", "due by", "overdue", "symptom",
                      "alert")
        for fault in answer["faults"]:
            shown.add_row(fault["fault_id"], fault["status"], fault["severity"],
                          fault["due_by"], _yes_no(fault["overdue"]),
                          fault["symptom"], fault["alert"] or "")
        out.print(shown)
        note(tr(message("{count} fault(s){more}, judged at {now}",
                        count=number(len(answer["faults"])),
                        more=more_note(answer), now=when(answer["now"]))))

    show(run(action), render)


# Incidents -------------------------------------------------------------------

@incident_app.command("report")
def incident_report(
    kind: Annotated[str, typer.Option(help="attack, data_leak or system_failure.")],
    summary: Annotated[str, typer.Option(help="What happened (no personal data).")],
    detected_at: Annotated[str | None, typer.Option(
        help="When it was detected (ISO 8601 with an offset; default now).")] = None,
) -> None:
    """Record a security incident."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.report_incident(kind, summary, _moment(detected_at))

    show_outcome(run(action))


@incident_app.command("step")
def incident_step(incident_id: str, step: str) -> None:
    """Record one response step taken for the incident."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.record_incident_step(incident_id, step)

    show_outcome(run(action))


@incident_app.command("lock")
def incident_lock(
    incident_id: str,
    username: Annotated[str | None, typer.Option(help="Lock this account.")] = None,
    role: Annotated[str | None, typer.Option(help="Lock every account holding this role.")
                    ] = None,
) -> None:
    """Lock an account or every holder of a role in one step, recorded on the incident."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.lock_for_incident(incident_id, username=username, role=role)

    show_outcome(run(action))


@incident_app.command("close")
def incident_close(incident_id: str,
                   resolution: Annotated[str, typer.Option(help="How it ended.")]) -> None:
    """Close the incident."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.close_incident(incident_id, resolution)

    show_outcome(run(action))


@incident_app.command("list")
def incident_list(limit: Annotated[int, typer.Option(help="At most this many.")] = 100
                  ) -> None:
    """Security incidents with their response steps, newest first."""
    def action() -> dict[str, Any]:
        with admin_client() as client:
            return client.list_incidents(limit=limit)

    def render(answer: dict[str, Any]) -> None:
        shown = table("incident id", "kind", "detected at", "closed", "summary", "steps")
        for incident in answer["incidents"]:
            steps = "; ".join(_step_text(step) for step in incident["steps"])
            shown.add_row(incident["incident_id"], incident["kind"], incident["detected_at"],
                          _yes_no(incident["closed"]), incident["summary"], steps)
        out.print(shown)

    show(run(action), render)


def _step_text(step: dict[str, Any]) -> str:
    if step["step"] == "lock":
        return f"lock {step['target']}: {', '.join(step['locked']) or 'nobody'}"
    return str(step["step"])
