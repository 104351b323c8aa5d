"""Backups wired to the settings and the running ledger (the mechanics are ``ledger.backup``).

``BackupPlace`` is where backups go and the keys that seal and check them, read from the
settings alone: ``verify`` and ``restore`` need no live ledger. ``LiveBackups`` takes
backups of a running ledger and makes every erasure reach the key-store backups.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from ledger.backup.check import (
    Verdict,
    check_contents,
    check_files,
    check_follows,
)
from ledger.backup.errors import BackupInvalidError
from ledger.backup.keystore import KeyStoreBackups, restore_keystore
from ledger.backup.location import BackupDirectory, check_backup_directory
from ledger.backup.manifest import Manifest, SignedManifest
from ledger.backup.register import ErasureRegister, read_register, update_register
from ledger.backup.restore import check_chain, ensure_empty, restore_events
from ledger.backup.ring import BackupKeyRing
from ledger.backup.status import FAILURE_NAME, BackupStatus, status
from ledger.backup.take import BackupKeys, Progress, raise_without_a_full, take_event_backup
from ledger.crypto import KeyMaterialError, key_id_of, read_key_file
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.integrity.keys import DEFAULT_KEY_FILE_NAME, SigningKeySource
from ledger.integrity.readonly import configured_public_keys, verify_database
from ledger.keystore import KeyStore
from ledger.policy_backup import BackupPolicy
from ledger.private_files import create_private_file
from ledger.settings import Settings, sqlite_path_of
from ledger.sql import SqlDatabase
from ledger.store import open_store
from service.key_material import load_backup_key, load_index_key, load_kek
from service.metrics import BackupStatus as ScrapedBackupStatus
from service.metrics import BackupStatusProvider

log = structlog.get_logger("ledger.backup")

RING_FILE_NAME = "backup_key_ring.json"
BACKUP_KEY_FILE_NAME = "backup_key.key"


def _live_places(settings: Settings) -> tuple[list[Path], list[Path]]:
    """The live data directory and each SQLite database's directory and file."""
    dirs, files = [settings.data_dir], []
    for url in (settings.database_url, settings.effective_keystore_url):
        if url.startswith("sqlite"):
            path = sqlite_path_of(url)
            dirs.append(path.parent)
            files.append(path)
    return dirs, files


