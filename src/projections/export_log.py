"""Every export produced (EX-3, EX-4): what ``ledger export identify`` matches a leaked file
against. Facts about the export only, never a row of it."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.export import Export
from ledger.sql import Cursor
from projections.projection import EventByEventProjection, topic_of

EXPORT_LOG_COLUMNS = ("export_id", "exporter", "exported_at", "purpose", "criteria", "fields",
                      "masked_fields", "format", "row_count", "canaries", "sha256", "query_hash",
                      "reflects_position", "request_id", "position")


class ExportLog(EventByEventProjection):
    name = "export_log"
    tables = ("export_log",)
    topics = frozenset({topic_of(Export.Produced)})

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS export_log (
                export_id TEXT PRIMARY KEY,
                exporter TEXT NOT NULL,
                exported_at TEXT NOT NULL,
                purpose TEXT NOT NULL,
                criteria TEXT NOT NULL,
                fields TEXT NOT NULL,
                masked_fields TEXT NOT NULL,
                format TEXT NOT NULL,
                row_count BIGINT NOT NULL,
                canaries INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                query_hash TEXT NOT NULL,
                reflects_position BIGINT NOT NULL,
                request_id TEXT,
                position BIGINT NOT NULL
            )""")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        cursor.insert_rows("export_log", EXPORT_LOG_COLUMNS, [(
            str(event.originator_id), event.exporter, event.timestamp.isoformat(),
            event.purpose, json.dumps(event.criteria, sort_keys=True), json.dumps(event.fields),
            json.dumps(event.masked_fields), event.format, event.rows, event.canaries,
            event.sha256, event.query_hash, event.reflects_position, event.request_id,
            position)])


def export_entry(row: tuple[Any, ...]) -> dict[str, Any]:
    entry = dict(zip(EXPORT_LOG_COLUMNS, row, strict=True))
    for key in ("criteria", "fields", "masked_fields"):
        entry[key] = json.loads(entry[key])
    return entry
