"""Group commit: writers in flight at the same moment share one transaction.

A writer hands its item in and blocks. If no batch is being written, it becomes the leader:
it takes every item waiting (its own included) and writes them with one ``write_batch``
call, one transaction and one fsync for all. Writers arriving meanwhile queue up; when the
leader is done, one of them leads the next batch. Nothing waits on a timer, so a lone
writer pays no extra latency, and under load the batch grows with the queue.

Each writer still succeeds or fails on its own: if the shared transaction fails (say one
item breaks a unique key), it was rolled back as a whole, and every item of the batch is
written again in its own transaction with ``write_one``, so only the offending item fails.
No writer returns before the transaction holding its item has committed. A batch that
failed for a reason no item caused (the database went away, a lock was held past the busy
timeout) fails every item at once: written again one by one, each would wait as long again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ledger.transient import is_transient

Item = TypeVar("Item")
Answer = TypeVar("Answer")

DEFAULT_MAX_BATCH = 256


@dataclass(eq=False)
class _Waiting(Generic[Item, Answer]):
    item: Item
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = field(default=None, repr=False)
    wake: threading.Event = field(default_factory=threading.Event, repr=False)

    def settle(self, answer: Answer | None = None, error: BaseException | None = None) -> None:
        self.answer, self.error, self.done = answer, error, True

    def outcome(self) -> Answer:
        if self.error is not None:
            raise self.error
        return self.answer  # type: ignore[return-value]  # settled with an answer


class GroupCommitInterruptedError(RuntimeError):
    """The batch holding this item was not written to the end; it may or may not be stored."""

    def __init__(self) -> None:
        super().__init__("the shared write was interrupted; the outcome is unknown")


@dataclass(frozen=True)
class GroupCommitStats:
    """How well writes were grouped: transactions written and items they held."""

    batches: int
    items: int
    largest: int
    retried_alone: int


class GroupCommit(Generic[Item, Answer]):
    """Leader/follower group commit over ``write_batch`` (all items, one transaction, one
    answer per item, in order) with ``write_one`` to settle each item of a failed batch."""

    def __init__(self, write_batch: Callable[[Sequence[Item]], Sequence[Answer]],
                 write_one: Callable[[Item], Answer], *,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write_batch = write_batch
        self._write_one = write_one
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiting[Item, Answer]] = []
        self._leading = False
        self._batches = self._items = self._largest = self._retried = 0

    def write(self, item: Item) -> Answer:
        """Write ``item`` (with whatever else is waiting); return its answer once durable."""
        mine: _Waiting[Item, Answer] = _Waiting(item)
        with self._lock:
            self._queue.append(mine)
            leads = not self._leading
            self._leading = True
        if not leads:
            # Woken exactly once: settled by a leader, or handed the lead (never both, as
            # an item leaves the queue when a batch takes it). One wake-up per writer, not
            # a broadcast per batch: sixteen threads woken to find nothing to do cost the
            # GIL more than the write itself.
            mine.wake.wait()
            if mine.done:
                return mine.outcome()
        with self._lock:
            batch = self._take(mine)
        try:
            self._settle(batch)
        finally:
            # Whatever happened, no member of the batch may wait for ever, nor lead
            # again and write its item a second time.
            for waiting in batch:
                if not waiting.done:
                    waiting.settle(error=GroupCommitInterruptedError())
                if waiting is not mine:
                    waiting.wake.set()
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # the lead passes to the longest waiting
                else:
                    self._leading = False
        return mine.outcome()

    def stats(self) -> GroupCommitStats:
        with self._lock:
            return GroupCommitStats(self._batches, self._items, self._largest, self._retried)

    def _take(self, mine: _Waiting[Item, Answer]) -> list[_Waiting[Item, Answer]]:
        # The leader's own item always goes in; the rest in arrival order, up to the cap.
        others = [waiting for waiting in self._queue if waiting is not mine]
        batch = [mine, *others[: self._max_batch - 1]]
        self._queue = others[self._max_batch - 1:]
        self._batches += 1
        self._items += len(batch)
        self._largest = max(self._largest, len(batch))
        return batch

    def _settle(self, batch: list[_Waiting[Item, Answer]]) -> None:
        try:
            answers = self._write_batch([waiting.item for waiting in batch])
        except Exception as error:
            if len(batch) == 1 or is_transient(error):
                for waiting in batch:
                    waiting.settle(error=error)
                return
            # The shared transaction rolled back: each item gets its own, so only the
            # item that caused the failure fails.
            self._retried += len(batch)
            for waiting in batch:
                try:
                    waiting.settle(self._write_one(waiting.item))
                except Exception as own_error:
                    waiting.settle(error=own_error)
            return
        if len(answers) != len(batch):  # pragma: no cover - a broken write_batch
            raise GroupCommitInterruptedError()
        for waiting, answer in zip(batch, answers, strict=True):
            waiting.settle(answer)
