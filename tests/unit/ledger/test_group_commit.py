"""Group commit: writers in flight together share one write, and each gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from ledger.group_commit import GroupCommit, GroupCommitInterruptedError


class Journal:
    """A stand-in for a database: each write_batch call is one transaction."""

    def __init__(self, *, refuse: set[str] = frozenset(), hold_first: bool = False) -> None:
        self.transactions: list[list[str]] = []
        self.refuse = refuse
        self.first_started = threading.Event()
        self.release_first = threading.Event()
        if not hold_first:
            self.release_first.set()

    def write_batch(self, items: Sequence[str]) -> list[str]:
        if not self.transactions:
            self.first_started.set()
            self.release_first.wait(5)
        if self.refuse & set(items):
            raise ValueError("unique key")  # the whole transaction rolls back
        self.transactions.append(list(items))
        return [f"stored {item}" for item in items]

    def write_one(self, item: str) -> str:
        return self.write_batch([item])[0]


def write_from_threads(group: GroupCommit[str, str], items: list[str]
                       ) -> dict[str, str | BaseException]:
    answers: dict[str, str | BaseException] = {}

    def write(item: str) -> None:
        try:
            answers[item] = group.write(item)
        except Exception as error:
            answers[item] = error

    threads = [threading.Thread(target=write, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def queue_behind_first(group: GroupCommit[str, str], journal: Journal, items: list[str]
                       ) -> dict[str, str | BaseException]:
    """Hold the first writer inside its transaction until every other writer is queued."""
    answers: dict[str, str | BaseException] = {}
    first = threading.Thread(target=lambda: answers.__setitem__("first", group.write("first")))
    first.start()
    assert journal.first_started.wait(5)
    others = threading.Thread(target=lambda: answers.update(write_from_threads(group, items)))
    others.start()
    while len(group._queue) < len(items):
        threading.Event().wait(0.001)
    journal.release_first.set()
    first.join(10)
    others.join(10)
    return answers


def test_a_lone_writer_is_written_at_once_in_its_own_transaction() -> None:
    journal = Journal()
    group = GroupCommit(journal.write_batch, journal.write_one)
    assert group.write("a") == "stored a"
    assert journal.transactions == [["a"]]


def test_writers_that_arrive_during_a_write_share_the_next_transaction() -> None:
    journal = Journal(hold_first=True)
    group = GroupCommit(journal.write_batch, journal.write_one)
    items = [f"item-{i}" for i in range(15)]

    answers = queue_behind_first(group, journal, items)

    assert answers == {item: f"stored {item}" for item in ["first", *items]}
    assert journal.transactions[0] == ["first"]
    assert sorted(journal.transactions[1]) == sorted(items)
    assert len(journal.transactions) == 2
    stats = group.stats()
    assert (stats.batches, stats.items, stats.largest) == (2, 16, 15)


def test_one_bad_item_fails_alone_and_the_others_are_written_each_on_its_own() -> None:
    journal = Journal(refuse={"bad"}, hold_first=True)
    group = GroupCommit(journal.write_batch, journal.write_one)

    answers = queue_behind_first(group, journal, ["good-1", "bad", "good-2"])

    assert isinstance(answers["bad"], ValueError)
    assert answers["good-1"] == "stored good-1"
    assert answers["good-2"] == "stored good-2"
    written = [item for transaction in journal.transactions for item in transaction]
    assert sorted(written) == ["first", "good-1", "good-2"]
    assert group.stats().retried_alone == 3


def test_no_batch_is_larger_than_the_cap() -> None:
    journal = Journal(hold_first=True)
    group = GroupCommit(journal.write_batch, journal.write_one, max_batch=4)
    items = [f"item-{i}" for i in range(10)]

    answers = queue_behind_first(group, journal, items)

    assert all(answers[item] == f"stored {item}" for item in items)
    assert max(len(transaction) for transaction in journal.transactions) == 4
    assert sorted(i for t in journal.transactions[1:] for i in t) == sorted(items)


def test_a_lone_writer_whose_write_fails_gets_the_error_unchanged() -> None:
    journal = Journal(refuse={"bad"})
    group = GroupCommit(journal.write_batch, journal.write_one)
    with pytest.raises(ValueError, match="unique key"):
        group.write("bad")
    assert group.write("next") == "stored next"


def test_a_write_interrupted_midway_leaves_no_writer_waiting_and_none_written_twice() -> None:
    calls: list[list[str]] = []

    def interrupted(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        raise KeyboardInterrupt

    group: GroupCommit[str, str] = GroupCommit(interrupted, lambda item: item)
    with pytest.raises(KeyboardInterrupt):
        group.write("a")
    # The group is usable again and the interrupted item was not retried behind its back.
    assert calls == [["a"]]
    with pytest.raises(KeyboardInterrupt):
        group.write("b")


def test_an_unsettled_member_of_an_interrupted_batch_learns_its_outcome_is_unknown() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_then_interrupted(items: Sequence[str]) -> list[str]:
        if items == ["first"]:
            started.set()
            release.wait(5)
            return ["stored first"]
        raise KeyboardInterrupt

    group: GroupCommit[str, str] = GroupCommit(slow_then_interrupted, lambda item: item)
    answers: dict[str, object] = {}

    def write(item: str) -> None:
        try:
            answers[item] = group.write(item)
        except BaseException as error:
            answers[item] = error

    threads = [threading.Thread(target=write, args=("first",))]
    threads[0].start()
    assert started.wait(5)
    threads += [threading.Thread(target=write, args=(item,)) for item in ("x", "y")]
    for thread in threads[1:]:
        thread.start()
    while len(group._queue) < 2:
        threading.Event().wait(0.001)
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers["first"] == "stored first"
    outcomes = [answers["x"], answers["y"]]
    # The leader of the second batch sees its own interruption; the other member is told
    # the outcome is unknown rather than waiting for ever.
    assert sum(isinstance(o, KeyboardInterrupt) for o in outcomes) == 1
    assert sum(isinstance(o, GroupCommitInterruptedError) for o in outcomes) == 1


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(lambda items: list(items), lambda item: item, max_batch=0)
