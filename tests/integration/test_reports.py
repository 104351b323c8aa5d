"""Reports (OP-3), on SQLite and PostgreSQL: each comes from the read models and states the
position it reflects, and equals a fold over the log up to that position (a property), so
a report is exactly what the history says."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.customers import ProposeChange, RecordReview, RegisterCustomer, VerifyChange
from commands.deletion import ReviewDeletion
from ledger.domain.customer import Customer, quarter_of
from ledger.domain.deletion import DeletionRequest
from ledger.domain.errors import PermissionDeniedError, ValidationFailedError
from ledger.domain.paths import apply_changes, value_at
from projections.audit import AuditTrailQuery
from projections.queries import ListReviewsDue
from projections.reports import (
    CustomersReport,
    DeletionsReport,
    KeyChangeLatenessReport,
    PendingProposalsReport,
    ReviewCoverageReport,
    age_band,
    working_days_after,
)
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.privacy_support import CHECKER, CLERK, INFO_HEAD, SALES_HEAD, request_deletion
from tests.store_snapshot import PAGE, only_a_denial_recorded, store_unchanged

CHANNELS = ["sales", "partner", "other"]
TYPES = ["manufacturer", "retailer", None]
REGIONS = ["Zhejiang", "Jiangsu", None]


def _register(ledger: Ledger, seed: int, channel: str, kind: str | None,
              region: str | None) -> str:
    profile = make_profile(seed=seed, source_channel=channel, business__business_type=kind,
                           basic__address={"country": "CN", "region": region, "city": "Ningbo"})
    return str(ledger.bus.execute(RegisterCustomer(profile=profile), CLERK)["aggregate_id"])


def _propose(ledger: Ledger, customer_id: str, days_ago: int, key: bool) -> str:
    changes = ({"basic.phone": f"+86139{days_ago:08d}"} if key
               else {"business.business_type": f"trader {days_ago}"})
    happened = ledger.policy.business_date(ledger.bus.clock()) - timedelta(days=days_ago)
    outcome = ledger.bus.execute(ProposeChange(customer_id=UUID(customer_id), changes=changes,
                                               happened_on=happened), CLERK)
    return str(outcome["result"]["proposal_id"])


def _report(ledger: Ledger, query: Any) -> dict[str, Any]:
    ledger.runner.catch_up()
    answer: dict[str, Any] = ledger.bus.ask(query, INFO_HEAD)
    return answer


def test_each_report_counts_the_scenario_and_states_its_position(
        ledger: Ledger, clock: FixedClock) -> None:
    first = _register(ledger, 1, "sales", "manufacturer", "Zhejiang")
    second = _register(ledger, 2, "sales", "retailer", "Zhejiang")
    _register(ledger, 3, "partner", "manufacturer", "Jiangsu")
    ledger.bus.execute(RecordReview(customer_id=UUID(first)), CLERK)
    _propose(ledger, second, 40, key=True)    # late: far past the 5 working days
    _propose(ledger, first, 1, key=True)      # in time
    request_deletion(ledger, second)
    clock.now += timedelta(days=10)

    customers = _report(ledger, CustomersReport())
    assert customers["reflects_position"] == ledger.runner.positions()["customer_view"]
    rows = {(r["dimension"], r["value"]): r["customers"] for r in customers["rows"]}
    assert rows == {("source_channel", "sales"): 2, ("source_channel", "partner"): 1,
                    ("business_type", "manufacturer"): 2, ("business_type", "retailer"): 1,
                    ("region", "Zhejiang"): 2, ("region", "Jiangsu"): 1}
    coverage = _report(ledger, ReviewCoverageReport(quarter="2026-Q4"))["rows"]
    assert [(r["source_channel"], r["reviewed"], r["due"]) for r in coverage] == [
        ("partner", 0, 1), ("sales", 1, 1), (None, 1, 2)]
    [lateness] = _report(ledger, KeyChangeLatenessReport())["rows"]
    assert (lateness["key_changes"], lateness["late"], lateness["share_late"]) == (2, 1, 0.5)
    [deletions] = _report(ledger, DeletionsReport())["rows"]
    assert deletions == {"stage": "requested", "age": "8-30 days", "requests": 1}
    [pending] = _report(ledger, PendingProposalsReport())["rows"]
    assert pending == {"age": "8-30 days", "proposals": 2, "late": 1}


def test_a_past_quarter_is_judged_by_its_own_reviews_and_its_own_customers(
        ledger: Ledger, clock: FixedClock) -> None:
    clock.now = datetime(2026, 9, 10, 3, 0, tzinfo=UTC)  # 2026-Q3 in Shanghai
    summer = _register(ledger, 1, "sales", None, None)
    clock.now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 2026-Q4
    autumn = _register(ledger, 2, "sales", None, None)
    ledger.bus.execute(RecordReview(customer_id=UUID(summer)), CLERK)  # reviewed in Q4 only

    def due(quarter: str) -> list[str]:
        answer = _report(ledger, ListReviewsDue(quarter=quarter))
        return [c["customer_id"] for c in answer["customers"]]

    def covered(quarter: str) -> tuple[int, int]:
        rows = _report(ledger, ReviewCoverageReport(quarter=quarter))["rows"]
        return rows[-1]["reviewed"], rows[-1]["due"]

    assert due("2026-Q4") == [autumn] and covered("2026-Q4") == (1, 1)
    # In Q3 only the summer customer existed, and no one reviewed it then.
    assert due("2026-Q3") == [summer] and covered("2026-Q3") == (0, 1)
    assert due("2020-Q1") == [] and covered("2020-Q1") == (0, 0)


def test_a_reader_without_address_clearance_gets_no_region_grouping(ledger: Ledger) -> None:
    _register(ledger, 1, "sales", "manufacturer", "Zhejiang")
    ledger.runner.catch_up()
    answer = ledger.answer(CustomersReport())  # the narrowest clearance
    assert answer["hidden_dimensions"] == ["region"]
    assert {r["dimension"] for r in answer["rows"]} == {"source_channel", "business_type"}


def test_a_report_needs_its_permission(ledger: Ledger) -> None:
    with pytest.raises(PermissionDeniedError):
        ledger.bus.ask(DeletionsReport(), SALES_HEAD)


# The property: a report equals a fold over the log at the position it reflects ----------

def _log(ledger: Ledger, upto: int) -> list[Any]:
    events, after = [], 0
    while page := ledger.store.read_log(after, PAGE):
        events += [ledger.store.mapper.to_domain_event(n) for n in page if n.id <= upto]
        after = page[-1].id
    return events


def _folded_customers(ledger: Ledger, events: list[Any]) -> dict[tuple[str, Any], int]:
    profiles: dict[str, dict[str, Any]] = {}
    for event in events:
        customer_id = str(event.originator_id)
        if isinstance(event, Customer.Registered):
            profiles[customer_id] = ledger.protector.open_profile(customer_id, event.profile)
        elif isinstance(event, Customer.ChangeVerified) and customer_id in profiles:
            profiles[customer_id] = apply_changes(profiles[customer_id], ledger.protector
                                                  .open_changes(customer_id, event.applied))
        elif isinstance(event, Customer.Erased):
            profiles.pop(customer_id, None)
    counts: Counter[tuple[str, Any]] = Counter()
    for profile in profiles.values():
        counts["source_channel", profile.get("source_channel")] += 1
        counts["business_type", value_at(profile, "business.business_type")] += 1
        counts["region", (value_at(profile, "basic.address") or {}).get("region")] += 1
    return dict(counts)


def _folded_coverage(events: list[Any], quarter: str) -> dict[Any, tuple[int, int]]:
    channel: dict[str, Any] = {}
    reviewed: dict[str, set[str]] = {}
    for event in events:
        customer_id = str(event.originator_id)
        if isinstance(event, Customer.Registered):
            channel[customer_id] = event.profile.get("source_channel")
        elif isinstance(event, Customer.Reviewed):
            reviewed.setdefault(customer_id, set()).add(event.quarter)
    marks: dict[Any, list[bool]] = {}
    for customer_id, source in channel.items():
        marks.setdefault(source, []).append(quarter in reviewed.get(customer_id, set()))
    every = [mark for group in marks.values() for mark in group]
    return {source: (sum(group), len(group) - sum(group)) for source, group in
            [*marks.items(), (None, every)]}


def _folded_lateness(ledger: Ledger, events: list[Any]) -> dict[str, Any]:
    key = [e for e in events if isinstance(e, Customer.ChangeProposed)
           and e.key_fields and e.record_by is not None]
    taken = [working_days_after(date.fromisoformat(e.happened_on),
                                ledger.policy.business_date(e.timestamp),
                                ledger.policy.holiday_calendar) for e in key]
    late = sum(1 for e in key if e.late)
    return {"key_changes": len(key), "late": late,
            "share_late": late / len(key) if key else 0.0,
            "median_working_days": float(statistics.median(taken)) if taken else None}


def _folded_deletions(ledger: Ledger, events: list[Any], today: date) -> Counter[Any]:
    stages = {DeletionRequest.Reviewed: "reviewed", DeletionRequest.Approved: "approved",
              DeletionRequest.Executed: "executed", DeletionRequest.Rejected: "rejected"}
    requests: dict[str, list[Any]] = {}
    for event in events:
        if isinstance(event, DeletionRequest.Requested):
            requests[str(event.originator_id)] = ["requested", event.timestamp]
        elif type(event) in stages:
            requests[str(event.originator_id)][0] = stages[type(event)]
    return Counter((stage, age_band((today - ledger.policy.business_date(at)).days))
                   for stage, at in requests.values())


def _folded_pending(ledger: Ledger, events: list[Any], today: date) -> Counter[Any]:
    pending: dict[str, Any] = {}
    for event in events:
        if isinstance(event, Customer.ChangeProposed):
            pending[event.proposal_id] = (str(event.originator_id), event)
        elif isinstance(event, Customer.ChangeVerified | Customer.ChangeRejected):
            pending.pop(event.proposal_id, None)
        elif isinstance(event, Customer.Erased):
            pending = {k: v for k, v in pending.items() if v[0] != str(event.originator_id)}
    found: Counter[Any] = Counter()
    for _, proposal in pending.values():
        band = age_band((today - ledger.policy.business_date(proposal.timestamp)).days)
        found[band, "proposals"] += 1
        found[band, "late"] += int(proposal.late)
    return found


STEPS = st.lists(st.one_of(
    st.tuples(st.just("register"), st.sampled_from(CHANNELS), st.sampled_from(TYPES),
              st.sampled_from(REGIONS)),
    st.tuples(st.just("review"), st.integers(0, 9)),
    st.tuples(st.just("propose"), st.integers(0, 9), st.integers(0, 60), st.booleans()),
    st.tuples(st.just("verify"), st.integers(0, 9)),
    st.tuples(st.just("delete"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("days"), st.integers(1, 40)),
), min_size=1, max_size=12)


def _play(ledger: Ledger, clock: FixedClock, steps: list[tuple[Any, ...]],
          customers: list[str], proposals: list[tuple[str, str]]) -> None:
    for step in steps:
        kind, *args = step
        if kind == "register":
            customers.append(_register(ledger, len(customers), *args))
        elif kind == "days":
            clock.now += timedelta(days=args[0])
        elif not customers:
            continue
        elif kind == "review":
            ledger.bus.execute(RecordReview(customer_id=UUID(
                customers[args[0] % len(customers)])), CLERK)
        elif kind == "propose":
            customer_id = customers[args[0] % len(customers)]
            proposals.append((customer_id, _propose(ledger, customer_id, args[1], args[2])))
        elif kind == "verify" and proposals:
            customer_id, proposal_id = proposals.pop(args[0] % len(proposals))
            ledger.bus.execute(VerifyChange(customer_id=UUID(customer_id),
                                            proposal_id=proposal_id), CHECKER)
        elif kind == "delete":
            request_id = request_deletion(ledger, customers[args[0] % len(customers)])
            if args[1]:
                ledger.bus.execute(ReviewDeletion(request_id=UUID(request_id)), SALES_HEAD)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STEPS)
def test_every_report_equals_a_fold_over_the_log_at_the_position_it_reflects(
        ledger: Ledger, clock: FixedClock, steps: list[tuple[Any, ...]]) -> None:
    # Examples add to one ledger: each report must equal the fold of the whole log so far.
    customers: list[str] = []
    _play(ledger, clock, steps, customers, [])
    today = ledger.policy.business_date(clock.now)
    quarter = quarter_of(today)

    answer = _report(ledger, CustomersReport())
    assert {(r["dimension"], r["value"]): r["customers"] for r in answer["rows"]} == (
        _folded_customers(ledger, _log(ledger, answer["reflects_position"])))
    answer = _report(ledger, ReviewCoverageReport(quarter=quarter))
    assert {r["source_channel"]: (r["reviewed"], r["due"]) for r in answer["rows"]} == (
        _folded_coverage(_log(ledger, answer["reflects_position"]), quarter))
    answer = _report(ledger, KeyChangeLatenessReport())
    assert answer["rows"] == [_folded_lateness(ledger, _log(ledger,
                                                            answer["reflects_position"]))]
    answer = _report(ledger, DeletionsReport())
    assert Counter({(r["stage"], r["age"]): r["requests"] for r in answer["rows"]}) == (
        _folded_deletions(ledger, _log(ledger, answer["reflects_position"]), today))
    answer = _report(ledger, PendingProposalsReport())
    found: Counter[Any] = Counter()
    for row in answer["rows"]:
        found[row["age"], "proposals"] += row["proposals"]
        found[row["age"], "late"] += row["late"]
    expected = _folded_pending(ledger, _log(ledger, answer["reflects_position"]), today)
    assert +found == +expected


# A report leaves through the export path: traced by its visible mark, and audited ---------

def test_a_report_export_is_traced_and_audited(ledger: Ledger) -> None:
    _register(ledger, 1, "sales", "manufacturer", "Zhejiang")
    ledger.runner.catch_up()
    client = LedgerClient.in_process(ledger, INFO_HEAD.id, roles=sorted(INFO_HEAD.roles))
    exported = client.export_report("customers", purpose="board pack", format="csv")
    lines = exported["content"].decode().splitlines()
    assert lines[1] == "dimension,value,customers"
    assert "region,Zhejiang,1" in lines
    assert exported["result"]["reflects_position"] == ledger.runner.positions()[
        "customer_view"]
    ledger.runner.catch_up()
    named = client.identify_export(exported["content"])["export"]
    assert (named["export_id"], named["purpose"]) == (exported["export_id"], "board pack")
    trail = ledger.answer(AuditTrailQuery(operation="export"))["entries"]
    assert [e["facts"]["criteria"] for e in trail if e["kind"] == "export"] == [
        {"report": "customers"}]


def test_exporting_a_report_needs_the_report_permission_too(ledger: Ledger) -> None:
    finance = LedgerClient.in_process(ledger, "qian.min", roles=["finance"])
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        finance.export_report("deletions", purpose="curiosity")


def test_a_bad_report_parameter_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    client = LedgerClient.in_process(ledger, INFO_HEAD.id, roles=sorted(INFO_HEAD.roles))
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError):
        client.export_report("review-coverage", purpose="x", params={"quarter": "Q9"})
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError):
        client.export_report("salaries", purpose="x")
