"""The restore drill and the schedule (BK-2): a drill restores the newest backups, rebuilds
every read model and compares its digests with the live ones at the same position, records
its outcome in the log; ``status`` flags what is overdue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ledger.domain.errors import NotFoundError
from projections.audit_trail import AuditTrail
from projections.digest import read_model_digests
from service.backup_drill import drill, live_digests_at
from service.bootstrap import Ledger
from tests import backup_support
from tests.backup_support import digests, place_of
from tests.conftest import FixedClock
from tests.privacy_support import change, distinctive_profile, erase, register

backup_dir = backup_support.backup_dir


@pytest.fixture
def live(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
         backup_dir: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var", backup_dir=backup_dir)


def history(ledger: Ledger) -> None:
    first = register(ledger, distinctive_profile("zh_CN"))
    second = register(ledger, distinctive_profile("en_US"))
    change(ledger, second, {"basic.email": "later@example.cn"})
    erase(ledger, first)


def test_a_drill_of_current_backups_passes_and_is_recorded_in_the_log(live: Ledger) -> None:
    assert live.backups is not None
    history(live)
    live.backups.events("full", "tester")
    live.backups.key_store("tester")

    report = drill(live, place_of(live), actor="tester")

    assert report["outcome"] == "passed" and report["mismatched"] == []
    assert report["data_loss_positions"] == 0 and report["rto_seconds"] > 0
    assert report["erasures_applied"] == 1
    live.runner.catch_up()
    with live.views.snapshot() as cursor:
        rows = cursor.all("SELECT operation, outcome FROM audit_trail "
                          "WHERE operation = 'restore-drill'")
    assert rows == [("restore-drill", "passed")]


def test_a_drill_compares_with_the_live_read_models_where_the_backup_ends(
        live: Ledger, tmp_path: Path) -> None:
    assert live.backups is not None
    history(live)
    backed_up = live.backups.events("full", "tester").manifest.last_position
    live.backups.key_store("tester")
    at_backup = digests(live)
    register(live, distinctive_profile("en_US"))  # after the backup: not in it

    assert digests(live) != at_backup
    assert live_digests_at(live, backed_up, tmp_path) == at_backup
    head = live.store.head_position()
    report = drill(live, place_of(live), actor="tester")

    assert report["outcome"] == "passed"
    assert report["data_loss_positions"] == head - backed_up > 0


def test_a_drill_that_finds_a_difference_fails_and_says_which_read_model(
        live: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    assert live.backups is not None
    history(live)
    live.backups.events("full", "tester")
    live.backups.key_store("tester")
    real = read_model_digests

    def one_differs(views: object, projections: dict[str, object]) -> dict[str, str]:
        found = real(views, projections)  # type: ignore[arg-type]
        if views is not live.views:
            found[AuditTrail.name] = "0" * 64
        return found

    monkeypatch.setattr("service.backup_drill.read_model_digests", one_differs)
    report = drill(live, place_of(live), actor="tester")

    assert report["mismatched"] == ["audit_trail"]
    assert report["outcome"] == "failed: audit_trail"


def test_a_drill_needs_a_backup(live: Ledger) -> None:
    with pytest.raises(NotFoundError, match="no event-log backup"):
        drill(live, place_of(live), actor="tester")


def test_status_flags_each_kind_once_it_is_older_than_the_schedule(
        live: Ledger, clock: FixedClock) -> None:
    assert live.backups is not None
    place = place_of(live)
    policy = live.policy.backup
    assert place.status(policy, clock()).overdue  # nothing yet: every kind is overdue
    register(live, distinctive_profile("zh_CN"))
    live.backups.events("full", "tester")
    live.backups.key_store("tester")
    drill(live, place, actor="tester")

    now = place.status(policy, clock())
    assert not now.overdue and now.kinds["full"].age_seconds == 0
    a_day_on = place.status(policy, clock() + timedelta(hours=policy.incremental_every_hours,
                                                         seconds=1))
    assert [k for k, s in a_day_on.kinds.items() if s.overdue] == ["incremental", "keys"]
    clock.now += timedelta(hours=policy.incremental_every_hours, seconds=1)
    live.backups.events("incremental", "tester")
    live.backups.key_store("tester")
    assert not place.status(policy, clock()).overdue
    later = place.status(policy, clock() + timedelta(days=policy.drill_every_days))
    assert {"full", "drill"} <= {k for k, s in later.kinds.items() if s.overdue}
