"""Personal data in and out of events: sealing the policy's personal fields with the
customer's data key, opening them for readers, and blind-index digests for search."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.crypto import (
    ENVELOPE_MARK,
    ERASED,
    BlindIndex,
    KeyMaterialError,
    is_envelope,
    open_envelope,
    seal,
)
from ledger.domain.errors import WorkflowViolationError
from ledger.domain.free_text import COMMAND_REASON_PATH
from ledger.domain.paths import JsonDict, apply_changes, paths_overlap, value_at

BUNDLE = "$sealed"
"""Where a registration's personal values live together, sealed as one envelope."""
IN_BUNDLE = {ENVELOPE_MARK: 0}
"""The marker left in a personal field whose value is in the bundle."""

# What each searchable kind is drawn from: (kind, path in the profile, field in list items).
_SEARCHABLE: tuple[tuple[str, str, str | None], ...] = (
    ("phone", "basic.phone", None),
    ("phone", "basic.fax", None),
    ("email", "basic.email", None),
    ("name", "basic.name", None),
    ("person", "basic.legal_representative", None),
    ("address", "basic.address", None),
    ("phone", "contacts", "phone"),
    ("email", "contacts", "email"),
    ("person", "contacts", "name"),
)
SEARCH_SOURCES: dict[str, frozenset[str]] = {
    kind: frozenset(source for found, source, _ in _SEARCHABLE if found == kind)
    for kind, _, _ in _SEARCHABLE
}
"""The profile paths each searchable kind is matched in (what a searcher must be cleared for)."""


SEALED_FOR = "customer_id"
SEALED_TEXT = "sealed"


def is_sealed_reason(value: Any) -> bool:
    """Whether a metadata reason is one ``seal_reason`` made (else plaintext, or none)."""
    return isinstance(value, dict) and SEALED_FOR in value and is_envelope(value.get(SEALED_TEXT))


class DataKeys(Protocol):
    """The customers' data keys as protection uses them: ``ledger.keystore.KeyStore``, or an
    in-memory one where no database is wanted."""

    def new_customer_id(self) -> str: ...

    def create(self, customer_id: str) -> str: ...

    def data_key(self, customer_id: str) -> tuple[str, bytes] | None: ...

    def cipher(self, customer_id: str) -> tuple[str, AESGCM] | None: ...

    def prefetch(self, customer_ids: Iterable[str]) -> int: ...

    def destroy(self, customer_id: str) -> str | None: ...

    def is_erased(self, customer_id: str) -> bool: ...

    def give_back(self, customer_id: str) -> None: ...


