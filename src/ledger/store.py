"""The event store: the eventsourcing Application configured for SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import (
    ApplicationRecorder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    Transcoder,
)
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg_pool import ConnectionPool

from ledger.domain.customer import Customer
from ledger.domain.events import LedgerAggregate
from ledger.group_commit import GroupCommit
from ledger.integrity.decoding import CheckedMapper, UndecodableEventError
from ledger.pg_append import PostgresAppend
from ledger.private_files import ensure_private_file
from ledger.settings import Settings, postgres_params_of, sqlite_path_of
from ledger.transcoding import FastJSONTranscoder
from ledger.transient import DEFAULT_RETRY_SECONDS

NOTIFICATION_BATCH = 1000


class LedgerStore(Application):  # type: ignore[type-arg]
    """One event store, one global order: the audit trail is this log."""

    name = "ledger"
    # The library refuses log reads above this; catch-up reads in big sections (DESIGN.md).
    log_section_size = NOTIFICATION_BATCH
    snapshotting_intervals = {Customer: 100}

    def __init__(self, env: dict[str, str] | None = None, *,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        super().__init__(env)
        self._append: PostgresAppend | None = None
        if isinstance(self.recorder, PostgresApplicationRecorder):
            self._append = PostgresAppend(self.recorder, retry_seconds=retry_seconds)
            self._append.install()
        # Commands saved at the same moment share one transaction (README, "Benchmarks").
        self.group_commit: GroupCommit[Sequence[StoredEvent], Sequence[int]] = GroupCommit(
            self._insert_batch, self._insert_one)

    def construct_transcoder(self) -> Transcoder:
        # The library's JSON transcoder and transcodings, decoding with orjson.
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[Any]:
        # An event whose stored bytes no longer decode is an integrity finding naming its
        # position, never the library's traceback (ledger.integrity.decoding).
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(),
                                     mapper_class=CheckedMapper)
        if isinstance(mapper, CheckedMapper):
            mapper.position_of = lambda originator_id, version: self.position_of(
                UUID(str(originator_id)), version)
        return mapper

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        """Save aggregates' pending events in one transaction (shared with concurrent saves).

        The library's ``collect_events`` checks every object against two runtime protocols,
        about 20 us each on Python 3.11, on every command; the ledger's own aggregates are
        known to collect their events, so they skip those checks."""
        if kwargs or not all(isinstance(obj, LedgerAggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _record(self, processing_event: ProcessingEvent[Any]) -> list[Recording[Any]]:
        """Record one save's events through the group commit; each save still gets exactly
        its own notification ids, and returns only once they are durable."""
        if processing_event.tracking is not None or processing_event.saved_kwargs:
            return super()._record(processing_event)  # pragma: no cover - not used here
        events = processing_event.events
        if not events:
            return []
        stored = [self.mapper.to_stored_event(event) for event in events]
        ids = self.group_commit.write(stored)
        if self.repository.cache and not self.repository.fastforward:  # as the library does
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        return [
            Recording(event, Notification(
                id=position, originator_id=row.originator_id,
                originator_version=row.originator_version, topic=row.topic, state=row.state))
            for event, row, position in zip(events, stored, ids, strict=True)
        ]

    def _insert_batch(self, saves: Sequence[Sequence[StoredEvent]]) -> list[Sequence[int]]:
        """Every save's rows in one insert (one table lock and one commit on PostgreSQL)."""
        ids = self._insert_one([row for save in saves for row in save])
        answers: list[Sequence[int]] = []
        start = 0
        for save in saves:
            answers.append(ids[start:start + len(save)])
            start += len(save)
        return answers

    def _insert_one(self, rows: Sequence[StoredEvent]) -> Sequence[int]:
        if self._append is not None:
            return self._append(rows)
        ids = self.app_recorder.insert_events(rows)
        if ids is None or len(ids) != len(rows):  # pragma: no cover - library contract
            raise TypeError("the configured recorder does not return notification ids")
        return ids

    def drop_broken_connections(self) -> None:
        """After a lost connection: replace every pooled connection the server cut."""
        datastore = getattr(self.recorder, "datastore", None)
        pool = getattr(datastore, "pool", None)
        if isinstance(pool, ConnectionPool):
            pool.check()

    @property
    def app_recorder(self) -> ApplicationRecorder:
        recorder = self.recorder
        if not isinstance(recorder, ApplicationRecorder):  # pragma: no cover - library contract
            raise TypeError("the configured recorder cannot read the notification log")
        return recorder

    def read_log(self, after: int, limit: int = NOTIFICATION_BATCH) -> Sequence[Notification]:
        """Stored events after the global position ``after``, in order. A row whose columns
        an edit by hand left of another type (SQLite keeps whatever is written: an id as
        bytes, or text that is no UUID) is an ``UndecodableEventError`` naming its position,
        as a row whose bytes do not decode is, not the library's ``TypeError``."""
        recorder = self.app_recorder
        try:
            return recorder.select_notifications(start=after, limit=limit,
                                                 inclusive_of_start=False)
        except (TypeError, ValueError):
            readable: list[Notification] = []
            position = after
            while len(readable) < limit:  # the rows before it still read, one by one
                try:
                    page = recorder.select_notifications(start=position, limit=1,
                                                         inclusive_of_start=False)
                except (TypeError, ValueError):
                    break
                if not page:
                    break
                readable.extend(page)
                position = page[0].id
            if readable:  # up to just before it: the next read starts at it
                return readable
            raise UndecodableEventError(self._next_position(position), "", 0) from None

    def _next_position(self, after: int) -> int | None:
        recorder = self.app_recorder
        if not isinstance(recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder):
            return None  # pragma: no cover - the in-memory store holds only what it wrote
        column = "rowid" if isinstance(recorder, SQLiteApplicationRecorder) else "notification_id"
        mark = "?" if column == "rowid" else "%s"
        sql = (f"SELECT MIN({column}) FROM {recorder.events_table_name} "  # noqa: S608
               f"WHERE {column} > {mark}")
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (after,))
            row = cursor.fetchone()
        value = (next(iter(row.values())) if isinstance(row, dict) else row[0]) if row else None
        return int(value) if value is not None else None

    def head_position(self) -> int:
        return self.app_recorder.max_notification_id() or 0

    def position_of(self, originator_id: UUID, version: int = 1) -> int | None:
        """The global position of one stored event, or None when there is no such event."""
        recorder = self.app_recorder
        if isinstance(recorder, POPOApplicationRecorder):
            return self._scanned_position_of(originator_id, version)
        if isinstance(recorder, PostgresApplicationRecorder):
            column, mark = "notification_id", "%s"
        elif isinstance(recorder, SQLiteApplicationRecorder):
            column, mark = "rowid", "?"
        else:  # pragma: no cover - the ledger configures only these three
            raise TypeError("the configured recorder has no global positions")
        sql = (f"SELECT {column} FROM {recorder.events_table_name} "  # noqa: S608 - library names
               f"WHERE originator_id = {mark} AND originator_version = {mark}")
        identifier: Any = originator_id if column == "notification_id" else originator_id.hex
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (identifier, version))
            row = cursor.fetchone()
        if row is None:
            return None
        return int(row[column] if isinstance(row, dict) else row[0])

    def _scanned_position_of(self, originator_id: UUID, version: int) -> int | None:
        # The in-memory store has no index to ask: its log is read through, which is quick
        # at the sizes a test holds.
        after = 0
        while page := self.read_log(after):
            for notification in page:
                if (notification.originator_id == originator_id
                        and notification.originator_version == version):
                    return notification.id
            after = page[-1].id
        return None


def store_environment(settings: Settings, *, create_tables: bool = True) -> dict[str, str]:
    """The eventsourcing environment for the configured database."""
    env: dict[str, Any] = {"CREATE_TABLE": "y" if create_tables else "n"}
    if settings.backend == "sqlite":
        path = sqlite_path_of(settings.database_url)
        ensure_private_file(path)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_busy_timeout),
        }
    else:
        params = postgres_params_of(settings.database_url)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": params["dbname"],
            "POSTGRES_HOST": params["host"],
            "POSTGRES_PORT": params["port"],
            "POSTGRES_USER": params["user"],
            "POSTGRES_PASSWORD": params["password"],
            "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_CONNECT_TIMEOUT": str(settings.connect_timeout),
        }
    return env


def open_store(settings: Settings, *, create_tables: bool = True) -> LedgerStore:
    return LedgerStore(env=store_environment(settings, create_tables=create_tables),
                       retry_seconds=settings.database_retry_seconds)


def open_memory_store() -> LedgerStore:
    """An event store in this process's memory (the library's POPO recorders): the same
    aggregates, log and snapshots, gone when the process ends; for tests of the write side."""
    return LedgerStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
