"""How recent each kind of backup is, against the schedule: the one function monitoring
reads (``ledger backup status``, and the metrics and alerts built on it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.backup.location import DRILL_REPORT_NAME, BackupDirectory
from ledger.backup.manifest import SignedManifest
from ledger.policy_backup import BackupPolicy

FAILURE_NAME = "last-failure.json"


@dataclass(frozen=True)
class KindStatus:
    """The last success of one kind (``full``, ``incremental``, ``keys``, ``drill``)."""

    kind: str
    last_id: str | None
    last_success_at: datetime | None
    age_seconds: float | None
    due_every_seconds: float
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "last_id": self.last_id,
                "last_success_at": self.last_success_at.isoformat()
                if self.last_success_at else None,
                "age_seconds": self.age_seconds, "due_every_seconds": self.due_every_seconds,
                "overdue": self.overdue}


@dataclass(frozen=True)
class BackupStatus:
    kinds: dict[str, KindStatus]
    last_failure: dict[str, Any] | None

    @property
    def overdue(self) -> bool:
        return any(kind.overdue for kind in self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        return {"kinds": {name: kind.as_dict() for name, kind in self.kinds.items()},
                "overdue": self.overdue, "last_failure": self.last_failure}


def _latest(manifests: list[SignedManifest], kinds: tuple[str, ...]
            ) -> tuple[str | None, datetime | None]:
    chosen = [m.manifest for m in manifests if m.manifest.kind in kinds]
    if not chosen:
        return None, None
    last = max(chosen, key=lambda m: datetime.fromisoformat(m.created_at))
    return last.backup_id, datetime.fromisoformat(last.created_at)


def _kind(kind: str, found: tuple[str | None, datetime | None], every: timedelta,
          now: datetime) -> KindStatus:
    last_id, at = found
    age = (now - at).total_seconds() if at else None
    return KindStatus(kind, last_id, at, age, every.total_seconds(),
                      age is None or age > every.total_seconds())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def status(events_dir: Path, keys_dir: Path, policy: BackupPolicy, now: datetime
           ) -> BackupStatus:
    """The last successful backup of each kind, its age, and whether it is overdue; the
    last drill; the last failure recorded (kind, time and error code only)."""
    events = [m for m in BackupDirectory(events_dir).manifests()
              if isinstance(m, SignedManifest)]
    keys = [m for m in BackupDirectory(keys_dir).manifests() if isinstance(m, SignedManifest)]
    drill = _read_json(events_dir / DRILL_REPORT_NAME)
    drill_found: tuple[str | None, datetime | None] = (None, None)
    if drill and drill.get("outcome") == "passed" and isinstance(drill.get("at"), str):
        drill_found = (drill.get("backup_id"), datetime.fromisoformat(drill["at"]))
    kinds = {
        "full": _kind("full", _latest(events, ("full",)),
                      timedelta(days=policy.full_every_days), now),
        "incremental": _kind("incremental", _latest(events, ("full", "incremental")),
                             timedelta(hours=policy.incremental_every_hours), now),
        "keys": _kind("keys", _latest(keys, ("keys",)),
                      timedelta(hours=policy.keys_every_hours), now),
        "drill": _kind("drill", drill_found, timedelta(days=policy.drill_every_days), now),
    }
    return BackupStatus(kinds, _read_json(events_dir / FAILURE_NAME))
