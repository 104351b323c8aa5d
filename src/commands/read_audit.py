"""Audited reads (AU-1): one access record per query that answers with customer data.

The bus calls ``ReadAudit.record`` once for every query it answers (or that fails after
authorisation, refused or broken by an unexpected error), so no route or handler has to
remember to. The record names the customers the answer is about and the sensitive fields
the reader saw unmasked, never their values; it is a cheap append (nothing is loaded), and
it sits in the log like every other event, so the hash chain covers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from commands.access_log import AccessLog
from ledger.crypto import ERASED
from ledger.domain.access import AccessRecord
from ledger.domain.errors import PermissionDeniedError, Problem, ValidationFailedError
from ledger.domain.paths import paths_overlap, value_at
from ledger.domain.sensitivity import FULL_CLEARANCE, Clearance, reading_with

# Placeholders that stand for a value the reader did not see.
_NOT_SHOWN: tuple[Any, ...] = (None, [], {}, "", ERASED, "[protected]")
# Answer keys holding change sets (path -> value): proposals and history facts.
_CHANGE_SETS = ("changes", "values")


def customer_ids_in(answer: Any) -> list[str]:
    """Every customer id an answer mentions, in first-seen order."""
    return list(dict.fromkeys(_ids(answer)))


def _ids(answer: Any) -> Iterator[str]:
    if isinstance(answer, list):
        for item in answer:
            yield from _ids(item)
    elif isinstance(answer, dict):
        for key, value in answer.items():
            if key == "customer_id" and value:
                yield str(value)
            elif key == "customer_ids" and isinstance(value, list):
                yield from (str(item) for item in value)
            else:
                yield from _ids(value)



def _shown(value: Any) -> bool:
    return not any(value == hidden for hidden in _NOT_SHOWN)


def revealed_fields_in(answer: Any, sensitive: frozenset[str], clearance: Clearance
                       ) -> list[str]:
    """The sensitive field paths whose values the (masked) answer shows in clear."""
    return sorted(set(_revealed(answer, sensitive, clearance)))


def _revealed(answer: Any, sensitive: frozenset[str], clearance: Clearance) -> Iterator[str]:
    if isinstance(answer, list):
        for item in answer:
            yield from _revealed(item, sensitive, clearance)
        return
    if not isinstance(answer, dict):
        return
    profile = answer.get("profile")
    if isinstance(profile, dict):
        masked = set(answer.get("masked_fields") or ())
        yield from (path for path in sensitive if path not in masked
                    and not clearance.hides(path) and _shown(value_at(profile, path)))
    for key in _CHANGE_SETS:
        changes = answer.get(key)
        if isinstance(changes, dict):
            yield from _revealed_changes(changes, sensitive, clearance)
    for key, value in answer.items():
        if key not in ("profile", *_CHANGE_SETS):
            yield from _revealed(value, sensitive, clearance)


def _revealed_changes(changes: dict[str, Any], sensitive: Iterable[str], clearance: Clearance
                      ) -> Iterator[str]:
    for path, value in changes.items():
        if (_shown(value) and not clearance.hides(path)
                and any(paths_overlap(path, field) for field in sensitive)):
            yield path


class ReadAudit:
    """Appends one ``CustomerDataRead`` access record per query about customers."""

    def __init__(self, access_log: AccessLog, sensitive_fields: Iterable[str]) -> None:
        self.access_log = access_log
        self.sensitive = frozenset(sensitive_fields)

    def record(self, *, actor: str, client_address: str | None, operation: str,
               target: str | None, answer: Any, clearance: Clearance, outcome: str) -> None:
        """Record the read if it concerned customers (named in the answer or the query),
        and every failed query of customer data, whatever it failed with: ``answer`` is
        then the error's details, which may name the customer."""
        ids = customer_ids_in(answer)
        if target is not None and not ids and operation in _CUSTOMER_TARGETED:
            ids = [target]
        failed = outcome != "ok"
        # A permission refusal has its own record (PermissionDenied, written once).
        unrecorded_failure = failed and outcome != PermissionDeniedError.code
        if not ids and not (unrecorded_failure and operation in CUSTOMER_DATA_QUERIES):
            return
        self.access_log.record(
            AccessRecord.CustomerDataRead, actor=actor, client_address=client_address,
            operation=operation, customer_ids=ids,
            revealed_fields=[] if failed else revealed_fields_in(answer, self.sensitive,
                                                                 clearance),
            outcome=outcome)


# Queries aimed at one customer: a failed one (not found) is recorded against its target.
_CUSTOMER_TARGETED = frozenset({"get-customer", "customer-history", "customer-as-of",
                                "list-pending-proposals"})
# Every query that answers with customer data: a failed one is recorded even when it names
# no customer (a certificate refused for a request that does not exist).
CUSTOMER_DATA_QUERIES = _CUSTOMER_TARGETED | frozenset({
    "find-customers", "find-customers-by", "list-reviews-due", "list-late-key-changes",
    "list-duplicates", "list-deletions", "erasure-certificate"})


@contextmanager
def reading_in_full(access_log: AccessLog, *, by: str, purpose: str) -> Iterator[Clearance]:
    """Within this block, queries answer with every sensitive field unmasked: for code that
    needs them all (a tool, an export, a benchmark), never the default. The use is recorded
    first, as a ``FullClearanceUsed`` access record naming who asked and why."""
    problems = [Problem(name, "must be 1-200 printable characters")
                for name, value in (("by", by), ("purpose", purpose))
                if not value.strip() or len(value) > 200 or not value.isprintable()]
    if problems:
        raise ValidationFailedError(problems)
    access_log.record(AccessRecord.FullClearanceUsed, actor=by, purpose=purpose)
    with reading_with(FULL_CLEARANCE) as clearance:
        yield clearance
