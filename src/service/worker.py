"""``ledger worker``: the ledger's background work (each read model, the integrity sealer,
the erasure and training followers) in a process of its own, beside ``ledger serve
--no-background`` and any number of other workers on one PostgreSQL.

Each job is driven by one process at a time, the holder of its advisory lock
(``ledger.job_locks``); the jobs a worker wins, it drives here, and what it loses or hands
back it stops before the lock goes. Every batch still moves its checkpoint by
compare-and-set, so two drivers for a moment (a holder cut off that does not know it yet)
cost a retried batch, never a skipped or doubled event.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from ledger.connect import postgres_conninfo
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.follower import BackgroundFollower
from ledger.job_claims import CLAIM_INTERVAL, JobCoordinator
from ledger.job_locks import JobLocks
from projections.runner import ProjectionRunner
from service.bootstrap import Ledger
from service.processes import (
    FOLLOWER_JOBS,
    PROJECTION_JOB,
    SEALER_JOB,
    background_jobs,
    projection_job,
    this_process,
)


def chosen_jobs(ledger: Ledger, projections: Sequence[str] | None, sealer: bool,
                followers: bool) -> list[str]:
    """The jobs a worker may drive: those named, or, with none named, all of them."""
    known = sorted(ledger.runner.projections)
    unknown = [name for name in projections or [] if name not in known]
    if unknown:
        raise ValidationFailedError(
            [Problem("projections", message("unknown projection: {name} (known: {known})",
                                            name=name, known=tuple(known)))
             for name in unknown])
    if not (projections or sealer or followers):
        return background_jobs(known)
    return ([projection_job(name) for name in sorted(set(projections or []))]
            + ([SEALER_JOB] if sealer else []) + (list(FOLLOWER_JOBS) if followers else []))


class Worker:
    """One worker process's share of the background work, claimed and driven."""

    def __init__(self, ledger: Ledger, jobs: Sequence[str], *, process: str | None = None,
                 claim_interval: float = CLAIM_INTERVAL) -> None:
        self.ledger = ledger
        self.process = process or this_process()
        self.claim_interval = claim_interval
        every_job = background_jobs(list(ledger.runner.projections))
        self.jobs = [job for job in every_job if job in set(jobs)]
        settings = ledger.settings
        self.locks = JobLocks(postgres_conninfo(settings.database_url), self.process,
                              connect_timeout=settings.connect_timeout)
        self.coordinator = JobCoordinator(self.locks, self.jobs, every_job, self.drive)
        self.runner: ProjectionRunner | None = None
        self.driving: frozenset[str] = frozenset()
        # Anything here that waits for a position (a follower's command) waits for the
        # holders of the read models; it never applies batches outside the locks.
        ledger.runner.drives_waits = False
        self._lock = threading.Lock()

    def followers(self) -> Mapping[str, BackgroundFollower]:
        return {SEALER_JOB: self.ledger.sealer, "erasures": self.ledger.erasures,
                "training": self.ledger.training}

    def drive(self, held: frozenset[str]) -> None:
        """Drive exactly the jobs ``held``: start the new ones, stop the others."""
        with self._lock:
            poll = self.ledger.settings.projection_poll_interval
            wanted = sorted(job.removeprefix(PROJECTION_JOB) for job in held
                            if job.startswith(PROJECTION_JOB))
            if wanted != sorted(self.runner.projections if self.runner else []):
                if self.runner is not None:
                    self.runner.stop()
                    self.runner = None
                if wanted:
                    # A runner of its own over the projections held: it reads the log once
                    # per batch for all of them, as the service's does.
                    runner = ProjectionRunner(self.ledger.store, self.ledger.views,
                                              [self.ledger.runner.projections[name]
                                               for name in wanted])
                    runner.on_projection_error = (
                        self.ledger.metrics.operations.projection_failed)
                    runner.start(poll)
                    self.runner = runner
            for job, follower in self.followers().items():
                if job in held and not follower.running:
                    follower.start(poll)
                elif job not in held and follower.running:
                    follower.stop()
            self.driving = held

    def start(self) -> None:
        self.coordinator.start(self.claim_interval)

    def stop(self) -> None:
        """Stop every job, then release the locks and close the lock connection."""
        self.coordinator.stop()

