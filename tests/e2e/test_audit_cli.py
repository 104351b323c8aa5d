"""``ledger audit`` as an operator and an auditor drive it: the real executable on a SQLite
file, tampered with by hand between the commands."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import NotFoundError, ValidationFailedError
from ledger.integrity.report import IntegrityUnverifiedError, IntegrityViolationError
from service.preflight import PathUnusableError
from tests.conftest import FAST_HASHING_POLICY
from tests.e2e.conftest import CLI_TIMEOUT, QUICK_HASHING, ledger_env
from tests.e2e.forked import run_ledger
from tests.e2e.test_cli import Cli, register, staffed, words
from tests.integration.tampering import RawEvents

pytestmark = pytest.mark.e2e

TAMPERED = IntegrityViolationError.exit_code


@pytest.fixture(scope="module")
def sealed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two customers registered through the CLI, sealed, and a checkpoint exported."""
    cli = staffed(Cli(tmp_path_factory.mktemp("sealed")))
    register(cli)
    register(cli, basic__name="第二家公司")
    assert cli.json("audit", "status")["sealing_lag"] == cli.stored_events()
    sealed = cli.json("audit", "seal")
    assert sealed["sealing_lag"] == 0
    assert sealed["last_checkpoint"]["position"] == cli.stored_events()
    exported = cli("audit", "export-checkpoint", machine=False)
    assert exported.returncode == 0, exported.stderr
    (cli.workdir / "witness.json").write_text(exported.stdout, encoding="utf-8")
    return cli.workdir


@pytest.fixture
def sealed_cli(sealed_template: Path, tmp_path: Path) -> Cli:
    """A copy of the sealed store (and its signing key) for one test to tamper with."""
    workdir = tmp_path / "ledger"
    shutil.copytree(sealed_template, workdir)
    return Cli(workdir)


def tamper(cli: Cli) -> RawEvents:
    return RawEvents(f"sqlite:///{cli.database}")


def test_verify_passes_on_an_untouched_store_and_counts_what_it_checked(
        sealed_cli: Cli) -> None:
    sealed = sealed_cli.stored_events()
    register(sealed_cli, basic__name="第三家公司")  # written after the seal

    report = sealed_cli.json("audit", "verify", "--checkpoint", "witness.json")

    assert report["ok"] and report["findings"] == []
    assert report["records"] == sealed_cli.stored_events()
    assert (report["sealed"], report["unsealed"]) == (sealed, report["records"] - sealed)
    assert report["unsealed"] > 0
    assert report["exported_checkpoint"]["matches"]
    assert report["checkpoints_verified"] == report["checkpoints_stored"] == 1


def test_a_changed_byte_makes_verify_fail_with_its_own_exit_code(sealed_cli: Cli) -> None:
    raw = tamper(sealed_cli)
    raw.flip_byte(3, index=10)
    raw.close()

    done = sealed_cli("audit", "verify")
    human = sealed_cli("audit", "verify", machine=False)

    assert done.returncode == TAMPERED == 11
    report = json.loads(done.stdout)
    assert (report["ok"], report["first_bad_position"]) == (False, 3)
    assert json.loads(done.stderr)["error"]["code"] == "integrity_violation"
    assert human.returncode == TAMPERED
    assert "TAMPERING DETECTED" in human.stdout
    assert "first bad position 3 (modified)" in words(human.stderr)


def test_a_consistent_rewrite_is_caught_only_by_the_exported_checkpoint(sealed_cli: Cli) -> None:
    raw = tamper(sealed_cli)
    raw.flip_byte(1)
    raw.rewrite_chain()
    raw.close()

    assert sealed_cli("audit", "verify").returncode == 0
    done = sealed_cli("audit", "verify", "--checkpoint", "witness.json")

    assert done.returncode == TAMPERED
    report = json.loads(done.stdout)
    assert report["findings"][0]["kind"] == "rewritten"
    assert report["first_bad_position"] == sealed_cli.stored_events()


def test_verify_from_a_trusted_checkpoint_reads_only_what_follows(sealed_cli: Cli) -> None:
    sealed = sealed_cli.stored_events()
    register(sealed_cli, basic__name="之后的公司")

    report = sealed_cli.json("audit", "verify", "--checkpoint", "witness.json",
                             "--from-checkpoint")

    assert report["ok"]
    assert report["started_after"] == sealed
    assert report["records"] == report["unsealed"] == sealed_cli.stored_events() - sealed


