"""The one place that assembles the ledger: store, read models, runner, queries and bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog
from pydantic import BaseModel

from commands.actor import Actor, Authoriser
from commands.bus import MessageBus, QueryHandler, ReadAuditor, utc_now
from commands.command import Command, Handler
from commands.exports import ExportFiles, Exports
from commands.observer import OperationsObserver
from commands.ports import Clock, PersonalData
from commands.read_audit import ReadAudit, reading_in_full
from commands.registry import ALL_HANDLERS
from commands.training_follower import TrainingFollower
from ledger.connect import postgres_conninfo
from ledger.crypto import BlindIndex, KeyMaterialError, key_id_of
from ledger.domain.messages import message
from ledger.domain.sensitivity import Clearance
from ledger.erasures import ErasureFollower
from ledger.export_marks import TraceKey
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.readonly import configured_public_keys
from ledger.integrity.report import IntegrityViolationError
from ledger.integrity.sealer import CheckpointPolicy, Sealer
from ledger.integrity.storage import EventLog
from ledger.job_locks import one_setup_at_a_time
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
from projections.faults import FaultQueries, FaultRegister
from projections.history import CustomerHistory, customer_history
from projections.key_changes import KeyChanges
from projections.masking import masked
from projections.pending_proposals import PendingProposals
from projections.privacy import PrivacyQueries
from projections.projection import Projection
from projections.queries import Queries
from projections.reading import ReadModels
from projections.reports import Reports, report_table
from projections.runner import ProjectionRunner
from projections.training_queries import TrainingQueries
from service.access import AccessControl, build_access_control
from service.alerts import AlertState, WebhookSender
from service.backup import BackupPlace, LiveBackups, backup_metrics_provider
from service.key_material import check_keystore_location, load_index_key, load_kek
from service.metrics import (
    BackupStatusProvider,
    MetricsEndpoint,
    ProgressTracker,
    no_backups_reported,
)
from service.monitor import AlertFaults, AlertMonitor, LogFigures
from service.one_time_password import OneTimePasswordFile
from service.policy import load_service_policy
from service.preflight import check_before_start
from service.processes import background_jobs, drivers


class Stoppable(Protocol):
    def stop(self) -> None: ...


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
    figures: LogFigures
    metrics: MetricsEndpoint
    alerts: AlertMonitor
    training: TrainingFollower
    training_reports: TrainingQueries
    exports: ExportFiles
    backups: LiveBackups | None = None
    # The background work driven under the job locks (service.worker), when this process
    # takes its share of it that way.
    background: Stoppable | None = None

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
        if self.background is not None:
            self.background.stop()  # every job stopped, then the locks released
        self.alerts.stop()
        self.runner.stop()
        self.sealer.stop()
        self.erasures.stop()
        self.training.stop()
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
    if urlsplit(url).scheme == "sqlite" and url != settings.database_url and not (
            sqlite_path_of(url).exists()) and _holds_events(views):
        raise _key_store_missing()  # before SQLite would make an empty file of it
    db = views if url == settings.database_url else open_database(url, settings, "ledger-keys")
    keys = KeyStore(db, kek)
    try:
        if not _has_table(db, "keystore_meta") and _holds_events(views):
            raise _key_store_missing()
        keys.create_tables(index_key_id=key_id_of(index_key, "index"))
    except Exception:
        if db is not views:
            db.close()
        raise
    return keys


def _has_table(db: SqlDatabase, table: str, *, rows: bool = False) -> bool:
    """Whether ``db`` has ``table`` (holding at least one row, with ``rows``)."""
    with db.snapshot() as cursor:
        if db.dialect == "sqlite":
            found = cursor.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                               "name = :table", {"table": table})
        else:
            found = cursor.one("SELECT 1 WHERE to_regclass(:table) IS NOT NULL",
                               {"table": table})
        if found is None or not rows:
            return found is not None
        return cursor.one(f"SELECT 1 FROM {table} LIMIT 1") is not None  # noqa: S608


def _check_signing_key_kept(signing_keys: SigningKeySource, views: SqlDatabase) -> None:
    """A development signing key is made only for a ledger that has signed nothing yet: one
    made anew beside stored checkpoints would make every earlier checkpoint read as forged
    ("tampering detected") when the truth is a lost key file."""
    if (signing_keys.create_if_missing and not signing_keys.path.exists()
            and _has_table(views, "integrity_checkpoints", rows=True)):
        raise KeyMaterialError(message(
            "the signing key file {path} is missing, but this ledger's checkpoints were "
            "signed with it: restore the file (or set LEDGER_SIGNING_KEY_FILE to it); a new "
            "key would make every earlier checkpoint read as forged",
            path=str(signing_keys.path)))


def _check_event_log_kept(views: SqlDatabase) -> None:
    """An event log that is gone (its table dropped or emptied) while the hash chain still
    records sealed events is a log destroyed, not a new ledger: made anew, commands would
    go on writing into an empty log and a backup would keep that. Nothing is written."""
    if not _holds_events(views) and _has_table(views, "integrity_chain", rows=True):
        raise IntegrityViolationError(message(
            "the event log is missing or empty, but the hash chain records sealed events: "
            "it was destroyed outside the ledger; restore it (ledger backup restore) and "
            "check it with ledger audit verify; nothing was written"))


def _holds_events(views: SqlDatabase) -> bool:
    return _has_table(views, EventLog.of(views.dialect).table, rows=True)


def _key_store_missing() -> KeyMaterialError:
    """An empty key store beside an event store that holds events is a key store lost, not
    a new one: made anew it would leave every customer unreadable and take new keys that a
    restore of the real one would then lose."""
    return KeyMaterialError(message(
        "the key store (LEDGER_KEYSTORE_URL) is missing or empty, but the event store "
        "already holds events: restore the key store (ledger backup restore ID --keys-to URL) "
        "or point LEDGER_KEYSTORE_URL at it; nothing was written"))


def read_models(protector: ProfileProtector) -> list[Projection]:
    """Every read model, as the runner keeps them (a drill rebuilds the same ones)."""
    return [CustomerView(), PendingProposals(), KeyChanges(), CustomerSearch(protector),
            Deletions(), AccountsView(), AuditTrail(), FaultRegister(), ExportLog()]


def build_bus(store: LedgerStore, policy: Policy, personal_data: PersonalData,
              authoriser: Authoriser, *, clock: Clock = utc_now,
              query_handlers: Mapping[type[BaseModel], QueryHandler] | None = None,
              on_saved: Callable[[int], None] | None = None,
              read_audit: ReadAuditor | None = None,
              more_handlers: Mapping[type[Command], Handler] | None = None,
              retry_seconds: float = DEFAULT_RETRY_SECONDS,
              on_fault: Callable[[], None] | None = None,
              observer: OperationsObserver | None = None) -> MessageBus:
    """The bus with every command's handler, on any event store and personal-data port:
    ``bootstrap()`` gives it the configured database and the key store, handler tests the
    library's in-memory store and in-memory keys. ``more_handlers`` are the ones built
    with a store of their own (the second factor's, over the credential store)."""
    return MessageBus(store, policy, {**ALL_HANDLERS, **(more_handlers or {})},
                      query_handlers, authoriser=authoriser,
                      clock=clock, on_saved=on_saved, personal_data=personal_data,
                      read_audit=read_audit, retry_seconds=retry_seconds, on_fault=on_fault,
                      observer=observer)


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    authoriser: Authoriser | None = None,
    start_projections: bool | None = None,
    backup_status: BackupStatusProvider = no_backups_reported,
) -> Ledger:
    """Build a ledger from settings; nothing connects to a database before this is called.

    ``backup_status`` reports the last successful backup of each kind (the metrics and the
    backup alert rules read it); by default, the backups in ``LEDGER_BACKUP_DIR`` when it is
    set, else nothing. Processes starting together on one PostgreSQL build one at a time
    (``one_setup_at_a_time``): creating the same tables at once can fail there."""
    settings = settings or Settings()
    if not structlog.is_configured():
        # Embedded use: log to stderr, never into the caller's stdout.
        configure_logging(settings)
    policy = load_service_policy(settings.policy_file)
    # Before anything is written (a key file, a directory, a table): production's settings
    # all present, every database answering.
    check_before_start(settings)
    with one_setup_at_a_time(settings.database_url, settings.connect_timeout):
        return _bootstrap(settings, policy, clock=clock, authoriser=authoriser,
                          start_projections=start_projections, backup_status=backup_status)


