"""Properties over generated command sequences, on SQLite and (fewer examples) PostgreSQL.

1. Replay reproduces state: any sequence of valid commands, folded again from the stored
   events, gives the live aggregates, and the projections equal a from-scratch rebuild.
2. Invalid input writes nothing (P2): every stored record is byte-for-byte unchanged.
"""

from __future__ import annotations

import unicodedata
from contextlib import suppress
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from commands.actor import Actor
from commands.command import Handler
from commands.ports import UnitOfWork
from ledger.domain.customer import Customer
from ledger.domain.errors import ConflictError, LedgerError
from ledger.domain.profile import CHANGEABLE_PATHS
from ledger.store import LedgerStore
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests.conftest import SPECIALIST
from tests.factories import make_profile

TODAY = date(2026, 11, 27)  # the business date of the shared FixedClock
ACTORS = ("alice", "bob", "carol")


def examples(ledger: Ledger, *, sqlite: int, postgres: int) -> settings:
    count = sqlite if ledger.settings.backend == "sqlite" else postgres
    return settings(max_examples=count, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# Strategies --------------------------------------------------------------------------

letters = st.characters(categories=["Lu", "Ll", "Lo"], max_codepoint=0x9FFF)
names = st.text(letters, min_size=1, max_size=20).map(lambda s: s + " 公司")
sentences = st.lists(st.text(letters, min_size=1, max_size=8), min_size=1, max_size=4).map(" ".join)
mobiles = st.integers(0, 10**8 - 1).map(lambda n: f"+86139{n:08d}")
emails = st.tuples(st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True),
                   st.sampled_from(["example.com", "Example.CN", "mail.example.org"])
                   ).map("@".join)
contacts = st.lists(st.fixed_dictionaries({"name": names, "phone": mobiles}),
                    min_size=1, max_size=2)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "basic.name": names,
    "basic.phone": mobiles,
    "basic.email": emails,
    "business.scale": st.sampled_from(["micro", "small", "medium", "large"]),
    "needs.functional_needs": sentences,
    "contacts": contacts,
    "basic.address": st.fixed_dictionaries({"country": st.sampled_from(["CN", "US", "DE"]),
                                            "city": names}),
}
valid_changes = st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=3, unique=True
                         ).flatmap(lambda keys: st.fixed_dictionaries({k: VALUES[k] for k in keys}))
past_days = st.integers(0, 300).map(lambda days: (TODAY - timedelta(days=days)).isoformat())
outcomes = st.sampled_from(["confirmed", "needs_update"])


def run(ledger: Ledger, name: str, actor: str, **payload: Any) -> dict[str, Any]:
    return ledger.bus.execute_named(name, payload, Actor(actor, SPECIALIST))


def capturing_live_aggregates(ledger: Ledger, live: dict[str, Customer]) -> None:
    """Keep the aggregate each handler decided with, as it was when the bus saved it."""
    def capture(handler: Handler) -> Handler:
        def handle(command: Any, uow: UnitOfWork) -> dict[str, Any]:
            result = handler(command, uow)
            live.update((str(a.id), a) for a in uow.changed if isinstance(a, Customer))
            return result
        return handle

    ledger.bus.handlers = {cls: capture(h) for cls, h in ledger.bus.handlers.items()}


def replayed(store: LedgerStore, customer_id: str) -> Customer:
    customer: Any = None
    for event in store.events.get(UUID(customer_id)):
        customer = event.mutate(customer)
    assert isinstance(customer, Customer)
    return customer


def state_of(customer: Customer) -> dict[str, Any]:
    return {key: value for key, value in vars(customer).items() if key != "_pending_events"}


def dump(ledger: Ledger) -> dict[str, Any]:
    with ledger.views.snapshot() as cursor:
        return {name: p.dump(cursor) for name, p in ledger.runner.projections.items()}


