"""Training and assessment that gate access (TR-1..TR-3), on both backends: records on the
account, the grant check and its refusals, the initial administrator's exemption, and the
follower that suspends a grant when its assessment expires and lifts it on a new pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from commands.actor import Actor
from commands.roles import GrantRole
from commands.training import RecordAssessment, RecordTraining
from ledger.domain.account import Account, account_id
from ledger.domain.errors import ValidationFailedError, WorkflowViolationError
from ledger.domain.training import GrantSuspended, GrantSuspensionLifted
from projections.account_queries import AccessReview, ListAccounts
from projections.training_queries import OverdueAssessments, TrainingPassRates
from service.bootstrap import Ledger
from tests.accounts import (
    ADMIN,
    PASSWORD,
    assessed,
    create,
    grant,
    open_account,
    two_administrators,
)
from tests.conftest import FixedClock
from tests.store_snapshot import snapshot_store, store_unchanged

HOME = "127.0.0.1"


def account(ledger: Ledger, username: str) -> Account:
    found = ledger.store.repository.get(account_id(username))
    assert isinstance(found, Account)
    return found


def new_events(ledger: Ledger, before: object) -> list[object]:
    after = snapshot_store(ledger.store)
    return [record.decode(ledger.store) for record in after.added_since(before)]  # type: ignore[arg-type]


# Recording -------------------------------------------------------------------------------

def test_training_and_a_passed_assessment_are_recorded_on_the_account(ledger: Ledger) -> None:
    create(ledger, "li.na")
    ledger.bus.execute(RecordTraining(
        username="li.na", course="customer-data-handling", course_version="1",
        trained_on="2026-11-01", trainer="Wang Fang", method="classroom"), ADMIN)
    outcome = assessed(ledger, "li.na", score=80)

    assert outcome["result"]["passed"] is True  # the pass mark is 80
    assert outcome["result"]["valid_until"] == "2027-11-01"  # the 12-month period
    li_na = account(ledger, "li.na")
    assert [t["trainer"] for t in li_na.trainings] == ["Wang Fang"]
    (assessment,) = li_na.assessments
    assert (assessment["score"], assessment["assessor"]) == (80, ADMIN.id)


def test_a_score_below_the_pass_mark_is_recorded_as_not_passed(ledger: Ledger) -> None:
    create(ledger, "li.na")
    assert assessed(ledger, "li.na", score=79)["result"] == {
        "username": "li.na", "course": "customer-data-handling",
        "assessment_id": account(ledger, "li.na").assessments[0]["assessment_id"],
        "passed": False, "valid_until": None}


@pytest.mark.parametrize(("fields", "field"), [
    ({"score": 101}, "score"),
    ({"score": -1}, "score"),
    ({"course": "fire-safety"}, "course"),
    ({"assessed_on": "2026-11-28"}, "assessed_on"),  # tomorrow, by the fixed clock
], ids=["score-101", "score-negative", "unknown-course", "future-date"])
def test_an_invalid_assessment_is_refused_naming_the_field_and_writes_nothing(
        ledger: Ledger, fields: dict[str, object], field: str) -> None:
    create(ledger, "li.na")
    payload = {"username": "li.na", "course": "customer-data-handling", "score": 90,
               "assessed_on": "2026-11-02"} | fields
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute_named("record-assessment", payload, ADMIN)
    assert refused.value.fields == [field]


def test_an_unknown_course_is_refused_for_training_too_and_lists_the_courses(
        ledger: Ledger) -> None:
    create(ledger, "li.na")
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute(RecordTraining(
            username="li.na", course="fire-safety", course_version="1",
            trained_on="2026-11-01", trainer="Wang Fang", method="online"), ADMIN)
    (problem,) = refused.value.problems
    assert problem.field == "course" and "customer-data-handling" in problem.message


@pytest.mark.parametrize("who", ["recorder", "assessor"])
def test_no_one_records_an_assessment_of_themselves(ledger: Ledger, who: str) -> None:
    create(ledger, "li.na")
    li_na_as_admin = Actor("li.na", frozenset({"sysadmin"}))
    command = RecordAssessment(username="li.na", course="customer-data-handling", score=95,
                               assessed_on="2026-11-02",
                               assessor="li.na" if who == "assessor" else None)
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError,
                                                      match="assess themselves"):
        ledger.bus.execute(command, li_na_as_admin if who == "recorder" else ADMIN)


# The grant check -------------------------------------------------------------------------

def test_with_two_administrators_a_grant_without_a_pass_is_refused_naming_what_is_missing(
        ledger: Ledger) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", score=60)

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError) as refused:
        ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)

    assert "customer-data-handling" in refused.value.message
    assert refused.value.details == {"role": "sales", "missing": [
        {"course": "customer-data-handling", "status": "not_passed"}]}


def test_a_grant_relies_on_a_passed_assessment_and_records_which(ledger: Ledger) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na")
    before = snapshot_store(ledger.store)

    outcome = ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)

    (requested,) = [e for e in new_events(ledger, before)
                    if isinstance(e, Account.RoleGrantRequested)]
    passed = account(ledger, "li.na").assessments[0]
    assert requested.assessment == {
        "assessment_id": passed["assessment_id"], "course": "customer-data-handling",
        "version": passed["version"], "valid_until": "2027-11-01"}
    assert requested.exemption is None
    assert outcome["result"]["assessment"] == requested.assessment
    assert ledger.access.identity.actor_for("li.na").roles == {"sales"}


def test_an_expired_pass_is_named_in_the_refusal(ledger: Ledger) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", on="2025-11-20")  # valid until 2026-11-19; today is 11-27

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError) as refused:
        ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)
    assert refused.value.details["missing"] == [
        {"course": "customer-data-handling", "status": "expired", "expired_on": "2026-11-19"}]


def test_a_pass_in_a_course_for_another_role_does_not_qualify(ledger: Ledger) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", "audit")
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError) as refused:
        ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)
    assert refused.value.details["missing"] == [
        {"course": "customer-data-handling", "status": "not_assessed"}]


def test_until_a_second_administrator_exists_the_initial_administrator_is_exempt(
        ledger: Ledger) -> None:
    ledger.bus.execute_named("create-first-administrator", {
        "username": "admin", "employee_id": "E0001", "department": "it",
        "initial_password": "Initial-Pass#2041"}, ADMIN)
    create(ledger, "li.na")

    outcome = ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)

    assert outcome["result"]["exemption"] == "initial_administrator"
    assert account(ledger, "admin").grants["sysadmin"]["exemption"] == "initial_administrator"
    open_account(ledger, "ops.two", "sysadmin", department="it")  # the second administrator
    create(ledger, "zhao.lei")
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError):
        ledger.bus.execute(GrantRole(username="zhao.lei", role="sales"), ADMIN)


# The follower ------------------------------------------------------------------------------

def _late_evening(clock: FixedClock) -> None:
    clock.now = datetime.fromisoformat("2026-11-27T15:50:00+00:00")  # 23:50 in Shanghai


def test_an_expired_assessment_suspends_the_grant_which_stops_authorising_at_once(
        ledger: Ledger, clock: FixedClock) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", on="2025-11-28")  # valid until today, 2026-11-27
    grant(ledger, "li.na", "sales")
    ledger.bus.execute_named("change-password", {
        "username": "li.na", "current_password": "Initial-Pass#2041",
        "new_password": PASSWORD}, Actor("li.na"))
    _late_evening(clock)
    token = ledger.access.identity.login("li.na", PASSWORD, client_address=HOME)["token"]
    assert ledger.access.identity.authenticate(token, HOME).roles == {"sales"}
    assert ledger.training.run_once() == 0  # still covered today

    clock.now += timedelta(minutes=15)  # past midnight: the assessment has expired
    before = snapshot_store(ledger.store)
    assert ledger.training.run_once() == 1

    suspended = [e for e in new_events(ledger, before) if isinstance(e, GrantSuspended)]
    assert [(e.role, e.lapsed_on) for e in suspended] == [("sales", "2026-11-28")]
    assert ledger.access.identity.authenticate(token, HOME).roles == frozenset()
    assert ledger.access.identity.actor_for("li.na").roles == frozenset()
    with store_unchanged(ledger.store):
        assert ledger.training.run_once() == 0  # an idle look writes nothing
    ledger.runner.catch_up()
    listed = {a["username"]: a["roles"] for a in ledger.answer(ListAccounts())["accounts"]}
    assert listed["li.na"] == []


def test_a_new_pass_lifts_the_suspension(ledger: Ledger, clock: FixedClock) -> None:
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", on="2025-11-28")
    grant(ledger, "li.na", "sales")
    clock.now += timedelta(days=1)
    ledger.training.run_once()
    ledger.runner.catch_up()
    review = ledger.answer(AccessReview())
    assert review["suspended_grants"] == [{"username": "li.na", "role": "sales"}]

    assessed(ledger, "li.na", on="2026-11-28")
    before = snapshot_store(ledger.store)
    assert ledger.training.run_once() == 1

    (lifted,) = [e for e in new_events(ledger, before) if isinstance(e, GrantSuspensionLifted)]
    assert lifted.assessment["valid_until"] == "2027-11-27"
    assert ledger.access.identity.actor_for("li.na").roles == {"sales"}
    ledger.runner.catch_up()
    assert ledger.answer(AccessReview())["suspended_grants"] == []


def test_the_access_review_warns_of_assessments_expiring_within_the_policy_days(
        ledger: Ledger) -> None:
    two_administrators(ledger)
    for username, on in (("li.na", "2025-12-10"), ("zhao.lei", "2026-01-10")):
        create(ledger, username)
        assessed(ledger, username, on=on)
        grant(ledger, username, "sales")
    ledger.runner.catch_up()

    review = ledger.answer(AccessReview())

    # li.na's pass lasts until 2026-12-09, within 30 days of 2026-11-27; zhao.lei's does not.
    assert [(e["username"], e["role"], e["expires_on"], e["cause"])
            for e in review["expiring_grants"]] == [
        ("li.na", "sales", "2026-12-09", "assessment")]
    assert ledger.training_reports.upcoming_expiries() == review["expiring_grants"]


def test_while_the_exemption_lasts_nothing_lapses_and_nothing_is_written(
        ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "admin", "sysadmin", department="it")  # the only administrator
    create(ledger, "li.na")
    grant(ledger, "li.na", "sales")
    clock.now += timedelta(days=400)
    with store_unchanged(ledger.store):
        assert ledger.training.run_once() == 0
    assert ledger.access.identity.actor_for("li.na").roles == {"sales"}


def test_a_grant_made_under_the_exemption_lapses_after_the_new_employee_window(
        ledger: Ledger, clock: FixedClock) -> None:
    create(ledger, "li.na")
    grant(ledger, "li.na", "sales")  # exempt: no administrator account yet
    two_administrators(ledger)
    assert ledger.training.run_once() == 0  # li.na is a new employee for three months

    clock.now += timedelta(days=93)  # 2027-02-28: the window ended on 2027-02-27
    assert ledger.training.run_once() == 1
    assert ledger.access.identity.actor_for("li.na").roles == frozenset()


# Reports ---------------------------------------------------------------------------------

def test_the_overdue_report_lists_new_employees_past_their_window_and_others_past_the_period(
        ledger: Ledger, clock: FixedClock) -> None:
    create(ledger, "li.na")  # opened 2026-11-27, never assessed
    create(ledger, "zhao.lei")
    assessed(ledger, "zhao.lei", on="2026-11-02")  # due again 2027-11-02
    create(ledger, "qian.hui")
    assessed(ledger, "qian.hui", score=50, on="2026-11-02")  # a fail is no assessment passed
    clock.now = datetime.fromisoformat("2027-03-01T03:00:00+00:00")
    ledger.runner.catch_up()

    overdue = ledger.answer(OverdueAssessments())
    assert [(e["username"], e["reason"], e["due_on"]) for e in overdue["employees"]] == [
        ("li.na", "new_employee", "2027-02-27"), ("qian.hui", "new_employee", "2027-02-27")]

    later = ledger.answer(OverdueAssessments(as_of="2027-11-03"))
    assert ("zhao.lei", "period", "2027-11-02", "2026-11-02") in [
        (e["username"], e["reason"], e["due_on"], e["last_passed_on"])
        for e in later["employees"]]


def test_pass_rates_are_counted_per_course_and_per_department(ledger: Ledger) -> None:
    create(ledger, "li.na", department="sales")
    create(ledger, "zhao.lei", department="sales")
    create(ledger, "wang.fang", department="info")
    assessed(ledger, "li.na", score=90)
    assessed(ledger, "zhao.lei", score=70)
    assessed(ledger, "wang.fang", score=85)
    assessed(ledger, "wang.fang", "audit", score=40, on="2026-10-01")
    ledger.runner.catch_up()

    rates = ledger.answer(TrainingPassRates())
    assert rates["pass_mark"] == 80
    assert [(r["course"], r["assessments"], r["passed"], r["pass_rate"])
            for r in rates["courses"]] == [("audit", 1, 0, 0.0),
                                           ("customer-data-handling", 3, 2, 0.6667)]
    assert [(r["department"], r["assessments"], r["passed"]) for r in rates["departments"]
            ] == [("info", 2, 1), ("sales", 2, 1)]
    since = ledger.answer(TrainingPassRates(since="2026-11-01"))
    assert [r["course"] for r in since["courses"]] == ["customer-data-handling"]


def test_a_running_ledger_suspends_a_lapsed_grant_in_the_background(
        database_url: str, make_ledger: Callable[..., Ledger], clock: FixedClock) -> None:
    # The database first: it is dropped only after the ledger and its threads are closed.
    ledger = make_ledger(database_url, start_projections=True)
    two_administrators(ledger)
    create(ledger, "li.na")
    assessed(ledger, "li.na", on="2025-11-28")
    grant(ledger, "li.na", "sales")
    assert ledger.training.running

    clock.now += timedelta(days=1)
    ledger.training.wake()

    for _ in range(200):  # a bounded wait for the thread, not a timing
        if not ledger.access.identity.actor_for("li.na").roles:
            break
        time.sleep(0.05)
    assert ledger.access.identity.actor_for("li.na").roles == frozenset()