@dataclass(frozen=True)
class BackupPlace:
    """Where the backups of one ledger are, and what seals and checks them."""

    settings: Settings
    events: BackupDirectory
    keys: BackupDirectory
    ring: BackupKeyRing

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupPlace:
        if settings.backup_dir is None:
            raise ValidationFailedError(
                [Problem("LEDGER_BACKUP_DIR", "is not set")],
                "no backup directory: set LEDGER_BACKUP_DIR (kept in another place than "
                "the live data)")
        dirs, files = _live_places(settings)
        events = check_backup_directory("LEDGER_BACKUP_DIR", settings.backup_dir, live_dirs=dirs,
                                        live_files=files)
        keys_dir = settings.backup_keys_dir or events.with_name(events.name + "-keys")
        keys = check_backup_directory("LEDGER_BACKUP_KEYS_DIR", keys_dir, live_dirs=dirs,
                                      live_files=files)
        if keys == events or events in keys.parents or keys in events.parents:
            raise ValidationFailedError(
                [Problem("LEDGER_BACKUP_KEYS_DIR", "must be apart from LEDGER_BACKUP_DIR")],
                "key-store backups must be kept apart from the event-log backups (DP-2)")
        ring_file = settings.backup_key_ring_file or (
            (settings.kek_file.parent if settings.kek_file else settings.data_dir)
            / RING_FILE_NAME)
        return cls(settings, BackupDirectory(events), BackupDirectory(keys),
                   BackupKeyRing(ring_file))

    # Keys ------------------------------------------------------------------------

    def backup_key(self, *, create_if_missing: bool) -> bytes:
        """The backup key; without one nothing is written (a development key is made only
        for writing a backup, never to check or restore one)."""
        settings = self.settings
        if create_if_missing or settings.backup_key or settings.backup_key_file:
            return load_backup_key(settings)
        path = settings.data_dir / BACKUP_KEY_FILE_NAME
        if not path.exists():
            raise KeyMaterialError("no backup key: set LEDGER_BACKUP_KEY or "
                                   "LEDGER_BACKUP_KEY_FILE (the key the backups were made "
                                   "with)")
        return read_key_file(path, "backup key")

    def trusted(self) -> frozenset[bytes]:
        found = configured_public_keys(self.settings)
        if not found:
            path = self.settings.signing_key_file or self.settings.data_dir / DEFAULT_KEY_FILE_NAME
            raise KeyMaterialError(
                message("no public key to check backups against: configure "
                        "LEDGER_SIGNING_PUBLIC_KEY_FILE or the signing key ({path})",
                        path=str(path)))
        return frozenset(found)

    def key_store_backups(self, signing: SigningKeySource) -> KeyStoreBackups:
        return KeyStoreBackups(self.keys, self.ring, signing.key())

    # Reading ---------------------------------------------------------------------

    def register(self) -> ErasureRegister:
        return read_register(self.events.path, self.trusted())

    def chain_to(self, backup_id: str) -> list[tuple[Path, SignedManifest]]:
        """The full and the incrementals up to ``backup_id``, full first."""
        chain: list[tuple[Path, SignedManifest]] = []
        current: str | None = backup_id
        while current is not None:
            signed = self.events.manifest(current)
            chain.append((self.events.directory_of(current), signed))
            current = signed.manifest.parent_id
            if len(chain) > 100_000:
                raise BackupInvalidError("the chain of backups loops",
                                         details={"backup_id": backup_id})
        if chain[-1][1].manifest.kind != "full":
            raise BackupInvalidError(message("backup {backup_id} does not lead back to a full "
                                             "backup", backup_id=backup_id),
                                     details={"backup_id": backup_id})
        return list(reversed(chain))

    def latest_event_backup(self) -> str | None:
        ids = self.events.ids()
        return ids[-1] if ids else None

    def verify(self, backup_id: str | None = None) -> list[Verdict]:
        """Each backup's verdict (of ``backup_id`` and its parents, or of every backup)."""
        trusted = self.trusted()
        backup_key = self.backup_key(create_if_missing=False)
        wanted = self._chain_ids(backup_id) if backup_id else self.events.ids()
        verdicts: list[Verdict] = []
        if backup_id is not None and not self.events.exists(backup_id):
            return [Verdict(backup_id, "unknown", "missing", "no such backup")]
        for one in wanted:
            verdicts.extend(self._verify_event_backup(one, trusted, backup_key))
        if backup_id is None:
            verdicts.extend(self._verify_key_store_backups(trusted))
            try:
                register = self.register()
                for manifest in self._readable_manifests(wanted):
                    _check_not_rolled_back(register, manifest)
            except BackupInvalidError as error:
                verdicts.append(Verdict("erasure-register", "register", "invalid",
                                        error.message, error.details.get("file")))
        return verdicts

    def _readable_manifests(self, backup_ids: list[str]) -> list[Manifest]:
        """The manifests of ``backup_ids`` that can be read (the others are judged apart)."""
        found = []
        for backup_id in backup_ids:
            try:
                found.append(self.events.manifest(backup_id).manifest)
            except BackupInvalidError:
                continue
        return found

    def _chain_ids(self, backup_id: str) -> list[str]:
        """``backup_id`` and the parents found for it, oldest first (verify judges each,
        and names a missing or unreadable one)."""
        found: list[str] = []
        current: str | None = backup_id
        while current is not None and self.events.exists(current) and current not in found:
            found.append(current)
            try:
                current = self.events.manifest(current).manifest.parent_id
            except BackupInvalidError:
                break
        return list(reversed(found))

    def _verify_event_backup(self, backup_id: str, trusted: frozenset[bytes],
                             backup_key: bytes) -> list[Verdict]:
        directory = self.events.directory_of(backup_id)
        try:
            signed = self.events.manifest(backup_id)
        except BackupInvalidError as error:
            return [Verdict(backup_id, "unknown", "invalid", error.message,
                            error.details.get("file"))]
        manifest = signed.manifest
        verdicts: list[Verdict] = []
        try:
            check_files(directory, signed, trusted)
            parent = None
            if manifest.parent_id is not None:
                if not self.events.exists(manifest.parent_id):
                    verdicts.append(Verdict(manifest.parent_id, "unknown", "missing",
                                            f"the parent of {backup_id} is not in the "
                                            "backup directory"))
                else:
                    parent = self.events.manifest(manifest.parent_id)
            check_follows(signed, parent)
            check_contents(directory, signed, backup_key, trusted)
        except BackupInvalidError as error:
            return [*verdicts, Verdict(backup_id, manifest.kind, "invalid", error.message,
                                       error.details.get("file"))]
        return [*verdicts, Verdict(backup_id, manifest.kind, "valid")]

    def _verify_key_store_backups(self, trusted: frozenset[bytes]) -> list[Verdict]:
        verdicts = []
        shredded = self.ring.shredded()
        for backup_id in self.keys.ids():
            directory = self.keys.directory_of(backup_id)
            try:
                signed = self.keys.manifest(backup_id)
                check_files(directory, signed, trusted)
                if backup_id in shredded:
                    verdicts.append(Verdict(backup_id, "keys", "shredded",
                                            "its ring key was destroyed after an erasure"))
                    continue
                KeyStoreBackups(self.keys, self.ring).tables(signed)
            except BackupInvalidError as error:
                verdicts.append(Verdict(backup_id, "keys", "invalid", error.message,
                                        error.details.get("file")))
                continue
            verdicts.append(Verdict(backup_id, "keys", "valid"))
        return verdicts

    # Restoring -------------------------------------------------------------------

    def restore(self, backup_id: str, to_url: str, *, keys_to_url: str | None = None,
                keys_backup_id: str | None = None, progress: Progress | None = None,
                open_database: Callable[[str, Settings], SqlDatabase]) -> dict[str, Any]:
        """Restore ``backup_id`` (with its parents) into the empty database at ``to_url``,
        the newest readable key-store backup (or ``keys_backup_id``) into its key store,
        and apply the erasure register; then verify the restored chain."""
        settings = self.settings
        target = settings.model_copy(update={"database_url": to_url,
                                             "keystore_url": keys_to_url})
        target = Settings.model_validate(target.model_dump())
        live = {_place(settings.database_url), _place(settings.effective_keystore_url)}
        if {_place(target.database_url), _place(target.effective_keystore_url)} & live:
            raise ValidationFailedError([Problem("to", "is the live database")],
                                        "a restore never writes into the live database")
        trusted = self.trusted()
        backup_key = self.backup_key(create_if_missing=False)
        chain = self.chain_to(backup_id)
        register = self.register()
        _check_not_rolled_back(register, chain[-1][1].manifest)
        key_backups = KeyStoreBackups(self.keys, self.ring)
        keys_manifest = (self.keys.manifest(keys_backup_id) if keys_backup_id
                         else _newest(key_backups.readable()))
        if keys_manifest is not None:
            check_files(self.keys.directory_of(keys_manifest.manifest.backup_id),
                        keys_manifest, trusted)
            key_backups.tables(keys_manifest)  # readable (not shredded), before any write
        check_chain(chain, backup_key, trusted)
        kek, index_key = load_kek(settings), load_index_key(settings)
        events_db = open_database(target.database_url, target)
        keys_db = (events_db if target.effective_keystore_url == target.database_url
                   else open_database(target.effective_keystore_url, target))
        try:
            ensure_empty(events_db, "event store")
            if keys_db is not events_db:
                ensure_empty(keys_db, "key store")
            restored = restore_events(events_db, chain, backup_key, trusted,
                                      lambda: open_store(target).close(), progress)
            key_store = KeyStore(keys_db, kek)

            def make_key_tables() -> None:
                key_store.create_tables(index_key_id=key_id_of(index_key, "index"))

            keys_restored = 0
            if keys_manifest is not None:
                keys_restored = restore_keystore(key_backups, keys_manifest, keys_db,
                                                 make_key_tables)
            else:
                make_key_tables()
            # The register goes in before anything reads the restored store.
            for customer_id in register.customer_ids:
                key_store.destroy(customer_id)
        finally:
            events_db.close()
            if keys_db is not events_db:
                keys_db.close()
        report = verify_database(target)
        return {"backup_id": backup_id, "chain": [s.manifest.backup_id for _, s in chain],
                "records": restored.records, "last_position": restored.last_position,
                "checkpoints": restored.checkpoints,
                "keys_backup_id": keys_manifest.manifest.backup_id if keys_manifest else None,
                "data_keys": keys_restored, "erasures_applied": register.version,
                "chain_verified": report.ok, "chain_status": report.status,
                "source_backend": chain[0][1].manifest.source_backend,
                "target_backend": target.backend}

    def status(self, policy: BackupPolicy, now: datetime) -> BackupStatus:
        return status(self.events.path, self.keys.path, policy, now)

    def record_failure(self, kind: str, error: Exception, now: datetime) -> None:
        """Log a failed backup (kind and error code only: no personal data) and keep it for
        ``ledger backup status``."""
        code = error.code if isinstance(error, LedgerError) else type(error).__name__
        log.error("backup_failed", kind=kind, code=code)
        try:
            path = self.events.path / FAILURE_NAME
            temporary = path.with_name("." + FAILURE_NAME + ".new")
            if temporary.exists():
                temporary.unlink()
            descriptor = create_private_file(temporary)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"kind": kind, "at": now.isoformat(), "code": code}, handle)
            os.replace(temporary, path)
        except OSError:
            log.warning("backup_failure_not_recorded", kind=kind)


