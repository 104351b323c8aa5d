"""Paths into a profile's JSON form ("basic.email", "contacts"): reading the value at one,
setting many, and telling whether two overlap. Plain dictionaries, no schema."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


def value_at(data: JsonDict, path: str) -> Any:
    """The value at ``path``, or None when any step of it is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def apply_changes(profile: JsonDict, changes: JsonDict) -> JsonDict:
    """Return a copy of ``profile`` with every path in ``changes`` set (no validation)."""
    updated: JsonDict = {key: (dict(value) if isinstance(value, dict) else value)
                         for key, value in profile.items()}
    for path, value in changes.items():
        if "." in path:
            group, field = path.split(".", 1)
            section = updated.get(group)
            section = dict(section) if isinstance(section, dict) else {}
            section[field] = value
            updated[group] = section
        else:
            updated[path] = value
    return updated


def paths_overlap(left: str, right: str) -> bool:
    """True when setting one path can change the value at the other."""
    return left == right or left.startswith(right + ".") or right.startswith(left + ".")
