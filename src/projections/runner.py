"""The projection runner: follows the global event order and keeps every read model current.

Exactly once: a batch's view rows and the projection's new checkpoint are written in one
transaction, and the checkpoint only moves from the position the batch was read at. If
another runner moved it first, the batch rolls back and is read again. The same pull
loop runs on SQLite and PostgreSQL; an in-process save wakes it at once, and polling
covers writes from other processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from eventsourcing.persistence import Notification

from ledger.domain.errors import LedgerError
from ledger.domain.messages import message
from ledger.follower import BackgroundFollower
from ledger.integrity.decoding import UndecodableEventError
from ledger.integrity.report import IntegrityViolationError
from ledger.sql import SqlDatabase
from ledger.store import NOTIFICATION_BATCH, LedgerStore
from ledger.transient import is_constraint_violation
from projections.projection import Projection

log = structlog.get_logger("ledger.projections")

# Catch-up reads this many events per page: each page costs every projection a
# transaction and a few statements, so fewer, larger pages amortise them.
CATCH_UP_BATCH = 5 * NOTIFICATION_BATCH


class NotReflectedYetError(LedgerError):
    """A read asked for a position the projections have not reached within the wait."""

    code = "not_reflected_yet"
    http_status = 503
    exit_code = 8

Progress = Callable[[str, int, int], None]


class CheckpointMovedError(Exception):
    """Another runner applied this batch first."""


class ProjectionRunner(BackgroundFollower):
    """Applies new events to each projection, one checkpointed batch at a time."""

    thread_name = "ledger-projections"
    failure_event = "projection_batch_failed"

    def __init__(self, store: LedgerStore, views: SqlDatabase, projections: Sequence[Projection],
                 *, batch_size: int = CATCH_UP_BATCH) -> None:
        self.store = store
        self.views = views
        self.projections = {projection.name: projection for projection in projections}
        self.batch_size = batch_size
        # Told the name of each projection whose batch failed (the metrics' error count).
        self.on_projection_error: Callable[[str], None] = lambda _name: None
        # A wait for a position applies batches itself while no thread of this runner
        # does; False where ``ledger worker`` processes keep the read models (it only waits).
        self.drives_waits = True
        super().__init__()

    # Set-up ------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create missing read-model tables; drop and rebuild any whose shape has changed.
        Where all is in place this writes nothing (``SqlDatabase.setup``)."""
        with self.views.setup() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS projection_checkpoints ("
                           " name TEXT PRIMARY KEY, position BIGINT NOT NULL,"
                           " schema_version INTEGER NOT NULL DEFAULT 1)")
            for projection in self.projections.values():
                row = cursor.one("SELECT schema_version FROM projection_checkpoints "
                                 "WHERE name = :name", {"name": projection.name})
                if row is not None and int(row[0]) != projection.schema_version:
                    log.warning("projection_schema_changed", projection=projection.name,
                                stored=int(row[0]), current=projection.schema_version)
                    projection.drop_tables(cursor)
                    cursor.execute("DELETE FROM projection_checkpoints WHERE name = :name",
                                   {"name": projection.name})
                    row = None
                projection.create_tables(cursor, self.views.dialect)
                if row is None:
                    cursor.execute(
                        "INSERT INTO projection_checkpoints (name, position, schema_version)"
                        " VALUES (:name, 0, :version) ON CONFLICT (name) DO NOTHING",
                        {"name": projection.name, "version": projection.schema_version})

    # Positions ---------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.views.snapshot() as cursor:
            rows = cursor.all("SELECT name, position FROM projection_checkpoints")
        return {name: int(position) for name, position in rows if name in self.projections}

    def position(self) -> int:
        """The position every projection has reached (the least of them)."""
        return min(self.positions().values(), default=0)

    def wait_for(self, position: int, timeout: float) -> int:
        """Block until every projection reflects ``position``; return the position reached."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            reached = self.position()
            if reached >= position:
                return reached
            if time.monotonic() >= deadline:
                raise NotReflectedYetError(
                    "the read models have not reached the requested position yet",
                    details={"requested": position, "reflected": reached},
                )
            if self.drives_waits and not self.running:
                self.run_once()
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # Processing --------------------------------------------------------------

    def run_once(self) -> int:
        """Apply at most one batch to each projection; return how many events were read.

        The log is read once for all projections, from the least advanced one, and each
        event is decoded at most once; each projection then applies its own part in its
        own transaction, with its own checkpoint."""
        positions = self.positions()
        if not positions:
            return 0
        notifications = self.store.read_log(min(positions.values()), self.batch_size)
        if not notifications:
            return 0
        decoded: dict[int, Any] = {}
        stopped: UndecodableEventError | None = None
        for name, projection in self.projections.items():
            mine = [n for n in notifications if n.id > positions.get(name, 0)]
            try:
                if mine and not self._apply(projection, positions.get(name, 0), mine, decoded):
                    # Another runner moved this checkpoint meanwhile: read from where it is.
                    self._advance(projection)
            except UndecodableEventError as error:
                # The others go on (one that does not follow the event is not held up).
                self.on_projection_error(name)
                stopped = stopped or error
            except Exception as error:
                self.on_projection_error(name)
                if is_constraint_violation(error):
                    # Rows its checkpoint says are still to come are there already: the
                    # read model or its checkpoint was altered outside the ledger.
                    raise IntegrityViolationError(
                        message("read model {projection} does not follow its checkpoint (it "
                                "was altered outside the ledger): `ledger projections "
                                "verify` names the rows, `ledger projections rebuild` "
                                "repairs it", projection=name),
                        details={"projection": name}) from None
                raise
        if stopped is not None:
            raise stopped
        return len(notifications)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything stored so far; return how many events were read."""
        total = 0
        while True:
            done = self.run_once()
            total += done
            if progress is not None:
                progress("catch_up", self.position(), self.store.head_position())
            if done == 0:
                return total

    def _advance(self, projection: Projection) -> int:
        """One batch for one projection, read from its own checkpoint."""
        while True:
            with self.views.snapshot() as cursor:
                row = cursor.one("SELECT position FROM projection_checkpoints WHERE name = :name",
                                 {"name": projection.name})
            start = int(row[0]) if row else 0
            notifications = self.store.read_log(start, self.batch_size)
            if not notifications:
                return 0
            if self._apply(projection, start, notifications, {}):
                return len(notifications)

    def _apply(self, projection: Projection, start: int, notifications: Sequence[Notification],
               decoded: dict[int, Any]) -> bool:
        """Apply ``notifications`` (all after ``start``) and move the checkpoint from
        ``start`` to the last of them, in one transaction; False if it had moved.

        An event that does not decode stops the projection just before it, never past it:
        the events before it are applied, and ``UndecodableEventError`` names its position
        (naming the projection too) until the log is repaired."""
        undecodable: UndecodableEventError | None = None
        try:
            self._decode_all(projection, notifications, decoded)
        except UndecodableEventError as error:
            undecodable = error
            error.details["projection"] = projection.name
            notifications = [n for n in notifications if n.id < (error.position or 0)]
        if notifications and not self._claim_and_apply(projection, start, notifications,
                                                       decoded):
            return False
        if undecodable is not None:
            log.error("projection_stopped", projection=projection.name,
                      position=undecodable.position, code=undecodable.code)
            raise undecodable
        return True

    def _decode_all(self, projection: Projection, notifications: Sequence[Notification],
                    decoded: dict[int, Any]) -> None:
        for notification in notifications:
            if notification.topic in projection.topics:
                self._decoded(notification, decoded)

    def _claim_and_apply(self, projection: Projection, start: int,
                         notifications: Sequence[Notification], decoded: dict[int, Any]
                         ) -> bool:
        try:
            with self.views.transaction() as cursor:
                # Claim the batch before applying it: the row lock makes a racing runner
                # wait here and then find the checkpoint moved, instead of applying rows
                # twice and failing on a unique key.
                moved = cursor.execute(
                    "UPDATE projection_checkpoints SET position = :new "
                    "WHERE name = :name AND position = :old",
                    {"new": notifications[-1].id, "name": projection.name, "old": start},
                )
                if moved != 1:
                    raise CheckpointMovedError(projection.name)
                events = [(self._decoded(notification, decoded), notification.id)
                          for notification in notifications
                          if notification.topic in projection.topics]
                if events:
                    projection.apply_batch(cursor, events)
        except CheckpointMovedError:
            return False
        return True

    def _decoded(self, notification: Notification, decoded: dict[int, Any]) -> Any:
        event = decoded.get(notification.id)
        if event is None:
            event = decoded[notification.id] = self.store.mapper.to_domain_event(notification)
        return event

    def rebuild(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Empty the named projections (all by default) and apply the whole log again.

        In one transaction: readers see the old rows until the new ones are complete, and a
        rebuild that fails (an event that does not decode) rolls back, leaving every read
        model as it was. Claiming the checkpoints first makes a running service's runner
        wait for the rebuild, then carry on from where it ended."""
        chosen = [self.projections[name] for name in (names or list(self.projections))]
        log.info("projections_rebuild_started", projections=[p.name for p in chosen])
        read = position = 0
        with self.views.transaction() as cursor:
            for projection in chosen:
                cursor.execute("UPDATE projection_checkpoints SET position = 0 WHERE name = :name",
                               {"name": projection.name})
                projection.clear(cursor)
            while notifications := self.store.read_log(position, self.batch_size):
                decoded: dict[int, Any] = {}
                for projection in chosen:
                    events = [(self._decoded(notification, decoded), notification.id)
                              for notification in notifications
                              if notification.topic in projection.topics]
                    if events:
                        projection.apply_batch(cursor, events)
                position = notifications[-1].id
                read += len(notifications)
                if progress is not None:
                    progress("rebuild", position, self.store.head_position())
            for projection in chosen:
                cursor.execute("UPDATE projection_checkpoints SET position = :position "
                               "WHERE name = :name", {"position": position,
                                                      "name": projection.name})
        return read + self.catch_up(progress)
