"""In-memory stand-ins for the write side's infrastructure, so handler tests drive the real
bus with no database: the library's in-memory event store, keys held in a dict, and an
identity service that keeps no sessions."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from commands.access_log import AccessLog
from commands.actor import Actor
from commands.authentication import Identity
from commands.authorisation import PolicyAuthoriser
from commands.bus import MessageBus
from commands.ports import Clock
from ledger.crypto import BlindIndex, KeyMaterialError, key_id_of, new_data_key
from ledger.domain.errors import PermissionDeniedError
from ledger.policy import Policy
from ledger.protection import ProfileProtector
from ledger.store import LedgerStore, open_memory_store
from service.bootstrap import build_bus


class InMemoryKeys:
    """Customers' data keys in a dict, with the key store's rules: one key per customer,
    created once, and an erased customer's id never gets a key again."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, bytes]] = {}
        self._erased: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def new_customer_id(self) -> str:
        customer_id = str(uuid.uuid4())
        self.create(customer_id)
        return customer_id

    def give_back(self, customer_id: str) -> None:
        # Made on demand, so nothing is spare: a given-back id's key goes with it.
        with self._lock:
            self._keys.pop(customer_id, None)

    def create(self, customer_id: str) -> str:
        with self._lock:
            if customer_id in self._erased:
                raise KeyMaterialError("this customer id belongs to an erased customer")
            if customer_id not in self._keys:
                key = new_data_key()
                self._keys[customer_id] = (key_id_of(key, "data"), key)
            return self._keys[customer_id][0]

    def data_key(self, customer_id: str) -> tuple[str, bytes] | None:
        return self._keys.get(customer_id)

    def cipher(self, customer_id: str) -> tuple[str, AESGCM] | None:
        found = self._keys.get(customer_id)
        return (found[0], AESGCM(found[1])) if found else None

    def prefetch(self, customer_ids: Iterable[str]) -> int:
        return sum(1 for customer_id in customer_ids if customer_id in self._keys)

    def destroy(self, customer_id: str) -> str | None:
        with self._lock:
            found = self._keys.pop(customer_id, None)
            key_id = found[0] if found else None
            self._erased.setdefault(customer_id, key_id)
        return key_id

    def is_erased(self, customer_id: str) -> bool:
        return customer_id in self._erased


class NoCredentials:
    """The write side keeps no sessions, failure counts or second factors: a handler test
    that reached for them would need the credential store's database."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the unit write side has no credential store ({name})")


@dataclass
class Access:
    access_log: AccessLog
    authoriser: PolicyAuthoriser
    identity: Identity


@dataclass
class WriteSide:
    """What a handler test drives: the real bus, with the policy's authoriser, on the
    library's in-memory event store and in-memory keys."""

    policy: Policy
    store: LedgerStore
    keys: InMemoryKeys
    protector: ProfileProtector
    access: Access
    bus: MessageBus

    def close(self) -> None:
        self.store.close()


def write_side(policy: Policy, clock: Clock) -> WriteSide:
    store = open_memory_store()
    keys = InMemoryKeys()
    personal_data = ProfileProtector(keys, BlindIndex(secrets.token_bytes(32)),
                                     policy.personal_fields)
    access_log = AccessLog(store, clock)
    authoriser = PolicyAuthoriser(policy.access, access_log)
    identity = Identity(store, NoCredentials(), policy,  # type: ignore[arg-type]
                        access_log, clock)
    bus = build_bus(store, policy, personal_data, authoriser, clock=clock)
    return WriteSide(policy, store, keys, personal_data, Access(access_log, authoriser, identity),
                     bus)


class RecordingAuthoriser:
    """Remembers every question, and refuses the operations it was told to deny."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.denied: set[str] = set()

    def authorise(self, actor: Actor, operation: str, target: str | None) -> None:
        self.calls.append((actor.id, operation, target))
        if operation in self.denied:
            raise PermissionDeniedError(f"{operation} is not allowed for this actor")
