"""Background jobs spread over workers by PostgreSQL advisory locks (``ledger.job_locks``,
``service.worker``): each job has one holder at a time, jobs spread as workers join, a dead
worker's jobs are taken over, and two drivers at once (a holder cut off without knowing)
still leave every read model equal to a rebuild, because the checkpoint compare-and-set,
not the lock, keeps each batch exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from commands.customers import RegisterCustomer
from ledger.connect import postgres_conninfo
from ledger.job_claims import JobCoordinator
from ledger.job_locks import LOCK_CLASS, SETUP_KEY, JobLocks, job_key
from projections.runner import NotReflectedYetError
from projections.verification import verify_read_models
from service.bootstrap import Ledger
from service.http import create_app
from service.processes import background_jobs, drivers
from service.worker import Worker
from tests.conftest import ALICE
from tests.factories import make_profile

pytestmark = pytest.mark.postgres

JOBS = ["projection:a", "projection:b", "sealer", "erasures"]


class Recorder:
    """A worker's drive callback that only records what it was told to drive."""

    def __init__(self) -> None:
        self.driving: frozenset[str] = frozenset()

    def __call__(self, held: frozenset[str]) -> None:
        self.driving = held


@pytest.fixture
def coordinators(postgres_url: str) -> Iterator[Callable[..., tuple[JobCoordinator, Recorder]]]:
    made: list[JobCoordinator] = []

    def make(process: str, jobs: list[str] | None = None) -> tuple[JobCoordinator, Recorder]:
        recorder = Recorder()
        coordinator = JobCoordinator(JobLocks(postgres_conninfo(postgres_url), process),
                                     jobs or JOBS, JOBS, recorder)
        made.append(coordinator)
        return coordinator, recorder

    yield make
    for coordinator in made:
        coordinator.stop()