def valid_history(ledger: Ledger) -> type[RuleBasedStateMachine]:
    """Valid commands in any order the workflow allows, checked after every step."""
    live: dict[str, Customer] = {}
    capturing_live_aggregates(ledger, live)

    class ValidHistory(RuleBasedStateMachine):
        customers = Bundle("customers")
        proposals = Bundle("proposals")

        def __init__(self) -> None:
            super().__init__()
            self.touched: set[str] = set()

        @rule(target=customers, seed=st.integers(0, 10**6),
              locale=st.sampled_from(["zh_CN", "en_US"]))
        def register(self, seed: int, locale: str) -> str:
            outcome = run(ledger, "register-customer", "alice",
                          profile=make_profile(locale, seed=seed))
            self.touched.add(outcome["aggregate_id"])
            return str(outcome["aggregate_id"])

        @rule(target=proposals, customer_id=customers, actor=st.sampled_from(ACTORS),
              changes=valid_changes, happened_on=past_days)
        def propose(self, customer_id: str, actor: str, changes: dict[str, Any],
                    happened_on: str) -> tuple[str, str, str]:
            outcome = run(ledger, "propose-change", actor, customer_id=customer_id,
                          changes=changes, happened_on=happened_on)
            self.touched.add(customer_id)
            return customer_id, outcome["result"]["proposal_id"], actor

        @rule(proposal=consumes(proposals), other=st.integers(1, len(ACTORS) - 1))
        def verify(self, proposal: tuple[str, str, str], other: int) -> None:
            customer_id, proposal_id, proposer = proposal
            verifier = ACTORS[(ACTORS.index(proposer) + other) % len(ACTORS)]
            # Refused when an overlapping field changed after the proposal: no write.
            with suppress(ConflictError):
                run(ledger, "verify-change", verifier, customer_id=customer_id,
                    proposal_id=proposal_id)
            self.touched.add(customer_id)

        @rule(proposal=consumes(proposals), other=st.integers(1, len(ACTORS) - 1),
              reason=sentences)
        def reject(self, proposal: tuple[str, str, str], other: int, reason: str) -> None:
            # A verifier's step: someone other than the proposer.
            rejecter = ACTORS[(ACTORS.index(proposal[2]) + other) % len(ACTORS)]
            run(ledger, "reject-change", rejecter, customer_id=proposal[0],
                proposal_id=proposal[1], reason=reason)
            self.touched.add(proposal[0])

        @rule(proposal=consumes(proposals))
        def withdraw(self, proposal: tuple[str, str, str]) -> None:
            run(ledger, "withdraw-change", proposal[2], customer_id=proposal[0],
                proposal_id=proposal[1])
            self.touched.add(proposal[0])

        @rule(customer_id=customers, actor=st.sampled_from(ACTORS), outcome=outcomes)
        def review(self, customer_id: str, actor: str, outcome: str) -> None:
            run(ledger, "record-review", actor, customer_id=customer_id, outcome=outcome)
            self.touched.add(customer_id)

        @precondition(lambda self: ledger.runner.position() < ledger.store.head_position())
        @rule()
        def project_one_batch(self) -> None:
            ledger.runner.run_once()

        @precondition(lambda self: ledger.runner.position() < ledger.store.head_position())
        @rule(size=st.integers(1, 5))
        def project_a_few_events(self, size: int) -> None:
            # Page boundaries anywhere: inside one command's events, between a change and
            # its verification; the teardown's rebuild in one page must give the same rows.
            ledger.runner.batch_size, default = size, ledger.runner.batch_size
            try:
                ledger.runner.run_once()
            finally:
                ledger.runner.batch_size = default

        @invariant()
        def replay_equals_the_live_aggregates(self) -> None:
            for customer_id in self.touched:
                assert state_of(replayed(ledger.store, customer_id)) == state_of(live[customer_id])
            self.touched.clear()

        def teardown(self) -> None:
            ledger.runner.catch_up()
            incremental = dump(ledger)
            ledger.runner.rebuild()
            assert dump(ledger) == incremental
            with ledger.reading_in_full("compare the view with the aggregate", by="tests"):
                rows = {customer_id: ledger.answer(GetCustomer(customer_id=customer_id))
                        for customer_id in live}
            # The full-clearance read is itself recorded: followed, so the next example
            # starts with the read models at the head, like this one did.
            ledger.runner.catch_up()
            for customer_id, customer in live.items():
                opened = ledger.protector.open_profile(str(customer_id), customer.profile)
                assert (rows[customer_id]["customer"]["version"],
                        rows[customer_id]["customer"]["profile"]) == (customer.version, opened)

    return ValidHistory


def test_replay_and_rebuild_reproduce_any_valid_history(ledger: Ledger) -> None:
    run_state_machine_as_test(valid_history(ledger),
                              settings=examples(ledger, sqlite=30, postgres=8))


# Invalid input writes nothing --------------------------------------------------------


def stored_records(ledger: Ledger) -> list[Any]:
    """Every stored event (position, id, version, topic, state bytes) and every snapshot."""
    events = [(n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state))
              for n in ledger.store.read_log(0, 100_000)]
    assert ledger.store.snapshots is not None
    table = ledger.store.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
    with ledger.views.snapshot() as cursor:
        snapshots = cursor.all(f"SELECT originator_id, originator_version, topic, state "
                               f"FROM {table}")
    return events + sorted((str(i), v, t, bytes(s)) for i, v, t, s in snapshots)


def _as_entered(text: str) -> str:
    """What the entry rule leaves of ``text``: NFKC, without format characters (Cf)."""
    kept = unicodedata.normalize("NFKC", text)
    return "".join(c for c in kept if unicodedata.category(c) != "Cf").strip()


# Invalid even after the entry rule: a text of only format characters (a zero-width space)
# is left empty, and an empty e-mail or fax clears the field, which a change may rightly do.
bad_phones = st.text(min_size=1, max_size=20).filter(
    lambda s: _as_entered(s) and "+" not in _as_entered(s))
bad_emails = st.text(min_size=1, max_size=30).filter(
    lambda s: _as_entered(s) and "@" not in _as_entered(s))
MANDATORY = {
    "basic.name": ("basic", "name"),
    "basic.legal_representative": ("basic", "legal_representative"),
    "basic.address": ("basic", "address"),
    "basic.business_scope": ("basic", "business_scope"),
    "source_channel": (None, "source_channel"),
}


