"""``/metrics`` (FT-1) on SQLite and PostgreSQL: every listed metric, in text that
``prometheus_client.parser`` reads, with no personal value anywhere in it (scanned for the
test customers' values and the usernames); access only for a session allowed ``metrics``
or a scraper holding the metrics token; ``/readyz``."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from commands.customers import RegisterCustomer
from ledger.credentials import AuthenticationError
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from service.http import create_app
from service.metrics import BackupStatus
from tests.accounts import PASSWORD, open_account
from tests.factories import make_profile
from tests.privacy_support import CLERK, distinctive_profile, strings_in

LISTED = {
    "ledger_commands", "ledger_command_duration_seconds", "ledger_queries",
    "ledger_head_position", "ledger_projection_position", "ledger_projection_lag_events",
    "ledger_projection_last_progress_timestamp_seconds", "ledger_projection_errors",
    "ledger_sealing_lag_records", "ledger_integrity_failures", "ledger_logins",
    "ledger_lockouts", "ledger_backup_last_success_timestamp_seconds",
    "ledger_audit_last_write_timestamp_seconds",
}


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {family.name: [(s.name, s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(text)}


@pytest.fixture
def busy(ledger: Ledger) -> Ledger:
    """A ledger that has registered and read customers with unmistakable values, and seen
    logins succeed and fail."""
    for locale in ("zh_CN", "en_US"):
        outcome = ledger.bus.execute(RegisterCustomer(profile=distinctive_profile(locale)),
                                     CLERK)
        ledger.runner.catch_up()
        ledger.bus.ask(GetCustomer(customer_id=outcome["aggregate_id"]), CLERK)
    open_account(ledger, "ouyang.cuihua", "sales")
    ledger.access.identity.login("ouyang.cuihua", PASSWORD, client_address="127.0.0.1")
    with pytest.raises(AuthenticationError):
        ledger.access.identity.login("ouyang.cuihua", "wrong", client_address="127.0.0.1")
    ledger.runner.catch_up()
    return ledger


def test_every_listed_metric_is_exposed_and_parses(busy: Ledger) -> None:
    families = _families(busy.metrics.render().decode())

    assert set(families) >= LISTED, LISTED - set(families)
    commands = {(labels["command"], labels["outcome"]): value
                for name, labels, value in families["ledger_commands"]
                if name == "ledger_commands_total"}
    assert commands[("register-customer", "accepted")] == 2
    logins = {labels["outcome"]: value for name, labels, value in families["ledger_logins"]
              if name == "ledger_logins_total"}
    assert logins == {"succeeded": 1, "failed": 1}
    head = families["ledger_head_position"][0][2]
    assert head == busy.store.head_position()
    lags = {labels["projection"]: value
            for _, labels, value in families["ledger_projection_lag_events"]}
    assert set(lags) == set(busy.runner.projections) and set(lags.values()) == {0}


def test_no_label_or_value_of_the_metrics_holds_personal_data(busy: Ledger) -> None:
    text = busy.metrics.render().decode()
    personal = {value for locale in ("zh_CN", "en_US")
                for value in strings_in(distinctive_profile(locale))
                if len(value) >= 6 and not value.isdigit()}
    with busy.views.snapshot() as cursor:
        customer_ids = {row[0] for row in cursor.all("SELECT customer_id FROM customer_view")}
    for value in personal | customer_ids | {"ouyang.cuihua", CLERK.id}:
        assert value not in text, "a personal value reached the metrics"
    labels = {key for family in text_string_to_metric_families(text)
              for sample in family.samples for key in sample.labels}
    assert labels <= {"command", "outcome", "query", "projection", "kind", "le"}


def test_lagging_read_models_are_measured_against_the_head_of_the_log(ledger: Ledger) -> None:
    ledger.bus.execute(RegisterCustomer(profile=distinctive_profile("zh_CN")), CLERK)
    # The runner is not running: the head moves, the read models do not.
    lags = {labels["projection"]: value for _, labels, value in _families(
        ledger.metrics.render().decode())["ledger_projection_lag_events"]}
    assert set(lags.values()) == {ledger.store.head_position()}


def test_backups_are_reported_by_the_provider_plugged_in_at_bootstrap(
        make_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    last = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    ledger = make_ledger(sqlite_url)
    ledger.figures.backups = lambda: {"full": BackupStatus(last)}
    [(_, labels, value)] = _families(ledger.metrics.render().decode())[
        "ledger_backup_last_success_timestamp_seconds"]
    assert labels == {"kind": "full"} and value == last.timestamp()


def test_metrics_need_the_metrics_permission_or_the_scrape_token(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text("scrape-secret-5531\n", encoding="utf-8")
    ledger = make_ledger(database_url, metrics_token_file=token_file)
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "wu.hao", "auditor")
    ledger.runner.catch_up()
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        def token(username: str) -> str:
            answer = http.post("/auth/login", json={"username": username,
                                                    "password": PASSWORD})
            return str(answer.json()["token"])

        anonymous = http.get("/metrics")
        sales = http.get("/metrics", headers={"Authorization": f"Bearer {token('li.na')}"})
        auditor = http.get("/metrics", headers={"Authorization": f"Bearer {token('wu.hao')}"})
        scraper = http.get("/metrics", headers={"Authorization": "Bearer scrape-secret-5531"})
        wrong = http.get("/metrics", headers={"Authorization": "Bearer scrape-secret-5532"})

    assert anonymous.status_code == 401
    assert sales.status_code == 403 and sales.json()["error"]["code"] == "permission_denied"
    assert wrong.status_code == 401
    for allowed in (auditor, scraper):
        assert allowed.status_code == 200
        assert allowed.headers["content-type"].startswith("text/plain")
        assert "ledger_head_position" in _families(allowed.text)


def test_readyz_says_whether_this_process_can_serve(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text((Path(__file__).resolve().parents[1] / "fast_hashing_policy.toml")
                      .read_text(encoding="utf-8")
                      + "\n[alerts]\nprojection_lag_events = 1\n", encoding="utf-8")
    ledger = make_ledger(database_url, policy_file=policy)
    with TestClient(create_app(ledger)) as http:
        ready = http.get("/readyz")
        for seed in (1, 2):
            ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=seed)), CLERK)
        behind = http.get("/readyz")

    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"database", "key_material", "projections"}
    assert behind.status_code == 503 and behind.json()["status"] == "not_ready"
    assert behind.json()["checks"]["projections"] == {"ok": False,
                                                      "detail": "ProjectionsBehindError"}
    assert behind.json()["checks"]["database"]["ok"]


def test_readyz_is_not_ready_once_the_kek_was_rotated_by_another_process(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    serving = make_ledger(database_url)
    rotating = make_ledger(database_url)  # ledger keys rotate-kek, run beside the service
    with TestClient(create_app(serving)) as http:
        assert http.get("/readyz").status_code == 200
        rotating.keys.rotate_kek(os.urandom(32))

        after = http.get("/readyz")

    assert after.status_code == 503 and after.json()["status"] == "not_ready"
    assert after.json()["checks"]["key_material"] == {"ok": False, "detail": "KekRotatedError"}
