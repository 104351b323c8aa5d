"""The restore drill (BK-2): restore the latest backups into a scratch database, check the
chain there, apply the erasure register, rebuild every read model, and compare each one's
digest with the live ledger's at the same position.

The live read models are compared where the backup ends: when the live log has moved on
since, the live log's first records up to that position are projected into a second
scratch database by the same read models (the live ledger's own tables reflect the head,
not the backup's position). The drill's outcome is appended to the live log as a
``RestoreDrillCompleted`` access record and kept beside the backups for ``status``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from eventsourcing.persistence import Notification

from ledger.backup.location import DRILL_REPORT_NAME
from ledger.domain.access import AccessRecord
from ledger.domain.errors import NotFoundError
from ledger.private_files import create_private_file
from ledger.sql_sqlite import SQLiteDatabase
from ledger.store import NOTIFICATION_BATCH, LedgerStore
from projections.digest import read_model_digests
from projections.runner import ProjectionRunner
from service.backup import BackupPlace
from service.bootstrap import Ledger, bootstrap, open_database, read_models


class _LogUpTo:
    """The live log as it stood at ``last``: what the reference read models are built from."""

    def __init__(self, store: LedgerStore, last: int) -> None:
        self.store = store
        self.last = last
        self.mapper = store.mapper

    def read_log(self, after: int, limit: int = NOTIFICATION_BATCH) -> Sequence[Notification]:
        if after >= self.last:
            return []
        return [n for n in self.store.read_log(after, limit) if n.id <= self.last]

    def head_position(self) -> int:
        return min(self.last, self.store.head_position())


def live_digests_at(ledger: Ledger, position: int, scratch: Path) -> dict[str, str]:
    """The live read models' digests as they were at ``position``."""
    ledger.runner.catch_up()
    if ledger.store.head_position() == position:
        return read_model_digests(ledger.views, ledger.runner.projections)
    reference = SQLiteDatabase(scratch / "reference.sqlite3")
    try:
        runner = ProjectionRunner(cast(LedgerStore, _LogUpTo(ledger.store, position)),
                                  reference, read_models(ledger.protector))
        runner.create_tables()
        runner.catch_up()
        return read_model_digests(reference, runner.projections)
    finally:
        reference.close()


def drill(ledger: Ledger, place: BackupPlace, *, actor: str, scratch_url: str | None = None
          ) -> dict[str, Any]:
    """Run one drill against the newest event backup; the report, also when it failed."""
    backup_id = place.latest_event_backup()
    if backup_id is None:
        raise NotFoundError("no event-log backup to drill with: take `ledger backup full`")
    scratch = Path(tempfile.mkdtemp(prefix="ledger-drill-"))
    os.chmod(scratch, 0o700)
    url = scratch_url or f"sqlite:///{scratch / 'restored.sqlite3'}"
    started = time.monotonic()
    try:
        restored = place.restore(backup_id, url, progress=None,
                                 open_database=lambda u, s: open_database(u, s))
        target = place.settings.model_copy(update={
            "database_url": url, "keystore_url": None, "backup_dir": None,
            "run_projections": False})
        with bootstrap(target, start_projections=False) as copy:
            copy.runner.catch_up()
            rto = time.monotonic() - started
            restored_digests = read_model_digests(copy.views, copy.runner.projections)
        position = int(restored["last_position"])
        live = live_digests_at(ledger, position, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    mismatched = sorted(name for name in live | restored_digests
                        if live.get(name) != restored_digests.get(name))
    if not restored["chain_verified"]:
        mismatched.append("integrity-chain")
    head = ledger.store.head_position()
    manifest = place.events.manifest(backup_id).manifest
    now = ledger.backups.clock() if ledger.backups is not None else datetime.now(UTC)
    outcome = "passed" if not mismatched else "failed: " + ", ".join(mismatched)
    report = {"backup_id": backup_id, "outcome": outcome, "at": now.isoformat(),
              "rto_seconds": round(rto, 3), "restored_position": position,
              "head_position": head, "data_loss_positions": head - position,
              "data_loss_seconds": round((now - datetime.fromisoformat(
                  manifest.created_at)).total_seconds(), 3),
              "records": restored["records"], "erasures_applied": restored["erasures_applied"],
              "digests": restored_digests, "mismatched": mismatched}
    ledger.access.access_log.record(
        AccessRecord.RestoreDrillCompleted, actor=actor, backup_id=backup_id,
        outcome=outcome, restored_position=position, head_position=head,
        rto_seconds=report["rto_seconds"], mismatched=mismatched)
    _keep_report(place, report)
    return report


def _keep_report(place: BackupPlace, report: dict[str, Any]) -> None:
    path = place.events.path / DRILL_REPORT_NAME
    temporary = path.with_name("." + DRILL_REPORT_NAME + ".new")
    if temporary.exists():
        temporary.unlink()
    with os.fdopen(create_private_file(temporary), "w", encoding="utf-8") as handle:
        json.dump({key: report[key] for key in ("backup_id", "outcome", "at", "rto_seconds",
                                                 "restored_position", "head_position")},
                  handle)
    os.replace(temporary, path)