def without(profile: dict[str, Any], paths: list[str], blank: str | None) -> dict[str, Any]:
    for path in paths:
        targets = [("basic", "phone"), ("basic", "email")] if path == "contact" else [
            MANDATORY[path]]
        for group, name in targets:
            section = profile[group] if group else profile
            if blank is None:
                section.pop(name, None)
            else:
                section[name] = blank
    return profile


def on_unknown_customer(name: str, actor: str, proposal_id: str
                        ) -> tuple[str, str, dict[str, Any]]:
    """A well-formed command naming a customer that does not exist."""
    extra: dict[str, Any] = {
        "propose-change": {"changes": {"basic.name": "Nobody Ltd"},
                           "happened_on": TODAY.isoformat()},
        "verify-change": {"proposal_id": proposal_id},
        "reject-change": {"proposal_id": proposal_id, "reason": "no such customer"},
        "record-review": {},
    }[name]
    return name, actor, {"customer_id": str(uuid4())} | extra


def invalid_commands(customer_id: str, proposal_id: str, version: int,
                     command_id: str) -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    """(command, actor, payload) that the ledger must refuse, each for a different reason."""
    profile = st.builds(make_profile, st.sampled_from(["zh_CN", "en_US"]),
                        seed=st.integers(0, 10**6))
    unknown_path = st.text(min_size=1, max_size=30).filter(lambda p: p not in CHANGEABLE_PATHS)
    stale = st.integers(1, 1000).filter(lambda v: v != version)
    someone = st.sampled_from(ACTORS)
    on_customer = {"customer_id": customer_id}

    def register(p: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        return "register-customer", "bob", {"profile": p}

    def propose(changes: Any, **extra: Any) -> tuple[str, str, dict[str, Any]]:
        return "propose-change", "bob", on_customer | {
            "changes": changes, "happened_on": TODAY.isoformat()} | extra

    return st.one_of(
        st.builds(lambda p, v: register(p | {"basic": p["basic"] | {"phone": v}}),
                  profile, bad_phones),
        st.builds(lambda p, v: register(p | {"basic": p["basic"] | {"email": v}}),
                  profile, bad_emails),
        st.builds(lambda p, paths, blank: register(without(p, paths, blank)), profile,
                  st.lists(st.sampled_from([*MANDATORY, "contact"]), min_size=1, unique=True),
                  st.sampled_from([None, "", "  "])),
        st.builds(lambda path, v: propose({path: v}), unknown_path, sentences),
        st.builds(lambda v: propose({"basic.phone": v}), bad_phones),
        st.builds(lambda v: propose({"basic.email": v}), bad_emails),
        st.builds(lambda days: propose({"basic.name": "Future Ltd"},
                                       happened_on=(TODAY + timedelta(days=days)).isoformat()),
                  st.integers(1, 400)),
        st.builds(lambda v: propose({"basic.name": "Stale Ltd"}, expected_version=v), stale),
        st.builds(lambda v, who: ("record-review", who, on_customer | {"expected_version": v}),
                  stale, someone),
        st.builds(on_unknown_customer, st.sampled_from(["propose-change", "verify-change",
                                                        "reject-change", "record-review"]),
                  someone, st.just(proposal_id)),
        st.builds(lambda cmd, who: (cmd, who, on_customer | {"proposal_id": str(uuid4()),
                                                             "reason": "no such proposal"}),
                  st.sampled_from(["verify-change", "reject-change"]), someone),
        st.just(("verify-change", "alice", on_customer | {"proposal_id": proposal_id})),
        st.just(("reject-change", "alice", on_customer | {"proposal_id": proposal_id,
                                                           "reason": "my own"})),
        st.just(("withdraw-change", "bob", on_customer | {"proposal_id": proposal_id})),
        st.builds(lambda p: ("register-customer", "alice", {"profile": p,
                                                           "customer_id": customer_id}), profile),
        st.builds(lambda p: ("register-customer", "bob", {"profile": p,
                                                         "command_id": command_id}), profile),
    )


def test_an_invalid_command_leaves_every_stored_record_unchanged(ledger: Ledger) -> None:
    alice = Actor("alice", SPECIALIST)
    registered = ledger.bus.execute_named(
        "register-customer", {"profile": make_profile(seed=7), "command_id": "first"}, alice)
    customer_id = registered["aggregate_id"]
    proposed = ledger.bus.execute_named("propose-change", {
        "customer_id": customer_id, "changes": {"basic.name": "Proposed Ltd"},
        "happened_on": TODAY.isoformat()}, alice)
    before = stored_records(ledger)

    @examples(ledger, sqlite=40, postgres=20)
    @given(invalid_commands(customer_id, proposed["result"]["proposal_id"],
                            proposed["version"], "first"))
    def check(command: tuple[str, str, dict[str, Any]]) -> None:
        name, actor, payload = command
        try:
            outcome = ledger.bus.execute_named(name, payload, Actor(actor, SPECIALIST))
        except LedgerError:
            pass
        else:
            raise AssertionError(f"{name} was accepted: {outcome}")
        assert stored_records(ledger) == before

    check()
