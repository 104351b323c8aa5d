"""Training on the account aggregate (TR-1..TR-3): given an assessment and a grant, when the
rules are applied on a day, then the grant is suspended, left alone, or lifted."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.account import Account
from ledger.domain.training import GrantSuspended, GrantSuspensionLifted, TrainingRules, reference

RULES = TrainingRules(qualifying={"sales": ["customer-data-handling"]},
                      new_employee_until=date(2027, 2, 27))
COURSE = "customer-data-handling"


def an_account() -> Account:
    return Account.create(username="li.na", employee_id="E1", department="sales",
                          password_hash="$argon2id$hash")


def passed(account: Account, on: str, until: str, course: str = COURSE, *,
           passing: bool = True) -> dict[str, Any]:
    account.record_assessment(assessment_id=f"a-{on}", course=course, score=90, passed=passing,
                              assessor="wang.fang", assessed_on=date.fromisoformat(on),
                              valid_until=date.fromisoformat(until), by="wang.fang")
    return account.assessments[-1]


def test_a_grant_relying_on_an_expired_pass_is_suspended_and_authorises_nothing() -> None:
    account = an_account()
    assessment = passed(account, "2025-12-01", "2026-11-30")
    account.grant("sales", by="admin", needs_approval=False, assessment=reference(assessment))
    assert account.apply_training_rules(RULES, date(2026, 11, 30)) == []

    assert account.apply_training_rules(RULES, date(2026, 12, 1)) == ["sales"]

    assert isinstance(account.collect_events()[-1], GrantSuspended)
    assert account.active_roles == frozenset()
    assert account.as_dict()["grants"][0]["suspended"] is True


def test_a_later_pass_in_a_qualifying_course_lifts_the_suspension() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False,
                  assessment=reference(passed(account, "2025-12-01", "2026-11-30")))
    account.apply_training_rules(RULES, date(2026, 12, 1))
    again = passed(account, "2026-12-02", "2027-12-01")

    assert account.apply_training_rules(RULES, date(2026, 12, 2)) == ["sales"]

    lifted = account.collect_events()[-1]
    assert isinstance(lifted, GrantSuspensionLifted) and lifted.assessment == reference(again)
    assert account.active_roles == {"sales"}


def test_a_failed_or_unrelated_assessment_does_not_cover_a_grant() -> None:
    account = an_account()
    passed(account, "2026-11-02", "2027-11-01", passing=False)
    passed(account, "2026-11-02", "2027-11-01", course="audit")
    assert account.covering_assessment([COURSE], date(2026, 11, 27)) is None
    assert account.missing_training([COURSE, "other"], date(2026, 11, 27)) == [
        {"course": COURSE, "status": "not_passed"}, {"course": "other", "status": "not_assessed"}]


def test_an_unassessed_grant_waits_for_the_end_of_the_new_employee_window() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False, exemption="initial_administrator")
    assert account.grant_lapses(RULES, date(2027, 2, 27)) == ([], {})
    assert account.grant_lapses(RULES, date(2027, 2, 28)) == (["sales"], {})


def test_a_grant_awaiting_approval_is_neither_suspended_nor_lifted() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=True)
    assert account.grant_lapses(RULES, date(2030, 1, 1)) == ([], {})


def test_a_grant_stored_before_training_was_checked_reads_as_relying_on_nothing() -> None:
    state: dict[str, Any] = {"grant_id": "g", "role": "sales"}
    Account.RoleGrantRequested.upcast_v1_v2(state)
    assert (state["assessment"], state["exemption"]) == (None, None)
