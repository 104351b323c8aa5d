"""The one place that assembles the ledger: store, read models, runner, queries and bus."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import structlog

from commands.bus import Authoriser, MessageBus, utc_now
from commands.handlers import HANDLERS
from commands.unit_of_work import Clock
from ledger.logging import configure_logging
from ledger.policy import Policy, load_policy
from ledger.settings import Settings, postgres_params_of, sqlite_path_of
from ledger.sql import PostgresDatabase, SqlDatabase, SQLiteDatabase
from ledger.store import LedgerStore, open_store
from projections.customer_view import CustomerView
from projections.history import CustomerHistory, customer_history
from projections.key_changes import KeyChanges
from projections.pending_proposals import PendingProposals
from projections.queries import Queries
from projections.runner import ProjectionRunner


@dataclass
class Ledger:
    """A running ledger: what a client, the HTTP app or the CLI talks to."""

    settings: Settings
    policy: Policy
    store: LedgerStore
    views: SqlDatabase
    runner: ProjectionRunner
    queries: Queries
    bus: MessageBus

    def close(self) -> None:
        self.runner.stop()
        self.views.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_views(settings: Settings) -> SqlDatabase:
    if settings.backend == "sqlite":
        return SQLiteDatabase(sqlite_path_of(settings.database_url))
    params = postgres_params_of(settings.database_url)
    conninfo = " ".join(f"{key}={value}" for key, value in params.items() if value)
    return PostgresDatabase(conninfo, pool_size=max(2, settings.postgres_pool_size // 2))


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    authoriser: Authoriser | None = None,
    start_projections: bool | None = None,
) -> Ledger:
    """Build a ledger from settings; nothing connects to a database before this is called."""
    settings = settings or Settings()
    if not structlog.is_configured():
        # Embedded use: log to stderr, never into the caller's stdout.
        configure_logging(settings)
    policy = load_policy(settings.policy_file)
    store = open_store(settings)
    views = open_views(settings)
    runner = ProjectionRunner(store, views, [CustomerView(), PendingProposals(), KeyChanges()])
    runner.create_tables()
    queries = Queries(runner, settings.read_wait_timeout,
                      today=lambda: clock().astimezone(policy.zone).date())
    query_handlers = queries.handlers() | {
        CustomerHistory: lambda query: customer_history(store, query),
    }
    bus = MessageBus(store, policy, HANDLERS, query_handlers, authoriser=authoriser,
                     clock=clock, on_saved=runner.wake)
    if settings.run_projections if start_projections is None else start_projections:
        runner.start(settings.projection_poll_interval)
    return Ledger(settings, policy, store, views, runner, queries, bus)
