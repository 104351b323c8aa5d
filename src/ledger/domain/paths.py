"""Field paths: ``group.field`` names a value inside a profile (``basic.phone``)."""

from __future__ import annotations

from typing import Any


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` in nested objects, or None where there is none."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