def _bootstrap(settings: Settings, policy: Policy, *, clock: Clock,
               authoriser: Authoriser | None, start_projections: bool | None,
               backup_status: BackupStatusProvider) -> Ledger:
    # A backup directory named in the settings must be a usable one before anything starts.
    backup_place = BackupPlace.from_settings(settings) if settings.backup_dir else None
    signing_keys = SigningKeySource.from_settings(settings)
    index_key = load_index_key(settings)
    views = open_views(settings)
    try:
        _check_signing_key_kept(signing_keys, views)
        _check_event_log_kept(views)
        keys = open_key_store(settings, views, index_key)
    except Exception:
        views.close()
        raise
    protector = ProfileProtector(keys, BlindIndex(index_key), policy.personal_fields)
    store = open_store(settings)
    runner = ProjectionRunner(store, views, read_models(protector))
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
    backups = None
    if backup_place is not None:
        # Every erasure reaches the key-store backups (README, "Backups and restore").
        backups = LiveBackups(backup_place, views=views, key_db=keys.db,
                              erased=keys.erased_customers, signing=signing_keys,
                              seal=lambda: sealer.seal_all(force_checkpoint=True),
                              policy=policy.backup, clock=clock)
        protector.key_destroyed_listeners.append(backups.after_erasure)
        if backup_status is no_backups_reported:
            backup_status = backup_metrics_provider(backup_place, policy.backup, clock)
    queries = Queries(runner, settings.read_wait_timeout,
                      today=lambda: policy.business_date(clock()), protector=protector,
                      business_date=policy.business_date, zone=policy.zone)
    faults = FaultQueries(ReadModels(runner, settings.read_wait_timeout), clock)
    query_handlers = queries.handlers() | PrivacyQueries(
        queries, backups.shredded_for if backups else None).handlers() | {
        CustomerHistory: lambda query: customer_history(store, query, protector),
    } | access.queries.handlers() | AuditQueries(
        queries, store, policy).handlers() | faults.handlers()
    training_reports = TrainingQueries(runner, settings.read_wait_timeout, policy.training,
                                       today=lambda: policy.business_date(clock()))
    query_handlers |= training_reports.handlers()
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
        training.wake(position)
        try:
            one_time_password.discard_if_used(access.identity.accounts.current)
        except Exception as error:  # the command is saved: its outcome must still be told
            structlog.get_logger("ledger").warning("one_time_password_file_not_checked",
                                                   error=type(error).__name__)

    def seconds() -> float:
        return clock().timestamp()

    jobs = background_jobs(list(runner.projections))
    figures = LogFigures(store, runner, views, backup_status, ProgressTracker(seconds),
                         drivers=lambda: drivers(views, jobs, in_process=runner.running))
    metrics = MetricsEndpoint(figures.read)
    # The command path only bumps counters through the observer port (commands.observer).
    access.identity.observer = metrics.operations
    runner.on_projection_error = metrics.operations.projection_failed
    authoriser = authoriser or access.authoriser
    permits = getattr(authoriser, "permits", None)
    exports = Exports(ExportRows(queries), trace, _clearances(authoriser, narrowest),
                      reports=partial(report_table, lambda query: query_handlers[type(query)](
                          query)),
                      permits=(lambda roles, operation: bool(permits(roles, operation)))
                      if permits else None)
    bus = build_bus(store, policy, protector, authoriser, clock=clock,
                    query_handlers=query_handlers, on_saved=wake_followers,
                    more_handlers=access.totp.handlers()
                    | access.second_factor_resets.handlers() | exports.handlers(),
                    read_audit=ReadAudit(access.access_log, policy.access.sensitive_paths()),
                    retry_seconds=settings.database_retry_seconds,
                    on_fault=lambda: drop_broken_connections(store, views, keys.db),
                    observer=metrics.operations)
    alert_faults = AlertFaults(bus)
    alerts = AlertMonitor(figures, policy, bus, faults, metrics.operations, AlertState(
        policy.alerts, WebhookSender(settings.webhook_urls, policy.alerts.webhook_timeout_seconds,
                                     policy.alerts.webhook_attempts),
        alert_faults.open, alert_faults.close, settings.external_url or "", policy.locale),
        lambda: configured_public_keys(settings), seconds,
        training_expiring=lambda: len(training_reports.upcoming_expiries()))
    # Grants whose assessment expired are suspended by their own follower (TR-3).
    training = TrainingFollower(store, bus, policy, clock)
    if start_projections is None:
        background = settings.run_projections and settings.run_background
        # A service whose background work runs in workers still evaluates its alerts (the
        # login counters they read are this process's).
        alerts_here = settings.run_projections
    else:
        background = alerts_here = start_projections
    # Reads wait for the workers then, never drive the read models themselves.
    runner.drives_waits = settings.run_background or start_projections is not None
    # A service on PostgreSQL takes part in the job locks as a worker would: beside other
    # server processes (serve --workers) and `ledger worker`s, each job has one driver.
    # Elsewhere (SQLite; a caller that asks for the background outright) it drives all.
    locked = background and start_projections is None and settings.backend == "postgres"
    if background and not locked:
        runner.start(settings.projection_poll_interval)
        sealer.start(settings.projection_poll_interval)
        erasures.start(settings.projection_poll_interval)
        training.start(settings.projection_poll_interval)
    if alerts_here if settings.run_alerts is None else settings.run_alerts:
        alerts.start(policy.alerts.evaluate_every_seconds)
    ledger = Ledger(settings, policy, store, views, runner, bus, keys, protector, access,
                    sealer, erasures, one_time_password, figures, metrics, alerts, training,
                    training_reports, exports.files, backups)
    if locked:
        # Imported here: the worker is built on a ledger, so its module imports this one.
        from service.worker import Worker

        ledger.background = Worker(ledger, jobs)
        ledger.background.start()
    return ledger


def _clearances(authoriser: Authoriser, narrowest: Clearance
                ) -> Callable[[str, frozenset[str]], Clearance]:
    """What an exporter may see unmasked: the authoriser's answer for a query, so an export
    masks exactly as a read does; the narrowest where the authoriser grants none."""
    clearance_for = getattr(authoriser, "clearance_for", None)

    def clearance(actor: str, roles: frozenset[str]) -> Clearance:
        return clearance_for(Actor(actor, roles)) if clearance_for else narrowest

    return clearance
