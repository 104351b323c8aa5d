"""The erasure follower: the one place where a customer's erasure takes effect on the keys.

It follows the log for ``Customer.Erased`` and destroys each erased customer's data key.
Its checkpoint is kept in the key store's own database, beside the keys it governs: a key
store restored from an older backup comes back with an older checkpoint, so the follower
re-applies, from there, every erasure the log recorded since (BK-3). Like the sealer it
moves its checkpoint only from the position the batch was read at; destroying a key is
idempotent, so a crash between the destroys and the checkpoint (or another process
following the same log) costs a repeated no-op, never a missed erasure.

Both execute-deletion (as soon as its events are durable, so a read after it returns
finds the key gone) and this follower destroy the key through one function, the
personal-data port's ``destroy_key``; the follower then finds nothing left to do for that
customer, unless the key store missed the erasure.
The search rows are the search projection's own business: it deletes them as it applies
``Erased`` (a pure read-model update). Only when the event store is older than the key
store (restored from before an erasure) does the log lack the erasure; then ``forget``,
the search projection's clean-up, is called at start for the customers the key store's
erasure register names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from ledger.domain.customer import Customer
from ledger.follower import BackgroundFollower
from ledger.keystore import KeyStore
from ledger.store import NOTIFICATION_BATCH, LedgerStore

log = structlog.get_logger("ledger.erasures")

ERASED_TOPIC = f"{Customer.Erased.__module__}:{Customer.Erased.__qualname__}"
FOLLOWER = "erasures"
Forget = Callable[[Iterable[str]], int]
DestroyKey = Callable[[str], str | None]


class ErasureFollower(BackgroundFollower):
    """Destroys the data key of every customer the log says is erased."""

    thread_name = "ledger-erasures"
    failure_event = "erasure_batch_failed"

    def __init__(self, store: LedgerStore, keys: KeyStore, destroy_key: DestroyKey, *,
                 batch_size: int = NOTIFICATION_BATCH) -> None:
        self.store = store
        self.keys = keys
        self.destroy_key = destroy_key
        self.batch_size = batch_size
        super().__init__()

    def create_tables(self) -> None:
        with self.keys.db.setup() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS follower_checkpoints ("
                           " name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
            # Read first: an INSERT that conflicts still takes SQLite's write lock.
            if cursor.one("SELECT 1 FROM follower_checkpoints WHERE name = :name",
                          {"name": FOLLOWER}) is None:
                cursor.execute("INSERT INTO follower_checkpoints (name, position)"
                               " VALUES (:name, 0) ON CONFLICT (name) DO NOTHING",
                               {"name": FOLLOWER})

    def position(self) -> int:
        """The log position up to which every erasure has been applied to the key store."""
        row = self.keys.db.read_row("SELECT position FROM follower_checkpoints"
                                    " WHERE name = :name", {"name": FOLLOWER})
        return int(row[0]) if row else 0

    # The consequence -----------------------------------------------------------

    def erase(self, customer_id: str) -> str | None:
        """Destroy the customer's data key (again, harmlessly, if it is gone already);
        return the id of the key destroyed now, or None."""
        return self.destroy_key(customer_id)

    # Following -----------------------------------------------------------------

    def run_once(self) -> int:
        """Apply the erasures of one stretch of the log; return how many positions the
        checkpoint moved (0 when the key store is current)."""
        start = self.position()
        # The stretch ends at the head read now, so an idle log costs no scan and the
        # checkpoint keeps up with the head, not only with the last erasure.
        head = self.store.head_position()
        if head <= start:
            return 0
        page = self.store.app_recorder.select_notifications(
            start=start, limit=self.batch_size, stop=head, topics=[ERASED_TOPIC],
            inclusive_of_start=False)
        end = page[-1].id if len(page) == self.batch_size else head
        revived = [str(n.originator_id) for n in page
                   if self.erase(str(n.originator_id)) is not None]
        if revived:
            # Execute-deletion destroys the key itself: a key found here is one the key
            # store had missed (a crash right after the commit, a restored backup), or,
            # rarely, one this thread reached a moment before the command's own destroy.
            log.warning("erasures_reapplied", count=len(revived))
        with self.keys.db.transaction() as cursor:
            cursor.execute("UPDATE follower_checkpoints SET position = :end"
                           " WHERE name = :name AND position = :start",
                           {"end": end, "name": FOLLOWER, "start": start})
        # Moved by another follower meanwhile: nothing is lost, the next run reads on.
        return end - start

    def catch_up(self) -> int:
        """Apply every erasure stored so far; return how many positions were covered."""
        total = 0
        while done := self.run_once():
            total += done
        return total

    def forget_register(self, forget: Forget) -> int:
        """Have ``forget`` drop what the read models derived for every customer the key
        store's erasure register names: an event store older than the key store does not
        know of those erasures."""
        return forget(self.keys.erased_customers())
