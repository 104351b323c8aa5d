"""Property (ST-3, DL-3): for any customers with any history of verified and pending
changes, erasing one through the whole workflow leaves nothing of it readable by any query,
keeps every event of it stored, and leaves every other customer fully readable."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.crypto import ERASED
from ledger.domain.paths import apply_changes
from ledger.domain.profile import validate_changes, validate_profile
from projections.history import CustomerHistory
from projections.queries import FindCustomers, GetCustomer, ListPendingProposals
from service.bootstrap import Ledger
from tests.factories import make_profile
from tests.privacy_support import (
    DEFAULT_POLICY,
    INFO_HEAD,
    ask,
    change,
    duplicate_groups,
    erase,
    found_by,
    is_personal,
    leaks,
    register,
    strings_in,
    value_at,
)

MANDATORY = DEFAULT_POLICY.mandatory_fields


@pytest.fixture
def live(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var")


# Strategies ----------------------------------------------------------------------------

letters = st.characters(categories=["Lu", "Ll", "Lo"], max_codepoint=0x9FFF)
words = st.text(letters, min_size=1, max_size=8)
texts = st.lists(words, min_size=1, max_size=3).map(" ".join)
mobiles = st.integers(0, 10**8 - 1).map(lambda n: f"+86 139 {n:08d}")
emails = st.tuples(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                   st.sampled_from(["example.cn", "Mail.Example.com"])).map("@".join)
contacts = st.lists(st.fixed_dictionaries({"name": texts, "phone": mobiles, "email": emails}),
                    min_size=1, max_size=2)
addresses = st.fixed_dictionaries({"country": st.sampled_from(["CN", "US", "DE"]),
                                   "city": words, "street": texts})
PERSONAL: dict[str, st.SearchStrategy[Any]] = {
    "basic.legal_representative": texts, "basic.phone": mobiles, "basic.email": emails,
    "basic.address": addresses, "contacts": contacts, "other.special_requirements": texts,
}
CHANGES = PERSONAL | {"credit.rating": st.sampled_from(["AAA", "B", "D"]),
                      "business.scale": st.sampled_from(["micro", "large"]),
                      "basic.name": texts.map(lambda name: name + " 公司")}
change_sets = st.lists(st.sampled_from(sorted(CHANGES)), min_size=1, max_size=3, unique=True
                       ).flatmap(lambda keys: st.fixed_dictionaries({k: CHANGES[k] for k in keys}))
customers = st.fixed_dictionaries({
    "locale": st.sampled_from(["zh_CN", "en_US"]), "seed": st.integers(0, 10**6),
    "personal": st.fixed_dictionaries(PERSONAL), "verified": st.lists(change_sets, max_size=3),
    "pending": st.none() | change_sets,
})


def examples(ledger: Ledger, *, sqlite: int, postgres: int) -> settings:
    count = sqlite if ledger.settings.backend == "sqlite" else postgres
    return settings(max_examples=count, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large])


def tagged(value: Any, tag: str) -> Any:
    """Free text made unmistakable for this customer (phones and emails are left alone, so
    customers may share them, as duplicates do)."""
    if isinstance(value, str) and "@" not in value and not value.startswith("+"):
        return f"{value} {tag}"
    if isinstance(value, dict):
        return {key: item if key == "country" else tagged(item, tag)
                for key, item in value.items()}
    if isinstance(value, list):
        return [tagged(item, tag) for item in value]
    return value


def tagged_personal(changes: dict[str, Any], tag: str) -> dict[str, Any]:
    return {path: tagged(value, tag) if path in PERSONAL else value
            for path, value in changes.items()}


@dataclass
class Modelled:
    """A customer as the test expects to read it: the plain profile, the pending plain
    change, and every personal value it ever held."""

    customer_id: str
    profile: dict[str, Any]
    pending: dict[str, Any] | None
    ever: set[str] = field(default_factory=set)

    def hold(self, path: str, value: Any) -> None:
        if is_personal(path):
            self.ever |= set(strings_in(value))


def modelled(ledger: Ledger, drawn: dict[str, Any]) -> Modelled:
    """Register and change a customer as drawn, keeping the model in step."""
    tag = secrets.token_hex(3)
    raw = make_profile(drawn["locale"], seed=drawn["seed"], **{
        path.replace(".", "__"): tagged(value, tag) for path, value in drawn["personal"].items()})
    model = Modelled(register(ledger, raw), validate_profile(raw, MANDATORY), None)
    for path in PERSONAL:
        model.hold(path, value_at(model.profile, path))
    for changes in drawn["verified"]:
        plain = propose(ledger, model, tagged_personal(changes, tag), verify=True)
        model.profile = apply_changes(model.profile, plain)
    if drawn["pending"] is not None:
        model.pending = propose(ledger, model, tagged_personal(drawn["pending"], tag),
                                verify=False)
    return model


def propose(ledger: Ledger, model: Modelled, changes: dict[str, Any], *, verify: bool
            ) -> dict[str, Any]:
    plain = validate_changes(model.profile, changes, MANDATORY)
    change(ledger, model.customer_id, changes, verify=verify)
    for path, value in plain.items():
        model.hold(path, value)
    return plain


def test_erasing_one_customer_hides_all_of_it_and_nothing_of_the_others(live: Ledger) -> None:
    readable: list[Modelled] = []  # every customer not erased, from every example so far

    @examples(live, sqlite=12, postgres=4)
    @given(drawn=st.lists(customers, min_size=2, max_size=3), chosen=st.integers(0, 2))
    def erase_one(drawn: list[dict[str, Any]], chosen: int) -> None:
        models = [modelled(live, customer) for customer in drawn]
        erased = models[chosen % len(models)]
        readable.extend(model for model in models if model is not erased)
        stored = live.store.app_recorder.select_events(UUID(erased.customer_id))
        erase(live, erased.customer_id)
        for model in models:
            if model is not erased:
                assert_fully_readable(live, model)
        assert_nothing_readable(live, erased, readable)
        after = live.store.app_recorder.select_events(UUID(erased.customer_id))
        assert [bytes(e.state) for e in after[:-1]] == [bytes(e.state) for e in stored]
        assert after[-1].topic.endswith("Customer.Erased") and len(after) == len(stored) + 1

    erase_one()


def retyped(phone: str) -> str:
    """``+8613912345678`` as a person types it: ``+86 139-1234-5678``."""
    return f"{phone[:3]} {phone[3:6]}-{phone[6:10]}-{phone[10:]}"


def assert_fully_readable(ledger: Ledger, model: Modelled) -> None:
    customer_id, profile = model.customer_id, model.profile
    assert ask(ledger, GetCustomer(customer_id=UUID(customer_id)))["customer"][
        "profile"] == profile
    assert customer_id in found_by(ledger, phone=retyped(profile["basic"]["phone"]))
    assert customer_id in found_by(ledger, email=profile["basic"]["email"].upper())
    assert customer_id in found_by(ledger, person=profile["basic"]["legal_representative"])
    for contact in profile["contacts"]:
        assert customer_id in found_by(ledger, person=contact["name"])
    # What a verifier is shown: the pending change, applied, gives what it would give.
    pending = ask(ledger, ListPendingProposals(customer_id=UUID(customer_id)))["proposals"]
    assert [apply_changes(profile, p["changes"]) for p in pending] == (
        [apply_changes(profile, model.pending)] if model.pending else [])


def assert_nothing_readable(ledger: Ledger, model: Modelled, others: list[Modelled]) -> None:
    customer_id = model.customer_id
    view = ask(ledger, GetCustomer(customer_id=UUID(customer_id)))["customer"]
    assert (view["erased"], view["profile"]) == (True, {})
    for value in model.ever:
        for kind in ("phone", "email", "person"):
            try:
                found = found_by(ledger, **{kind: value})
            except ValidationError:
                continue  # no search of this kind takes the text (it is no phone number)
            assert customer_id not in found
    assert all(customer_id not in ids for _, ids in duplicate_groups(ledger))
    assert ask(ledger, ListPendingProposals(customer_id=UUID(customer_id)))["proposals"] == []
    history = ask(ledger, CustomerHistory(customer_id=UUID(customer_id)), INFO_HEAD)
    assert history["erased"] and history["events"][-1]["event"] == "Erased"
    shown = [(path, value) for event in history["events"]
             for path, value in event["facts"].get("values", {}).items() if is_personal(path)]
    # A field registered empty shows as empty: there was nothing to erase.
    assert all(value in (ERASED, None) for _, value in shown), shown
    by_name = ask(ledger, FindCustomers(name_prefix=model.profile["basic"]["name"][:1],
                                        limit=500))
    assert customer_id not in {customer["customer_id"] for customer in by_name["customers"]}
    answers = json.dumps([view, history, by_name], ensure_ascii=False)
    theirs = {value for other in others for value in other.ever | set(strings_in(other.profile))}
    # A value that is part of another customer's readable value (``i@mail.example.com``
    # inside ``pyqi@mail.example.com``) would be found in their answers: it tells nothing.
    telling = {value for value in model.ever - theirs if len(value) >= 6
               and not any(value.lower() in their.lower() for their in theirs)}
    assert leaks(telling, {"answers": answers.encode()}) == {}
