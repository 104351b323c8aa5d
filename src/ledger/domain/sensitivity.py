"""Field sensitivity and masking (AC-1, P5): what a reader without clearance sees.

The bus decides the reader's clearance and sets it for the duration of a query; the query
layer masks every sensitive field the reader is not cleared for. Masking fails closed: with
no clearance set, a query answers as for the narrowest one (every sensitive field masked,
``NO_CLEARANCE`` where the policy's list is not at hand). Code that needs every field says
so, with full clearance and a purpose, and that is audited (``commands.read_audit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import phonenumbers

from ledger.domain.profile import paths_overlap

MASK = "***"


@dataclass(frozen=True)
class Clearance:
    """The field paths a reader may not see unmasked (``everything``: no path at all)."""

    hidden_paths: frozenset[str]
    everything: bool = False

    @classmethod
    def narrowest(cls, sensitive_paths: Iterable[str]) -> Clearance:
        """The clearance of a reader cleared for nothing: every sensitive path hidden."""
        return cls(frozenset(sensitive_paths))

    def hides(self, path: str) -> bool:
        return self.everything or any(paths_overlap(path, hidden)
                                      for hidden in self.hidden_paths)

    def readable(self, paths: Iterable[str]) -> list[str]:
        """Those of ``paths`` this reader may see unmasked, sorted."""
        return sorted(path for path in paths if not self.hides(path))


FULL_CLEARANCE = Clearance(frozenset())
# What code reading without any clearance set gets, where the policy's sensitive fields are
# not at hand: nothing readable. The registered query handlers use the policy's narrowest.
NO_CLEARANCE = Clearance(frozenset(), everything=True)

_current: ContextVar[Clearance] = ContextVar("ledger_reader_clearance", default=NO_CLEARANCE)


def current_clearance() -> Clearance:
    """The reader's clearance the bus (or a full-clearance read) set; ``NO_CLEARANCE``
    when nobody set one."""
    return _current.get()


@contextmanager
def reading_with(clearance: Clearance) -> Iterator[Clearance]:
    """Within this block, query answers are masked for ``clearance``."""
    token = _current.set(clearance)
    try:
        yield clearance
    finally:
        _current.reset(token)


def mask_phone(value: str) -> str:
    """``+8613800138000`` -> ``+86******8000``: the country code and last four digits."""
    try:
        country = f"+{phonenumbers.parse(value, None).country_code}"
    except phonenumbers.NumberParseException:
        country = ""
    return f"{country}******{value[-4:]}" if len(value) > 8 else MASK


def mask_email(value: str) -> str:
    """``sales@mingyuan.cn`` -> ``s***@mingyuan.cn``."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else MASK


def mask_value(value: Any) -> Any:
    """The masked form of any profile value, keeping its shape and currencies."""
    if value is None:
        return None
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"}:
            return {"amount": MASK, "currency": value["currency"]}
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, str) and value.startswith("+") and value[1:].isdigit():
        return mask_phone(value)
    if isinstance(value, str) and "@" in value:
        return mask_email(value)
    return MASK


def mask_profile(profile: dict[str, Any], clearance: Clearance) -> tuple[dict[str, Any],
                                                                         list[str]]:
    """The profile with every hidden field masked, and the paths that were masked."""
    masked_paths: list[str] = []
    result = dict(profile)
    hidden = clearance.hidden_paths if not clearance.everything else {
        f"{head}.{field}" if isinstance(group, dict) else head
        for head, group in profile.items()
        for field in (group if isinstance(group, dict) else [None])}
    for path in sorted(hidden):
        head, _, field = path.partition(".")
        if not field:
            if result.get(head) not in (None, [], {}):
                result[head] = mask_value(result[head])
                masked_paths.append(path)
            continue
        group = result.get(head)
        if isinstance(group, dict) and group.get(field) not in (None, [], {}):
            result[head] = group | {field: mask_value(group[field])}
            masked_paths.append(path)
    return result, masked_paths


def mask_changes(changes: dict[str, Any], clearance: Clearance) -> dict[str, Any]:
    """A change set (``{"basic.phone": ...}``) with the values of hidden paths masked."""
    return {path: mask_value(value) if clearance.hides(path) else value
            for path, value in changes.items()}
