"""Claim rounds: which of the jobs a worker may drive it takes, keeps and hands back, from
the lock table alone (``ledger.job_locks`` holds the locks and reads the table)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import psycopg
import structlog

from ledger.follower import BackgroundFollower
from ledger.job_locks import JobLocks

log = structlog.get_logger("ledger.jobs")

# Seconds between claim rounds: how soon a free job (its holder died) is taken over.
CLAIM_INTERVAL = 0.5


Drive = Callable[[frozenset[str]], None]
"""Told the jobs this process now holds: starts the newly held, stops the released."""


class JobCoordinator(BackgroundFollower):
    """Claim rounds: every ``CLAIM_INTERVAL``, take free jobs up to this worker's fair
    share (all jobs over the live workers, rounded up) and hand back, at once, what is
    above it to workers that may drive it and have room, so jobs spread as workers join.

    Which workers may drive a job is in the lock table too: each worker holds a shared
    *eligibility* lock ``(ELIGIBLE_CLASS, job_key(job))`` for every job it may drive. So a
    free job that no worker with room may drive (the others were started with fewer jobs)
    is taken, above the share, by the least loaded worker that may drive it, and kept while
    no such worker appears: every job is driven while any worker allowed to drive it
    lives, and nothing is handed back that nobody would take. The rules read only the lock
    table, never time, so a slow worker cannot leave the jobs unbalanced for good.

    Stopping a job always comes before releasing its lock, and losing the connection stops
    every job at once."""

    thread_name = "ledger-jobs"
    failure_event = "job_claim_failed"

    def __init__(self, locks: JobLocks, jobs: Sequence[str], every_job: Sequence[str],
                 drive: Drive) -> None:
        super().__init__()
        self.locks = locks
        self.jobs = list(jobs)
        self.every_job = list(dict.fromkeys([*every_job, *self.jobs]))
        self.drive = drive
        self.held: set[str] = set()
        self._order: list[str] = []

    def run_once(self) -> int:
        """One claim round; 0, so the loop waits the claim interval."""
        try:
            self._round()
        except psycopg.Error:
            # The session (and every lock with it) may be gone: stop driving at once; the
            # next round connects again and claims anew.
            self._lose_all()
            raise
        return 0

    def _round(self) -> None:
        if not self.locks.is_open:
            self.locks.open(self.jobs)
        me = self.locks.backend_pid
        holders = self.locks.holders(self.every_job)
        lost = {job for job in self.held if holders.get(job) is None
                or holders[job].backend_pid != me}
        if lost:
            log.warning("jobs_lost", jobs=sorted(lost))
            self._set_held(self.held - lost)
        candidates = self.locks.candidates(self.every_job)
        share = math.ceil(len(self.every_job) / max(1, self.locks.live_workers()))
        load = Counter(holder.backend_pid for holder in holders.values())
        load[me] = len(self.held)
        for job in self.jobs:
            if job in holders:
                continue
            others = candidates.get(job, set()) - {me}
            if load[me] >= share and (
                    any(load[other] < share for other in others)
                    or any((load[other], other) < (load[me], me) for other in others)):
                continue  # a worker with room, or less loaded, takes it
            if self.locks.try_take(job):
                load[me] += 1
                log.info("job_taken", job=job, process=self.locks.process)
                self._set_held(self.held | {job})
        handing_back = []
        for job in reversed(self._order):
            if load[me] <= share:
                break
            takers = [other for other in candidates.get(job, set()) - {me}
                      if load[other] < share]
            if takers:
                handing_back.append(job)
                load[me] -= 1
                load[min(takers, key=lambda other: (load[other], other))] += 1
        if handing_back:
            # The last taken first; the workers with room take them in their next round.
            self._set_held(self.held - set(handing_back))
            for job in handing_back:
                self.locks.release(job)
            log.info("jobs_handed_back", jobs=handing_back, process=self.locks.process,
                     share=share)

    def _set_held(self, held: set[str]) -> None:
        self.drive(frozenset(held))
        self._order = [job for job in self._order if job in held] + sorted(
            held - set(self._order))
        self.held = set(held)

    def _lose_all(self) -> None:
        if self.held:
            log.warning("jobs_lost", jobs=sorted(self.held))
            self._set_held(set())
        self.locks.discard()

    def stop(self) -> None:
        """Stop claiming, stop every job, then release the locks."""
        super().stop()
        self._set_held(set())
        self.locks.close()