def test_verify_never_writes_to_the_store(sealed_cli: Cli) -> None:
    sealed_cli.database.chmod(stat.S_IRUSR)
    try:
        assert sealed_cli("audit", "verify").returncode == 0
    finally:
        sealed_cli.database.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_checkpoint_whose_signature_no_longer_verifies_is_not_exported(
        sealed_cli: Cli) -> None:
    raw = tamper(sealed_cli)
    signature = bytes(raw.sql("SELECT signature FROM integrity_checkpoints "
                              "ORDER BY sequence DESC LIMIT 1")[0][0])
    raw.sql("UPDATE integrity_checkpoints SET signature = ? WHERE sequence = "
            "(SELECT MAX(sequence) FROM integrity_checkpoints)",
            bytes([signature[0] ^ 1]) + signature[1:])
    raw.close()

    done = sealed_cli("audit", "export-checkpoint", machine=False)

    assert done.returncode == TAMPERED, done.stderr
    assert "signature does not verify" in words(done.stderr)
    assert done.stdout == ""  # no witness document that would not hold


def test_export_without_any_checkpoint_is_not_found(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    done = cli("audit", "export-checkpoint")
    assert done.returncode == NotFoundError.exit_code
    assert "ledger audit seal" in done.stderr


@pytest.mark.parametrize("args", [
    ("audit", "verify", "--from-checkpoint"),
    ("audit", "verify", "--checkpoint", "profile.json"),
])
def test_a_bad_checkpoint_argument_is_a_validation_error(sealed_cli: Cli,
                                                         args: tuple[str, ...]) -> None:
    assert sealed_cli(*args).returncode == ValidationFailedError.exit_code


def test_a_checkpoint_file_that_is_not_there_is_path_unusable(sealed_cli: Cli) -> None:
    done = sealed_cli("audit", "verify", "--checkpoint", "nowhere.json")
    assert done.returncode == PathUnusableError.exit_code, done.stderr


@pytest.mark.parametrize("args", [("audit", "verify"), ("keys", "verify"),
                                  ("customer", "find", "上海")])
def test_a_database_file_cut_short_is_one_path_unusable_line_naming_it(
        sealed_cli: Cli, args: tuple[str, ...]) -> None:
    with closing(sqlite3.connect(sealed_cli.database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sealed_cli.database.open("r+b") as file:
        file.truncate(sealed_cli.database.stat().st_size // 2)
    before = sealed_cli.database.read_bytes()

    done = sealed_cli(*args, machine=False)

    assert done.returncode == PathUnusableError.exit_code == 73, done.stderr
    assert "Traceback" not in done.stderr
    assert words(done.stderr) == (
        f"error [path_unusable]: LEDGER_DATABASE_URL cannot be used: {sealed_cli.database} "
        "is not a SQLite database (damaged, or another kind of file)")
    assert sealed_cli.database.read_bytes() == before


def test_production_refuses_to_start_without_a_signing_key_and_writes_nothing(
        tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    done = cli("init", LEDGER_ENVIRONMENT="production")

    assert done.returncode == ValidationFailedError.exit_code
    assert "LEDGER_SIGNING_KEY_FILE" in json.loads(done.stderr)["error"]["message"]
    assert list(tmp_path.iterdir()) == []


def test_a_created_signing_key_is_private_and_signs_the_checkpoints(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "ledger")
    cli.workdir.mkdir()
    key = tmp_path / "secrets" / "signing.pem"
    created = cli.json("audit", "create-signing-key", str(key))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert cli("audit", "create-signing-key", str(key)).returncode == (
        ValidationFailedError.exit_code)

    register(staffed(cli))
    cli.json("audit", "seal", LEDGER_SIGNING_KEY_FILE=str(key))
    exported = cli.json("audit", "export-checkpoint")

    assert exported["checkpoint"]["key_id"] == created["key_id"]
    assert not (cli.workdir / "var" / "signing_key.pem").exists()


# When the evidence is gone: exit 12, never 0, on both backends ------------------------------

UNVERIFIED = IntegrityUnverifiedError.exit_code


@dataclass
class Store:
    """A ledger on either backend, driven with the real executable in ``workdir``."""

    workdir: Path
    database_url: str

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_ledger(["--json", *args], cwd=self.workdir, timeout=CLI_TIMEOUT,
                          env=ledger_env(self.database_url, **(QUICK_HASHING | env)))

    def verify(self, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
        """``ledger audit verify`` once every record is older than the checkpoint interval."""
        done = self("audit", "verify", *args, LEDGER_POLICY_FILE=str(self.quick_policy), **env)
        return done.returncode, json.loads(done.stdout) if done.stdout else {}

    @property
    def quick_policy(self) -> Path:
        return self.workdir / "quick-checkpoints.toml"

    def write_something(self, username: str) -> None:
        done = self("account", "create", username, "--employee-id", f"E-{username}",
                    "--department", "sales", "--role", "sales")
        assert done.returncode == 0, done.stderr


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Store:
    """A store set up and sealed through the CLI (the development signing key under var/),
    and a policy whose checkpoint interval every record is older than by the next command."""
    chosen = Store(tmp_path / "ledger", database_url)
    chosen.workdir.mkdir()
    chosen.quick_policy.write_text("checkpoint_every_seconds = 0.001\n"
                                   + FAST_HASHING_POLICY.read_text(encoding="utf-8"),
                                   encoding="utf-8")
    for args in (("init",), ("audit", "seal")):
        done = chosen(*args)
        assert done.returncode == 0, done.stderr
    chosen.write_something("chen.yu")
    assert chosen("audit", "seal").returncode == 0
    public = chosen("audit", "public-key")
    assert public.returncode == 0, public.stderr
    (chosen.workdir / "signing.pub").write_text(json.loads(public.stdout)["public_key_pem"],
                                                encoding="utf-8")
    return chosen


def test_a_sealed_store_verifies_ok_under_its_public_key_however_old(store: Store) -> None:
    assert store.verify()[0] == 0
    code, report = store.verify("--public-key", "signing.pub")
    assert (code, report["status"]) == (0, "ok")
    assert report["covered_up_to"] == report["head_position"]


def test_records_no_checkpoint_covers_are_unverified_once_older_than_the_interval(
        store: Store) -> None:
    store.write_something("xu.ming")  # after the last seal

    assert store("audit", "verify").returncode == 0  # within the default 300 s
    done = store("audit", "verify", LEDGER_POLICY_FILE=str(store.quick_policy))

    assert done.returncode == UNVERIFIED == 12
    report = json.loads(done.stdout)
    assert (report["status"], report["ok"], report["findings"]) == ("unverified", False, [])
    assert report["first_unverified_position"] == report["covered_up_to"] + 1
    assert json.loads(done.stderr)["error"]["code"] == "integrity_unverified"


@pytest.mark.parametrize("gone", ["checkpoints emptied and seal reset", "tables dropped"])
def test_verify_is_not_ok_when_the_evidence_is_gone(store: Store, gone: str) -> None:
    raw = RawEvents(store.database_url)
    raw.flip_byte(2)
    if gone == "tables dropped":
        raw.drop_integrity_tables()
    else:
        raw.reset_seal()
    raw.close()

    code, report = store.verify()

    assert (code, report["status"], report["covered_up_to"]) == (UNVERIFIED, "unverified", 0)
    assert report["unverified"] == report["records"]


def test_checkpoints_re_signed_with_another_key_are_caught_by_the_public_key_alone(
        store: Store) -> None:
    raw = RawEvents(store.database_url)
    raw.flip_byte(2)
    raw.reset_seal()
    raw.close()
    forged = store("audit", "seal", LEDGER_SIGNING_KEY_FILE=str(store.workdir / "forger.pem"))
    assert forged.returncode == 0, forged.stderr
    (store.workdir / "var" / "signing_key.pem").unlink()  # no key file on this machine

    assert store.verify()[0] == UNVERIFIED  # the stored keys are the forger's: no trust
    by_option = store.verify("--public-key", "signing.pub")
    by_setting = store.verify(LEDGER_SIGNING_PUBLIC_KEY_FILE="signing.pub")

    for code, report in (by_option, by_setting):
        assert (code, report["status"]) == (TAMPERED, "tampered")
        assert report["findings"][0]["kind"] == "bad_signature"
        assert report["checkpoints_verified"] == 0


def test_a_public_key_file_that_is_not_one_is_a_validation_error(store: Store) -> None:
    assert store("audit", "verify", "--public-key", "nowhere.pub").returncode == (
        ValidationFailedError.exit_code)
    assert store("audit", "verify", LEDGER_SIGNING_PUBLIC_KEY_FILE="var/signing_key.pem"
                 ).returncode == ValidationFailedError.exit_code


def test_a_lost_development_signing_key_is_refused_not_made_again(store: Store) -> None:
    key = store.workdir / "var" / "signing_key.pem"
    key.unlink()

    done = store("audit", "seal")

    assert done.returncode == KeyMaterialError.exit_code, done.stderr
    assert "signing_key.pem is missing" in done.stderr
    assert not key.exists()  # no new key, so no earlier checkpoint reads as forged