class MissingDataKeyError(KeyMaterialError):
    """A customer the key store does not record as erased has no data key: the key store
    was edited or restored from an older backup, and ``[erased]`` would be a lie."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(
            "this customer's data key is missing from the key store, yet the customer is not "
            "erased; `ledger keys verify` lists every such customer",
            details={"customer_id": customer_id})



def _open_value(value: Any, cipher: AESGCM | None, customer_id: str, path: str) -> Any:
    if not is_envelope(value):
        return value
    if cipher is None:
        return ERASED
    return open_envelope(value, key=cipher, customer_id=customer_id, path=path)


def _address_text(address: Any) -> str:
    if not isinstance(address, dict):
        return str(address)
    parts = ("country", "region", "city", "street", "postal_code")
    return "|".join(str(address.get(part) or "") for part in parts)


class ProfileProtector:
    """Seals and opens personal fields; computes search digests from plaintext (the
    write side's ``commands.ports.PersonalData``)."""

    def __init__(self, keys: DataKeys, index: BlindIndex, personal_paths: list[str]) -> None:
        self.keys = keys
        self.index = index
        self.personal_paths = tuple(personal_paths)
        # Told the id of each customer whose key is destroyed now (the backups' reach:
        # service.backup shreds the key-store backups that still hold it).
        self.key_destroyed_listeners: list[Callable[[str], None]] = []

    def is_personal(self, path: str) -> bool:
        return any(paths_overlap(path, personal) for personal in self.personal_paths)

    # Sealing (write side) ------------------------------------------------------

    def _cipher(self, customer_id: str) -> tuple[str, AESGCM]:
        found = self.keys.cipher(customer_id)
        if found is None:
            self._check_erased(customer_id)
            raise WorkflowViolationError("this customer's data key has been destroyed")
        return found

    def _check_erased(self, customer_id: str) -> None:
        """A key is gone legitimately only with the erasure tombstone that replaces it."""
        if not self.keys.is_erased(customer_id):
            raise MissingDataKeyError(customer_id)

    def new_customer_id(self) -> UUID:
        """An id for a new customer, its key already stored (no key-store write per command)."""
        return UUID(self.keys.new_customer_id())

    def give_back_customer_id(self, customer_id: UUID) -> None:
        """Return an id from ``new_customer_id`` that no saved event names (a replayed or
        refused registration): its key goes back to the spares, not left to no one."""
        self.keys.give_back(str(customer_id))

    def seal_profile(self, customer_id: str, profile: JsonDict) -> JsonDict:
        """The profile with every personal value replaced by an envelope (a new customer's
        key is created here)."""
        self.keys.create(customer_id)
        key_id, cipher = self._cipher(customer_id)
        sealed = {name: dict(value) if isinstance(value, dict) else value
                  for name, value in profile.items()}
        # One envelope holds every personal value of the registration, so a read opens
        # one ciphertext, not one per field; each place keeps a marker pointing there.
        bundle: JsonDict = {}
        for path in self.personal_paths:
            group, _, field = path.partition(".")
            holder = sealed.get(group) if field else sealed
            name = field or group
            if isinstance(holder, dict) and holder.get(name) is not None:
                bundle[path] = holder[name]
                holder[name] = dict(IN_BUNDLE)
        if bundle:
            sealed[BUNDLE] = seal(bundle, key=cipher, key_id=key_id, customer_id=customer_id,
                                  path=BUNDLE)
        return sealed

    def seal_changes(self, customer_id: str, changes: JsonDict, current: JsonDict) -> JsonDict:
        """Changes keyed by path, the personal ones sealed under their own path.

        A change inside a field that is sealed whole (``credit.rating`` when ``credit`` is
        personal) becomes a change of that whole field, or it could not be applied to
        the sealed value; ``current`` is the plaintext profile it applies to."""
        key_id, cipher = self._cipher(customer_id)
        candidate = apply_changes(current, changes)
        lifted: JsonDict = {}
        for path, value in changes.items():
            whole = next((p for p in self.personal_paths if path.startswith(p + ".")), None)
            if whole is not None:
                lifted[whole] = value_at(candidate, whole)
            else:
                lifted[path] = value
        return {
            path: seal(value, key=cipher, key_id=key_id, customer_id=customer_id, path=path)
            if value is not None and self.is_personal(path) else value
            for path, value in lifted.items()
        }

    def seal_text(self, customer_id: str, path: str, text: str) -> JsonDict:
        """Free text about a customer (a hold's reason, a deletion's details), sealed under
        the customer's key and bound to ``path``, so an erasure takes it too."""
        key_id, cipher = self._cipher(customer_id)
        return seal(text, key=cipher, key_id=key_id, customer_id=customer_id, path=path)

    def seal_reason(self, customer_id: str, text: str) -> JsonDict:
        """A command's reason, for the metadata of a command about a customer: sealed, and
        naming the customer whose key opens it (readers of the audit trail need it)."""
        return {SEALED_FOR: customer_id,
                SEALED_TEXT: self.seal_text(customer_id, COMMAND_REASON_PATH, text)}

    def key_id(self, customer_id: str) -> str | None:
        """The id of the customer's data key, None once it is destroyed."""
        found = self.keys.data_key(customer_id)
        return found[0] if found else None

    def destroy_key(self, customer_id: str) -> str | None:
        """Destroy the customer's data key: every sealed value of theirs becomes unreadable.
        Returns the id of the key destroyed now (None if it was gone already)."""
        destroyed = self.keys.destroy(customer_id)
        if destroyed is not None:
            for listener in self.key_destroyed_listeners:
                listener(customer_id)
        return destroyed

    def keyed_hash(self, data: bytes) -> str:
        """A digest under the index key: without the key, a stored digest confirms no guess."""
        return self.index.keyed_hash(data)

    # Opening (read side) -------------------------------------------------------

    def open_profile(self, customer_id: str, profile: JsonDict) -> JsonDict:
        """The profile with envelopes opened, or ``[erased]`` where the key was destroyed
        (``MissingDataKeyError`` where it is missing without an erasure).

        Envelopes sit where changes put them: a top-level entry or a group's field."""
        cipher = self._cipher_or_none(customer_id)
        sealed_bundle = profile.get(BUNDLE)
        bundle = _open_value(sealed_bundle, cipher, customer_id, BUNDLE) if sealed_bundle else {}

        def opened_at(value: Any, path: str) -> Any:
            if value.get(ENVELOPE_MARK) == IN_BUNDLE[ENVELOPE_MARK]:
                return bundle.get(path) if isinstance(bundle, dict) else ERASED
            return _open_value(value, cipher, customer_id, path)

        opened: JsonDict = {}
        for name, value in profile.items():
            if name == BUNDLE:
                continue
            if not isinstance(value, dict):
                opened[name] = value
            elif ENVELOPE_MARK in value:
                opened[name] = opened_at(value, name)
            else:
                group = opened[name] = dict(value)
                for field, item in value.items():
                    if isinstance(item, dict) and ENVELOPE_MARK in item:
                        group[field] = opened_at(item, f"{name}.{field}")
        return opened

    def open_changes(self, customer_id: str, changes: JsonDict) -> JsonDict:
        cipher = self._cipher_or_none(customer_id)
        return {path: _open_value(value, cipher, customer_id, path)
                for path, value in changes.items()}

    def open_text(self, customer_id: str, path: str, value: Any) -> Any:
        """Text sealed by ``seal_text`` opened (``[erased]`` once the key is destroyed);
        text stored before it was sealed is returned as it is."""
        if not is_envelope(value):
            return value
        return _open_value(value, self._cipher_or_none(customer_id), customer_id, path)

    def open_reason(self, value: Any) -> Any:
        """A reason from an event's metadata as a reader sees it: a sealed one opened
        (``[erased]`` once its customer is), a plaintext one (an account's, or one stored
        before reasons were sealed) as it is."""
        if not is_sealed_reason(value):
            return value
        return self.open_text(value[SEALED_FOR], COMMAND_REASON_PATH, value[SEALED_TEXT])

    def prefetch_keys(self, customer_ids: Iterable[str]) -> None:
        """Load many customers' keys at once, before opening their values one by one."""
        self.keys.prefetch(customer_ids)

    def _cipher_or_none(self, customer_id: str) -> AESGCM | None:
        """The customer's cipher, None once erased; a missing key is an error otherwise."""
        found = self.keys.cipher(customer_id)
        if found is None:
            self._check_erased(customer_id)
            return None
        return found[1]

    # Search --------------------------------------------------------------------

    def digests(self, path: str, value: Any) -> Iterator[tuple[str, str]]:
        """(kind, digest) for a plaintext value set at ``path``."""
        if value is None or value == ERASED:
            return
        for kind, source, item_field in _SEARCHABLE:
            if source != path:
                continue
            items = value if item_field else [value]
            for item in items if isinstance(items, list) else []:
                found = item.get(item_field) if item_field and isinstance(item, dict) else item
                if found:
                    text = _address_text(found) if kind == "address" else str(found)
                    yield kind, self.index.digest(kind, text)

    def search_paths(self) -> frozenset[str]:
        return frozenset(source for _, source, _ in _SEARCHABLE)

    def query_digest(self, kind: str, value: str) -> str:
        return self.index.digest(kind, value)