def gone(postgres_url: str, backend_pid: int) -> None:
    """Wait until PostgreSQL has ended a session (its locks go with it)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for _ in range(500):
            if connection.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                  (backend_pid,)).fetchone() is None:
                return
            connection.execute("SELECT pg_sleep(0.01)")
    raise AssertionError("the session did not end")


def test_job_keys_are_stable_and_distinct() -> None:
    jobs = background_jobs(["accounts", "audit_trail", "customer_search", "customer_view",
                            "deletions", "export_log", "faults", "key_changes",
                            "pending_proposals"])
    assert len({job_key(job) for job in jobs}) == len(jobs)
    assert all(0 < job_key(job) < 2**31 for job in jobs)
    assert job_key("sealer") == job_key("sealer")


def test_jobs_spread_over_workers_and_a_dead_workers_jobs_are_taken_over(
        coordinators: Callable[..., tuple[JobCoordinator, Recorder]],
        postgres_url: str) -> None:
    first, first_drives = coordinators("worker-a")
    first.run_once()
    assert first_drives.driving == set(JOBS)  # alone, it takes every job

    second, second_drives = coordinators("worker-b")
    for _ in range(4):  # a few claim rounds each: the first hands back above its share
        second.run_once()
        first.run_once()
    assert len(first_drives.driving) == len(second_drives.driving) == 2
    assert first_drives.driving | second_drives.driving == set(JOBS)
    # A job one holds the other cannot take.
    taken = sorted(first_drives.driving)[0]
    assert not second.locks.try_take(taken)
    table = first.locks.holders(JOBS)
    assert {job: holder.process for job, holder in table.items()} == {
        **{job: "worker-a" for job in first_drives.driving},
        **{job: "worker-b" for job in second_drives.driving}}

    # The first dies without a word: its session ends, its locks go, the second takes all.
    dead = first.locks.backend_pid
    first.locks.discard()
    gone(postgres_url, dead)
    second.run_once()
    assert second_drives.driving == set(JOBS)


def test_jobs_go_only_to_a_worker_that_takes_them_however_slow_it_is(
        coordinators: Callable[..., tuple[JobCoordinator, Recorder]]) -> None:
    first, first_drives = coordinators("worker-a")
    first.run_once()
    second, second_drives = coordinators("worker-b")
    second.locks.open(JOBS)  # announced, but its first claim round is late

    for _ in range(3):
        first.run_once()
    # Handed back once, to the one with room, and not taken back meanwhile.
    assert len(first_drives.driving) == 2
    second.run_once()
    assert second_drives.driving == set(JOBS) - first_drives.driving


def test_a_job_only_one_worker_may_drive_is_driven_above_its_share_and_kept(
        coordinators: Callable[..., tuple[JobCoordinator, Recorder]]) -> None:
    broad, broad_drives = coordinators("worker-a")
    narrow, narrow_drives = coordinators("worker-b", ["sealer"])
    narrow.run_once()
    for _ in range(4):
        broad.run_once()
        narrow.run_once()

    assert narrow_drives.driving == {"sealer"}
    # Its share is 2 of 4, but nobody else may drive the other three: it keeps them.
    assert broad_drives.driving == set(JOBS) - {"sealer"}


def test_a_worker_that_lost_its_connection_stops_driving(
        coordinators: Callable[..., tuple[JobCoordinator, Recorder]],
        postgres_url: str) -> None:
    worker, drives = coordinators("worker-a")
    worker.run_once()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (worker.locks.backend_pid,))

    with pytest.raises(psycopg.Error):
        worker.run_once()

    assert drives.driving == frozenset()
    worker.run_once()  # the next round connects again and claims anew
    assert drives.driving == set(JOBS)


def register(ledger: Ledger, count: int, seed: int) -> None:
    for number in range(count):
        ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=seed + number)), ALICE)


def caught_up(*workers: Worker) -> None:
    """Wait until the read models reflect the head (the workers' threads apply it)."""
    ledger = workers[0].ledger
    deadline = time.monotonic() + 120  # bounded, generous on a loaded machine
    while time.monotonic() < deadline:
        if min(ledger.runner.positions().values()) >= ledger.store.head_position():
            return
        threading.Event().wait(0.02)
    raise AssertionError("the workers did not catch up")


def test_two_workers_share_the_read_models_and_two_drivers_at_once_stay_exact(
        postgres_url: str, make_ledger: Callable[..., Ledger]) -> None:
    one, other = make_ledger(postgres_url), make_ledger(postgres_url)
    jobs = background_jobs(list(one.runner.projections))
    first, second = Worker(one, jobs, process="worker-a"), Worker(other, jobs, process="worker-b")
    try:
        for _ in range(8):
            first.coordinator.run_once()
            second.coordinator.run_once()
        assert set(first.driving).isdisjoint(second.driving)
        assert set(first.driving) | set(second.driving) == set(jobs)
        lock_table = {**{job: "worker-a" for job in first.driving},
                      **{job: "worker-b" for job in second.driving}}
        assert drivers(one.views, jobs, in_process=False) == lock_table
        # /healthz and the metrics say the same, from any process.
        with TestClient(create_app(other)) as http:
            assert http.get("/healthz").json()["driven_by"] == lock_table
        driven = {(sample.labels.get("projection") or sample.labels["follower"],
                   sample.labels["process"])
                  for family in text_string_to_metric_families(one.metrics.render().decode())
                  for sample in family.samples
                  if sample.name in ("ledger_projection_driven_by", "ledger_follower_driven_by")
                  and sample.value == 1}
        assert driven == {(job.removeprefix("projection:"), process)
                          for job, process in lock_table.items()}
        register(one, 30, seed=1)
        caught_up(first, second)

        # The second is cut off from its locks but does not know it yet: its threads keep
        # applying batches while the first takes every job over and applies them too.
        cut_off = second.locks.backend_pid
        second.locks.discard()
        gone(postgres_url, cut_off)
        first.coordinator.run_once()
        assert first.driving == set(jobs)
        register(other, 30, seed=100)
        caught_up(first, second)
    finally:
        first.stop()
        second.stop()

    # No customer was erased, so rebuilding the customer view destroys no key.
    checks = verify_read_models(one.store, one.views, list(one.runner.projections.values()))
    assert [check.as_dict() for check in checks if not check.ok] == []


def test_a_service_without_background_work_waits_for_the_workers(
        postgres_url: str, make_ledger: Callable[..., Ledger]) -> None:
    service = make_ledger(postgres_url, run_background=False, start_projections=None)
    assert not any(follower.running for follower in (
        service.runner, service.sealer, service.erasures, service.training))
    assert service.alerts.running  # its alert rules still run where it serves
    register(service, 3, seed=7)
    head = service.store.head_position()

    with pytest.raises(NotReflectedYetError):
        service.runner.wait_for(head, timeout=0.3)
    assert service.runner.position() < head  # the wait applied nothing itself

    worker = Worker(make_ledger(postgres_url), background_jobs(list(service.runner.projections)),
                    process="worker-a")
    try:
        worker.coordinator.run_once()
        assert service.runner.wait_for(head, timeout=120) >= head
    finally:
        worker.stop()


def test_services_with_their_background_work_share_it_by_the_locks_with_a_worker(
        postgres_url: str, make_ledger: Callable[..., Ledger]) -> None:
    """Two service processes as `ledger serve` starts them (background on) beside a
    `ledger worker`: every job has exactly one driver, never one per process."""
    services = [make_ledger(postgres_url, start_projections=None) for _ in range(2)]
    jobs = background_jobs(list(services[0].runner.projections))
    worker = Worker(make_ledger(postgres_url), jobs, process="worker-a")
    try:
        assert all(isinstance(service.background, Worker) for service in services)
        every = [service.background for service in services if service.background] + [worker]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(len(w.driving) for w in every) < len(jobs):
            worker.coordinator.run_once()
            threading.Event().wait(0.05)
        driving = [set(w.driving) for w in every]
        assert sum(len(held) for held in driving) == len(jobs)  # none driven twice
        for service in services:  # and nothing runs outside the locks
            assert not service.runner.running
            assert {job for job, follower in service.background.followers().items()
                    if follower.running} <= service.background.driving
        assert set().union(*driving) == set(jobs)
        assert set(drivers(services[0].views, jobs, in_process=False)) == set(jobs)

        register(services[1], 5, seed=3)
        head = services[1].store.head_position()
        assert services[0].runner.wait_for(head, timeout=120) >= head
    finally:
        worker.stop()
    for service in services:
        service.close()
        assert service.background is not None and not service.background.driving


def test_ledgers_starting_together_create_their_tables_one_at_a_time(
        postgres_url: str, make_ledger: Callable[..., Ledger]) -> None:
    built: list[Ledger] = []
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, SETUP_KEY))
        starting = threading.Thread(target=lambda: built.append(make_ledger(postgres_url)))
        starting.start()
        deadline = time.monotonic() + 120
        while other.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = %s AND objid::bigint = %s",
                (LOCK_CLASS, SETUP_KEY)).fetchone() != (1,):  # it waits for the set-up lock
            assert time.monotonic() < deadline, "the ledger never asked for the set-up lock"
            threading.Event().wait(0.01)
        assert built == []
    starting.join(timeout=120)  # the other process is done: it builds
    assert len(built) == 1
