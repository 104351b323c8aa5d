"""Appending events on PostgreSQL in one round trip.

The library's PostgreSQL recorder appends in a client-side transaction: BEGIN, a lock
timeout, LOCK TABLE, NOTIFY, the INSERT, a sync, then COMMIT, several round trips during
which the table lock is held. The same steps run here inside one server-side function,
called as a single autocommit statement: one round trip, and the lock is held only while
the server inserts and commits. The guarantees are the library's own: the EXCLUSIVE table
lock makes commit order equal notification-id order (so no follower of the log passes a
gap that fills in later), the rows go in as one INSERT in the order given, and NOTIFY wakes
listeners; a unique-key violation still surfaces as the library's ``IntegrityError``.

A lost connection (a restarted server, a terminated session, a dead pooled connection) is
retried, as the library's recorder retries its own inserts: the call is one statement, so
either it committed or nothing was written, and a retry of rows that did commit breaks
their unique (originator, version) key, which the bus answers with the command's first
outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.transient import DEFAULT_RETRY_SECONDS, retrying

FUNCTION = "ledger_append_events"


class PostgresAppend:
    """Installs and calls the append function for one recorder's events table."""

    def __init__(self, recorder: PostgresApplicationRecorder, *,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        self.recorder = recorder
        self.retry_seconds = retry_seconds
        datastore = recorder.datastore
        self._schema = Identifier(datastore.schema)
        self._call = SQL("SELECT * FROM {schema}.{function}(%s)").format(
            schema=self._schema, function=Identifier(FUNCTION))
        self._create = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
            "BEGIN "
            "  SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "  NOTIFY {channel}; "
            "  RETURN QUERY INSERT INTO {schema}.{table} "
            "    (originator_id, originator_version, topic, state) "
            "    SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "    RETURNING notification_id; "
            "END; $body$"
        ).format(
            schema=self._schema, function=Identifier(FUNCTION),
            event=Identifier(recorder.stored_event_type_name),
            table=Identifier(recorder.events_table_name),
            channel=Identifier(recorder.channel_name),
            lock_timeout=datastore.lock_timeout,
        )

    def install(self) -> None:
        """Create (or update) the function; idempotent, so every start may run it."""
        with self.recorder.datastore.get_connection() as connection, connection.transaction():
            # Two instances starting at once must not race on the catalogue row.
            connection.execute(SQL("SELECT pg_advisory_xact_lock(hashtext({name}))").format(
                name=FUNCTION))
            connection.execute(self._create)

    def __call__(self, rows: Sequence[StoredEvent]) -> list[int]:
        """Append ``rows`` in one transaction; their notification ids, in the same order."""
        composite = [self.recorder.construct_pg_stored_event(
            row.originator_id, row.originator_version, row.topic, row.state) for row in rows]
        return retrying(lambda: self._append(composite), seconds=self.retry_seconds,
                        on_fault=self.recorder.datastore.pool.check)

    def _append(self, composite: Sequence[object]) -> list[int]:
        with self.recorder.datastore.get_connection() as connection, \
                connection.cursor() as cursor:
            cursor.execute(self._call, (composite,), prepare=True)
            return [int(found[FUNCTION]) for found in cursor.fetchall()]