def _newest(found: list[SignedManifest]) -> SignedManifest | None:
    return found[-1] if found else None


class LiveBackups:
    """Backups of a running ledger (``service.bootstrap.Ledger``)."""

    def __init__(self, place: BackupPlace, *, views: SqlDatabase, key_db: SqlDatabase,
                 erased: Callable[[], list[str]], signing: SigningKeySource,
                 seal: Callable[[], object], policy: BackupPolicy,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.place = place
        self.views = views
        self.key_db = key_db
        self.erased = erased
        self.signing = signing
        self.seal = seal
        self.policy = policy
        self.clock = clock

    def _register(self, extra: list[str] | None = None) -> ErasureRegister:
        return update_register(self.place.events.path, [*self.erased(), *(extra or [])],
                               self.signing.key(), self.clock())

    def events(self, kind: str, created_by: str, progress: Progress | None = None
               ) -> SignedManifest:
        """A full or incremental backup of the event log (the incremental after the newest
        backup there is)."""
        now = self.clock()
        try:
            parent = None
            if kind == "incremental":
                latest = self.place.latest_event_backup()
                if latest is None:
                    raise_without_a_full()  # before a development backup key is made
                else:
                    parent = self.place.events.manifest(latest)
                    parent.check(self.place.trusted())
            keys = BackupKeys(self.signing.key(), self.place.backup_key(create_if_missing=True))
            # Everything stored so far is sealed and signed, so the backup reaches the head.
            self.seal()
            register = self._register()
            signed = take_event_backup(
                self.views, self.place.events, keys, kind="full" if kind == "full"
                else "incremental", parent=parent, created_by=created_by, now=now,
                register_version=register.version, progress=progress)
        except Exception as error:
            self.place.record_failure(kind, error, now)
            raise
        log.info("backup_completed", kind=kind, backup_id=signed.manifest.backup_id,
                 records=signed.manifest.records, last_position=signed.manifest.last_position)
        return signed

    def key_store(self, created_by: str) -> dict[str, Any]:
        """A key-store backup; then every older one holding an erased customer's key is
        shredded, and those past the retention removed."""
        now = self.clock()
        try:
            backups = self.place.key_store_backups(self.signing)
            register = self._register()
            signed = backups.take(self.key_db, created_by=created_by, now=now,
                                  register_version=register.version)
            shredded = backups.shred_holders(list(register.customer_ids),
                                             newer_than=signed.manifest.backup_id,
                                             at=now.isoformat())
            removed = backups.prune(retention=timedelta(days=self.policy.keys_retention_days),
                                    now=now)
        except Exception as error:
            self.place.record_failure("keys", error, now)
            raise
        log.info("backup_completed", kind="keys", backup_id=signed.manifest.backup_id,
                 records=signed.manifest.records)
        return {"backup_id": signed.manifest.backup_id, "data_keys": signed.manifest.records,
                "shredded": sorted({b for ids in shredded.values() for b in ids}),
                "removed": removed}

    def after_erasure(self, customer_id: str) -> None:
        """An erasure reaches the backups: the register names the customer, a fresh
        key-store backup is written without the key, and every older one that held it is
        shredded. Never raises: the erasure itself is done; a failure is logged (and the
        next ``ledger backup keys`` shreds what is left)."""
        now = self.clock()
        try:
            backups = self.place.key_store_backups(self.signing)
            register = self._register([customer_id])
            fresh = backups.take(self.key_db, created_by="erasure", now=now,
                                 register_version=register.version)
            shredded = backups.shred_holders([customer_id], newer_than=fresh.manifest.backup_id,
                                             at=now.isoformat())
            log.info("backup_erasure_reached", fresh_backup_id=fresh.manifest.backup_id,
                     shredded=len(shredded.get(customer_id, [])))
        except Exception as error:
            self.place.record_failure("keys", error, now)

    def shredded_for(self, customer_id: str) -> list[str]:
        return self.place.ring.shredded_for(customer_id)


def backup_metrics_provider(place: BackupPlace, policy: BackupPolicy,
                            clock: Callable[[], datetime]) -> BackupStatusProvider:
    """The backups' state as the metrics and the backup alert rules read it: each kind's
    last success, whether the latest attempt of that kind failed, and whether it is
    overdue. A scrape or an alert evaluation must not fail because a backup directory
    cannot be read, so an unreadable one reports nothing (and logs why)."""

    def report() -> Mapping[str, ScrapedBackupStatus]:
        try:
            found = place.status(policy, clock())
        except Exception as error:  # the scrape must go on; the log says why
            log.warning("backup_status_unreadable", error=type(error).__name__)
            return {}
        failure = found.last_failure or {}
        reported: dict[str, ScrapedBackupStatus] = {}
        for name, kind in found.kinds.items():
            failed_at = failure.get("at") if failure.get("kind") == name else None
            failed = failed_at is not None and (
                kind.last_success_at is None
                or datetime.fromisoformat(str(failed_at)) > kind.last_success_at)
            reported[name] = ScrapedBackupStatus(kind.last_success_at, failed=failed,
                                                 overdue=kind.overdue)
        return reported

    return report


def _check_not_rolled_back(register: ErasureRegister, manifest: Manifest) -> None:
    """Refuse a register older than a backup made after it: one rolled back or replaced
    would leave customers erased since unerased in a restore."""
    if register.version < manifest.erasure_register_version:
        raise BackupInvalidError(
            message("the erasure register (version {version}) is older than backup "
                    "{backup_id} (made at version {made_at}): it was rolled back or "
                    "replaced; restore it first", version=register.version,
                    backup_id=manifest.backup_id, made_at=manifest.erasure_register_version),
            details={"file": "erasure-register.json"})


def _place(url: str) -> str:
    """Where a database is, whatever the spelling: a SQLite file by its resolved path (a
    relative and an absolute URL of the live file are the same target)."""
    if url.startswith("sqlite"):
        return str(sqlite_path_of(url).resolve())
    return url
