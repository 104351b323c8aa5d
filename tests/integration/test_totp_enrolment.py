"""Enrolling a second factor goes through the bus like every other command (LG-4): a retry
with the same command id replays the first outcome and keeps the secret it gave out, each
step leaves its audit record under its command, and a refusal writes nothing."""

from __future__ import annotations

import pytest

from commands.actor import Actor
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment
from ledger import totp
from ledger.domain.access import AccessRecord
from ledger.domain.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from projections.audit import AuditTrailQuery
from service.bootstrap import Ledger
from tests.accounts import confirm_totp_enrolment, open_account, start_totp_enrolment
from tests.conftest import FixedClock
from tests.privacy_support import AUDITOR
from tests.store_snapshot import snapshot_store, store_unchanged


def current_code(ledger: Ledger, clock: FixedClock, username: str) -> str:
    stored = ledger.access.credentials.totp_secret(username)
    assert stored is not None
    return totp.code_at(stored[0], clock.now.timestamp())


def is_confirmed(ledger: Ledger, username: str) -> bool | None:
    stored = ledger.access.credentials.totp_secret(username)
    return None if stored is None else stored[1]


def test_a_retried_start_replays_its_outcome_and_keeps_the_secret_it_gave_out(
        ledger: Ledger) -> None:
    actor = open_account(ledger, "li.na", "sales")
    first = ledger.bus.execute(StartTotpEnrolment(username="li.na", command_id="enrol-1"), actor)
    shown = ledger.access.totp.provisioning("li.na")
    before = snapshot_store(ledger.store)

    again = ledger.bus.execute(StartTotpEnrolment(username="li.na", command_id="enrol-1"), actor)

    assert again["replayed"] is True
    assert (again["result"], again["position"]) == (first["result"], first["position"])
    assert snapshot_store(ledger.store) == before
    assert ledger.access.totp.provisioning("li.na") == shown
    # A new command id is a new start: a new secret replaces the unconfirmed one.
    start_totp_enrolment(ledger, actor)
    assert ledger.access.totp.provisioning("li.na")["secret"] != shown["secret"]


def test_a_retried_confirmation_replays_its_outcome(ledger: Ledger, clock: FixedClock) -> None:
    actor = open_account(ledger, "li.na", "sales")
    start_totp_enrolment(ledger, actor)
    code = current_code(ledger, clock, "li.na")
    first = confirm_totp_enrolment(ledger, actor, code, command_id="confirm-1")
    before = snapshot_store(ledger.store)

    again = confirm_totp_enrolment(ledger, actor, code, command_id="confirm-1")

    assert again["replayed"] is True and again["result"] == first["result"]
    assert again["result"] == {"username": "li.na", "totp_enrolled": True}
    assert snapshot_store(ledger.store) == before
    assert is_confirmed(ledger, "li.na") is True


def test_each_step_is_recorded_in_the_audit_trail_under_its_command(
        ledger: Ledger, clock: FixedClock) -> None:
    actor = open_account(ledger, "li.na", "sales")
    before = snapshot_store(ledger.store)
    start_totp_enrolment(ledger, actor, command_id="enrol-1")
    confirm_totp_enrolment(ledger, actor, current_code(ledger, clock, "li.na"),
                           command_id="confirm-1")

    added = [record.decode(ledger.store) for record in snapshot_store(ledger.store)
             .added_since(before)]
    steps = [(type(event), event.username, event.meta["actor"], event.meta["command_id"])
             for event in added
             if isinstance(event, AccessRecord.TotpEnrolmentStarted | AccessRecord.TotpEnrolled)]
    assert steps == [(AccessRecord.TotpEnrolmentStarted, "li.na", "li.na", "enrol-1"),
                     (AccessRecord.TotpEnrolled, "li.na", "li.na", "confirm-1")]
    ledger.runner.catch_up()
    trail = ledger.bus.ask(AuditTrailQuery(actor="li.na"), AUDITOR)["entries"]
    assert [(e["kind"], e["operation"]) for e in trail if e["command_id"] in (
        "enrol-1", "confirm-1")] == [
        ("login", "start-totp-enrolment"), ("command", "start-totp-enrolment"),
        ("login", "enrol-totp"), ("command", "confirm-totp-enrolment")]


def test_a_wrong_code_is_refused_and_writes_nothing(ledger: Ledger, clock: FixedClock) -> None:
    actor = open_account(ledger, "li.na", "sales")
    start_totp_enrolment(ledger, actor)
    wrong = f"{(int(current_code(ledger, clock, 'li.na')) + 1) % 10**6:06d}"

    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        confirm_totp_enrolment(ledger, actor, wrong)

    assert refused.value.fields == ["code"]
    assert is_confirmed(ledger, "li.na") is False
    # The refused code's step was not claimed: the right code still confirms.
    confirm_totp_enrolment(ledger, actor, current_code(ledger, clock, "li.na"))


def test_a_start_once_enrolled_is_refused_and_keeps_the_secret(
        ledger: Ledger, clock: FixedClock) -> None:
    actor = open_account(ledger, "li.na", "sales")
    start_totp_enrolment(ledger, actor)
    confirm_totp_enrolment(ledger, actor, current_code(ledger, clock, "li.na"))
    secret = ledger.access.credentials.totp_secret("li.na")

    with store_unchanged(ledger.store), pytest.raises(ConflictError, match="enrolled already"):
        ledger.bus.execute(StartTotpEnrolment(username="li.na"), actor)
    with store_unchanged(ledger.store), pytest.raises(ConflictError, match="waiting"):
        ledger.bus.execute(ConfirmTotpEnrolment(username="li.na", code="123456"), actor)

    assert ledger.access.credentials.totp_secret("li.na") == secret
    with pytest.raises(ConflictError):  # a confirmed secret is never shown again
        ledger.access.totp.provisioning("li.na")


def test_a_confirmation_with_nothing_started_is_refused_and_writes_nothing(
        ledger: Ledger) -> None:
    actor = open_account(ledger, "li.na", "sales")
    with store_unchanged(ledger.store), pytest.raises(ConflictError, match="waiting"):
        confirm_totp_enrolment(ledger, actor, "123456")
    assert is_confirmed(ledger, "li.na") is None


def test_another_account_cannot_start_or_confirm_my_enrolment(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    other = Actor("zhou.min", frozenset({"sales"}), client_address="127.0.0.1")
    with pytest.raises(PermissionDeniedError, match="not allowed"):
        ledger.bus.execute(StartTotpEnrolment(username="li.na"), other)
    assert is_confirmed(ledger, "li.na") is None
