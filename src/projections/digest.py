"""A digest of each read model: the same rows give the same digest on SQLite and on
PostgreSQL (values in one canonical form, rows in one order), so a restored ledger's read
models can be compared with the live ones (``ledger projections digest``, the drill)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledger.sql import SqlDatabase
from projections.projection import Projection


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


def read_model_digests(views: SqlDatabase, projections: Mapping[str, Projection]
                       ) -> dict[str, str]:
    """Per projection, the SHA-256 of every row of its tables, read in one snapshot."""
    digests: dict[str, str] = {}
    with views.snapshot() as cursor:
        for name, projection in sorted(projections.items()):
            digest = hashlib.sha256()
            for table in projection.tables:
                rows = sorted(json.dumps([_canonical(value) for value in row],
                                         ensure_ascii=True, separators=(",", ":"))
                              for row in cursor.all(f"SELECT * FROM {table}"))  # noqa: S608
                digest.update(f"{table}:{len(rows)}\n".encode())
                for row in rows:
                    digest.update(row.encode() + b"\n")
            digests[name] = digest.hexdigest()
    return digests
