"""The key store checked against the event log (AU-6), for ``ledger keys verify``.

The log decides who is live and who is erased; the key store must follow: every live
customer has exactly its own key (the one its registration was sealed with, unwrapping
under the KEK), an erased one has none, and every key belongs to a registered customer or
is a spare made ahead (``reserved_keys``). Customer ids are named; they are not personal
data, and no key material is ever printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventsourcing.utils import get_topic

from ledger.crypto import is_envelope
from ledger.domain.customer import Customer
from ledger.keystore import KeyStore
from ledger.protection import BUNDLE
from ledger.store import NOTIFICATION_BATCH, LedgerStore

_REGISTERED = get_topic(Customer.Registered)
_ERASED = get_topic(Customer.Erased)

MISSING_KEY = "missing_key"
ERASED_IN_KEY_STORE_ONLY = "erased_in_key_store_only"
KEY_FOR_ERASED = "key_for_erased"
KEY_WITHOUT_CUSTOMER = "key_without_customer"
WRONG_KEY = "wrong_key"

_DETAILS = {
    MISSING_KEY: "the log says this customer is live, but the key store has no key for it "
                 "(its reads fail with key_material)",
    ERASED_IN_KEY_STORE_ONLY: "the key store records an erasure the log does not: the "
                              "customer would read as [erased]",
    KEY_FOR_ERASED: "the log says this customer is erased, but its key is still stored",
    KEY_WITHOUT_CUSTOMER: "a stored key whose customer id the log never registered (and "
                          "not a spare made ahead)",
    WRONG_KEY: "the stored key is not the one the customer's events were sealed with, or "
               "does not unwrap under the KEK to the key its id names",
}


@dataclass(frozen=True)
class KeyFinding:
    """One customer id whose key-store state does not follow from the log."""

    kind: str
    customer_id: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "customer_id": self.customer_id,
                "detail": _DETAILS[self.kind]}


@dataclass
class KeyReport:
    """What ``ledger keys verify`` found."""

    live_customers: int = 0
    erased_customers: int = 0
    stored_keys: int = 0
    spare_keys: int = 0
    findings: list[KeyFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "live_customers": self.live_customers,
                "erased_customers": self.erased_customers, "stored_keys": self.stored_keys,
                "spare_keys": self.spare_keys,
                "findings": [finding.as_dict() for finding in self.findings]}


@dataclass
class _KeyStoreState:
    keys: dict[str, tuple[str, bytes]]
    tombstones: set[str]
    reserved: set[str]


def _key_store_state(keys: KeyStore) -> _KeyStoreState:
    with keys.db.snapshot() as cursor:
        stored = {str(cid): (str(kid), bytes(wrapped)) for cid, kid, wrapped in cursor.all(
            "SELECT customer_id, key_id, wrapped FROM data_keys")}
        tombstones = {str(row[0]) for row in cursor.all("SELECT customer_id FROM erased_keys")}
        reserved = {str(row[0]) for row in cursor.all("SELECT customer_id FROM reserved_keys")}
    return _KeyStoreState(stored, tombstones, reserved)


def _sealed_with(profile: dict[str, Any]) -> str | None:
    """The key id a registration's personal values were sealed with (None: none sealed)."""
    bundle = profile.get(BUNDLE)
    return str(bundle["kid"]) if isinstance(bundle, dict) and is_envelope(bundle) else None


def _log_state(store: LedgerStore) -> tuple[dict[str, str | None], set[str]]:
    """Every registered customer with the key id it was sealed with, and the erased ones."""
    registered: dict[str, str | None] = {}
    erased: set[str] = set()
    position = 0
    while page := store.app_recorder.select_notifications(
            start=position, limit=NOTIFICATION_BATCH, topics=[_REGISTERED, _ERASED],
            inclusive_of_start=False):
        for notification in page:
            customer_id = str(notification.originator_id)
            if notification.topic == _ERASED:
                erased.add(customer_id)
            else:
                event: Any = store.mapper.to_domain_event(notification)
                registered[customer_id] = _sealed_with(event.profile)
        position = page[-1].id
    return registered, erased


def _check(store: LedgerStore, keys: KeyStore) -> KeyReport:
    # The key store first: a customer registered meanwhile has its key already (ids are
    # handed out with their keys stored), so only an erasure in between can race, and
    # ``verify_keys`` confirms every finding with a second read.
    state = _key_store_state(keys)
    registered, erased = _log_state(store)
    findings: list[KeyFinding] = []
    for customer_id, sealed_with in sorted(registered.items()):
        stored = state.keys.get(customer_id)
        if customer_id in erased:
            if stored is not None:
                findings.append(KeyFinding(KEY_FOR_ERASED, customer_id))
        elif stored is None:
            kind = ERASED_IN_KEY_STORE_ONLY if customer_id in state.tombstones else MISSING_KEY
            findings.append(KeyFinding(kind, customer_id))
        elif customer_id in state.tombstones:
            findings.append(KeyFinding(ERASED_IN_KEY_STORE_ONLY, customer_id))
        elif (sealed_with is not None and stored[0] != sealed_with) or not keys.names_its_key(
                *stored):
            findings.append(KeyFinding(WRONG_KEY, customer_id))
    strays = sorted(set(state.keys) - set(registered) - state.reserved)
    findings += [KeyFinding(KEY_WITHOUT_CUSTOMER, customer_id) for customer_id in strays]
    spare = set(state.keys) & state.reserved - set(registered)
    return KeyReport(live_customers=len(set(registered) - erased),
                     erased_customers=len(erased & set(registered)),
                     stored_keys=len(state.keys), spare_keys=len(spare), findings=findings)


def verify_keys(store: LedgerStore, keys: KeyStore) -> KeyReport:
    """Check the key store against the log; a finding counts only if a second read still
    shows it (a running service may be between an erasure and its key's destruction)."""
    first = _check(store, keys)
    if first.ok:
        return first
    second = _check(store, keys)
    confirmed = set(first.findings)
    second.findings = [finding for finding in second.findings if finding in confirmed]
    return second
