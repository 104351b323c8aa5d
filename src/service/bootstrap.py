"""The one place that assembles the ledger: store, read models, runner, queries and bus."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import structlog

from commands.bus import Authoriser, MessageBus, utc_now
from commands.read_audit import ReadAudit
from commands.registry import ALL_HANDLERS
from commands.unit_of_work import Clock
from ledger.crypto import BlindIndex, key_id_of
from ledger.domain.customer import Customer
from ledger.integrity.keys import SigningKeySource
from ledger.integrity.sealer import CheckpointPolicy, Sealer
from ledger.integrity.storage import EventLog
from ledger.keystore import KeyStore
from ledger.logging import configure_logging
from ledger.policy import Policy, load_policy
from ledger.protection import ProfileProtector
from ledger.settings import Settings, postgres_params_of, sqlite_path_of
from ledger.sql import PostgresDatabase, SqlDatabase, SQLiteDatabase
from ledger.store import NOTIFICATION_BATCH, LedgerStore, open_store
from projections.accounts import AccountsView
from projections.audit import AuditQueries
from projections.audit_trail import AuditTrail
from projections.customer_search import CustomerSearch
from projections.customer_view import CustomerView
from projections.deletions import Deletions
from projections.history import CustomerHistory, customer_history
from projections.key_changes import KeyChanges
from projections.masking import masked
from projections.pending_proposals import PendingProposals
from projections.privacy import PrivacyQueries
from projections.projection import topic_of
from projections.queries import Queries
from projections.reading import checkpoint
from projections.runner import ProjectionRunner
from service.access import AccessControl, build_access_control
from service.key_material import check_keystore_location, load_index_key, load_kek
from service.one_time_password import OneTimePasswordFile
from service.preflight import check_before_start


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
    keys: KeyStore
    protector: ProfileProtector
    access: AccessControl
    sealer: Sealer
    one_time_password: OneTimePasswordFile

    def close(self) -> None:
        self.runner.stop()
        self.sealer.stop()
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
        return SQLiteDatabase(sqlite_path_of(url))
    params = postgres_params_of(url)
    params["connect_timeout"] = str(settings.connect_timeout)
    conninfo = " ".join(f"{key}={value}" for key, value in params.items() if value)
    return PostgresDatabase(conninfo, pool_size=max(2, settings.postgres_pool_size // 2),
                            name=name)


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


def _erased_customers(views: SqlDatabase, store: LedgerStore) -> list[str]:
    """Every customer the log says is erased: the view's tombstones, and the erasures stored
    after the view's checkpoint (the view may lag the log, e.g. after a crash)."""
    with views.snapshot() as cursor:
        rows = cursor.all("SELECT customer_id FROM customer_view WHERE erased_at IS NOT NULL")
        position = checkpoint(cursor, CustomerView.name)
    erased = [str(row[0]) for row in rows]
    topics = [topic_of(Customer.Erased)]
    while page := store.app_recorder.select_notifications(
            start=position, limit=NOTIFICATION_BATCH, topics=topics, inclusive_of_start=False):
        erased += [str(notification.originator_id) for notification in page]
        position = page[-1].id
    return erased


def _forget_erased_in_search(views: SqlDatabase, keys: KeyStore) -> None:
    """An event store restored from before an erasure still holds the erased customer's
    search digests; the key store remembers the erasure, so the digests go too."""
    erased = keys.erased_customers()
    with views.snapshot() as cursor:
        indexed = [customer_id for customer_id in erased if cursor.one(
            "SELECT 1 FROM customer_search WHERE customer_id = :cid LIMIT 1",
            {"cid": customer_id})]
    if indexed:
        with views.transaction() as cursor:
            for customer_id in indexed:
                cursor.execute("DELETE FROM customer_search WHERE customer_id = :cid",
                               {"cid": customer_id})


def sensitive_fields(policy: Policy) -> set[str]:
    """Every field path of every sensitivity level: what an access record may name."""
    return {path for paths in policy.access.sensitive_fields.values() for path in paths}


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
        CustomerView(protector), PendingProposals(), KeyChanges(), CustomerSearch(protector),
        Deletions(), AccountsView(), AuditTrail(),
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
    # Erasures the log records are applied again to the key store, before any read.
    keys.reconcile(_erased_customers(views, store))
    _forget_erased_in_search(views, keys)
    queries = Queries(runner, settings.read_wait_timeout,
                      today=lambda: policy.business_date(clock()), protector=protector)
    query_handlers = queries.handlers() | PrivacyQueries(queries).handlers() | {
        CustomerHistory: lambda query: customer_history(store, query, protector),
    } | access.queries.handlers() | AuditQueries(
        queries, store, policy).handlers()
    # Answers are masked for the reader's clearance, which the bus sets (ST-4, P5).
    query_handlers = {kind: masked(handler) for kind, handler in query_handlers.items()}

    # The first administrator's one-time password file goes once it opens nothing.
    one_time_password = OneTimePasswordFile(settings.data_dir)
    one_time_password.discard_if_used(access.identity.accounts.current)

    def wake_followers(position: int) -> None:
        runner.wake(position)
        sealer.wake(position)
        try:
            one_time_password.discard_if_used(access.identity.accounts.current)
        except Exception as error:  # the command is saved: its outcome must still be told
            structlog.get_logger("ledger").warning("one_time_password_file_not_checked",
                                                   error=type(error).__name__)

    bus = MessageBus(store, policy, ALL_HANDLERS, query_handlers,
                     authoriser=authoriser or access.authoriser,
                     clock=clock, on_saved=wake_followers, protector=protector,
                     read_audit=ReadAudit(access.access_log, sensitive_fields(policy)))
    if settings.run_projections if start_projections is None else start_projections:
        runner.start(settings.projection_poll_interval)
        sealer.start(settings.projection_poll_interval)
    return Ledger(settings, policy, store, views, runner, queries, bus, keys, protector, access,
                  sealer, one_time_password)
