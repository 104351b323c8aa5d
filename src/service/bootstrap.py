"""The one place that assembles the ledger: store, read models, runner, queries and bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

import structlog
from pydantic import BaseModel

from commands.actor import Actor, Authoriser
from commands.bus import MessageBus, QueryHandler, ReadAuditor, utc_now
from commands.command import Command, Handler
from commands.exports import ExportFiles, Exports
from commands.ports import Clock, PersonalData
from commands.read_audit import ReadAudit, reading_in_full
from commands.registry import ALL_HANDLERS
from ledger.connect import postgres_conninfo
from ledger.crypto import BlindIndex, key_id_of
from ledger.domain.sensitivity import Clearance
from ledger.erasures import ErasureFollower
from ledger.export_marks import TraceKey
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.sealer import CheckpointPolicy, Sealer
from ledger.integrity.storage import EventLog
from ledger.keystore import KeyStore
from ledger.logging import configure_logging
from ledger.policy import Policy
from ledger.protection import ProfileProtector
from ledger.settings import Settings, sqlite_path_of
from ledger.sql import SqlDatabase
from ledger.sql_postgres import PostgresDatabase
from ledger.sql_sqlite import SQLiteDatabase
from ledger.store import LedgerStore, open_store
from ledger.transient import DEFAULT_RETRY_SECONDS
from projections.accounts import AccountsView
from projections.audit import AuditQueries
from projections.audit_trail import AuditTrail
from projections.customer_search import CustomerSearch, forget_customers
from projections.customer_view import CustomerView
from projections.deletions import Deletions
from projections.export_identify import ExportIdentification
from projections.export_log import ExportLog
from projections.export_rows import ExportRows
from projections.history import CustomerHistory, customer_history
from projections.key_changes import KeyChanges
from projections.masking import masked
from projections.pending_proposals import PendingProposals
from projections.privacy import PrivacyQueries
from projections.queries import Queries
from projections.reports import Reports, report_table
from projections.runner import ProjectionRunner
from service.access import AccessControl, build_access_control
from service.key_material import check_keystore_location, load_index_key, load_kek
from service.one_time_password import OneTimePasswordFile
from service.policy import load_service_policy
from service.preflight import check_before_start


@dataclass
class Ledger:
    """A running ledger: what a client, the HTTP app or the CLI talks to."""

    settings: Settings
    policy: Policy
    store: LedgerStore
    views: SqlDatabase
    runner: ProjectionRunner
    bus: MessageBus
    keys: KeyStore
    protector: ProfileProtector
    access: AccessControl
    sealer: Sealer
    erasures: ErasureFollower
    one_time_password: OneTimePasswordFile
    exports: ExportFiles

    def answer(self, query: Any) -> Any:
        """Answer ``query`` in this process as the bus would, without an actor: masked for
        the clearance set around the call, and without one for the narrowest (every
        sensitive field masked). Read inside ``reading_in_full`` to see every field."""
        return self.bus.query_handlers[type(query)](query)

    def reading_in_full(self, purpose: str, by: str = "ledger") -> AbstractContextManager[
            Clearance]:
        """Read with every field unmasked within the block, for ``purpose``; audited."""
        return reading_in_full(self.access.access_log, by=by, purpose=purpose)

    def close(self) -> None:
        self.runner.stop()
        self.sealer.stop()
        self.erasures.stop()
        try:
            self.keys.release_reserved()
        except Exception as error:
            structlog.get_logger("ledger").warning("spare_keys_not_released",
                                                   error=type(error).__name__)
        self.views.close()
        if self.keys.db is not self.views:
            self.keys.db.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_database(url: str, settings: Settings, name: str = "ledger-sql") -> SqlDatabase:
    if url.startswith("sqlite"):
        return SQLiteDatabase(sqlite_path_of(url), busy_timeout=settings.sqlite_busy_timeout)
    conninfo = postgres_conninfo(url, connect_timeout=str(settings.connect_timeout))
    return PostgresDatabase(conninfo, pool_size=max(2, settings.postgres_pool_size // 2),
                            name=name)


def drop_broken_connections(store: LedgerStore, *databases: SqlDatabase) -> None:
    """After a lost connection, every pool replaces the connections the server cut."""
    store.drop_broken_connections()
    for database in dict.fromkeys(databases):
        database.drop_broken_connections()


def open_views(settings: Settings) -> SqlDatabase:
    return open_database(settings.database_url, settings, "ledger-views")


def open_key_store(settings: Settings, views: SqlDatabase, index_key: bytes) -> KeyStore:
    """The key store, checked against the KEK before anything is written (fails fast)."""
    check_keystore_location(settings)
    kek = load_kek(settings)
    url = settings.effective_keystore_url
    db = views if url == settings.database_url else open_database(url, settings, "ledger-keys")
    keys = KeyStore(db, kek)
    try:
        keys.create_tables(index_key_id=key_id_of(index_key, "index"))
    except Exception:
        if db is not views:
            db.close()
        raise
    return keys


def build_bus(store: LedgerStore, policy: Policy, personal_data: PersonalData,
              authoriser: Authoriser, *, clock: Clock = utc_now,
              query_handlers: Mapping[type[BaseModel], QueryHandler] | None = None,
              on_saved: Callable[[int], None] | None = None,
              read_audit: ReadAuditor | None = None,
              more_handlers: Mapping[type[Command], Handler] | None = None,
              retry_seconds: float = DEFAULT_RETRY_SECONDS,
              on_fault: Callable[[], None] | None = None) -> MessageBus:
    """The bus with every command's handler, on any event store and personal-data port:
    ``bootstrap()`` gives it the configured database and the key store, handler tests the
    library's in-memory store and in-memory keys. ``more_handlers`` are the ones built
    with a store of their own (the second factor's, over the credential store)."""
    return MessageBus(store, policy, {**ALL_HANDLERS, **(more_handlers or {})},
                      query_handlers, authoriser=authoriser,
                      clock=clock, on_saved=on_saved, personal_data=personal_data,
                      read_audit=read_audit, retry_seconds=retry_seconds, on_fault=on_fault)


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
    policy = load_service_policy(settings.policy_file)
    # Before anything is written (a key file, a directory, a table): production's settings
    # all present, every database answering.
    check_before_start(settings)
    signing_keys = SigningKeySource.from_settings(settings)
    index_key = load_index_key(settings)
    views = open_views(settings)
    try:
        keys = open_key_store(settings, views, index_key)
    except Exception:
        views.close()
        raise
    protector = ProfileProtector(keys, BlindIndex(index_key), policy.personal_fields)
    store = open_store(settings)
    runner = ProjectionRunner(store, views, [
        CustomerView(), PendingProposals(), KeyChanges(), CustomerSearch(protector),
        Deletions(), AccountsView(), AuditTrail(), ExportLog(),
    ])
    runner.create_tables()
    # The integrity sealer follows the log like the runner (README, "Tamper evidence").
    sealer = Sealer(views, EventLog.of(views.dialect),
                    CheckpointPolicy(policy.checkpoint_every_events,
                                     policy.checkpoint_every_seconds),
                    signing_keys, clock)
    sealer.create_tables()
    access = build_access_control(store, views, keys, runner, policy, clock,
                                  settings.read_wait_timeout, runner.wake)
    # Before any read, the key store catches up with the erasures the log records, and the
    # search rows go for those the key store records but the log (older) does not.
    erasures = ErasureFollower(store, keys, protector.destroy_key)
    erasures.create_tables()
    erasures.catch_up()
    erasures.forget_register(lambda customer_ids: forget_customers(views, customer_ids))
    queries = Queries(runner, settings.read_wait_timeout,
                      today=lambda: policy.business_date(clock()), protector=protector)
    query_handlers = queries.handlers() | PrivacyQueries(queries).handlers() | {
        CustomerHistory: lambda query: customer_history(store, query, protector),
    } | access.queries.handlers() | AuditQueries(
        queries, store, policy).handlers()
    # The trace marks of exports are keyed by the blind-index key: no further secret to keep.
    trace = TraceKey.derived(protector.keyed_hash)
    query_handlers |= ExportIdentification(queries, trace).handlers()
    query_handlers |= Reports(queries, policy).handlers()
    # Answers are masked for the reader's clearance, which the bus sets (ST-4, P5); without
    # one, for the narrowest.
    narrowest = Clearance.narrowest(policy.access.sensitive_paths())
    query_handlers = {kind: masked(handler, narrowest) for kind, handler in query_handlers.items()}

    # The first administrator's one-time password file goes once it opens nothing.
    one_time_password = OneTimePasswordFile(settings.data_dir)
    one_time_password.discard_if_used(access.identity.accounts.current)

    def wake_followers(position: int) -> None:
        runner.wake(position)
        sealer.wake(position)
        erasures.wake(position)
        try:
            one_time_password.discard_if_used(access.identity.accounts.current)
        except Exception as error:  # the command is saved: its outcome must still be told
            structlog.get_logger("ledger").warning("one_time_password_file_not_checked",
                                                   error=type(error).__name__)

    authoriser = authoriser or access.authoriser
    permits = getattr(authoriser, "permits", None)
    exports = Exports(ExportRows(queries), trace, _clearances(authoriser, narrowest),
                      reports=partial(report_table, lambda query: query_handlers[type(query)](
                          query)),
                      permits=(lambda roles, operation: bool(permits(roles, operation)))
                      if permits else None)
    bus = build_bus(store, policy, protector, authoriser, clock=clock,
                    query_handlers=query_handlers, on_saved=wake_followers,
                    more_handlers=access.totp.handlers() | exports.handlers(),
                    read_audit=ReadAudit(access.access_log, policy.access.sensitive_paths()),
                    retry_seconds=settings.database_retry_seconds,
                    on_fault=lambda: drop_broken_connections(store, views, keys.db))
    if settings.run_projections if start_projections is None else start_projections:
        runner.start(settings.projection_poll_interval)
        sealer.start(settings.projection_poll_interval)
        erasures.start(settings.projection_poll_interval)
    return Ledger(settings, policy, store, views, runner, bus, keys, protector, access,
                  sealer, erasures, one_time_password, exports.files)


def _clearances(authoriser: Authoriser, narrowest: Clearance
                ) -> Callable[[str, frozenset[str]], Clearance]:
    """What an exporter may see unmasked: the authoriser's answer for a query, so an export
    masks exactly as a read does; the narrowest where the authoriser grants none."""
    clearance_for = getattr(authoriser, "clearance_for", None)

    def clearance(actor: str, roles: frozenset[str]) -> Clearance:
        return clearance_for(Actor(actor, roles)) if clearance_for else narrowest

    return clearance
