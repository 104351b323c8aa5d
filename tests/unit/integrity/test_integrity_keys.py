"""The checkpoint signing key: a file outside the database, created only in development."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from ledger.crypto import KeyMaterialError
from ledger.domain.errors import ValidationFailedError
from ledger.integrity.keys import (
    DEFAULT_KEY_FILE_NAME,
    SigningKeySource,
    create_key_file,
    read_key_file,
    signature_valid,
)
from ledger.settings import Settings


def test_a_created_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    created = create_key_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).public_key == created.public_key
    assert signature_valid(created.public_key, created.sign(b"x"), b"x")
    assert not signature_valid(created.public_key, created.sign(b"x"), b"y")


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    first = create_key_file(path)
    with pytest.raises(ValidationFailedError, match="refusing to overwrite"):
        create_key_file(path)
    assert read_key_file(path).public_key == first.public_key


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match="not an Ed25519 key"):
        read_key_file(path)


def test_a_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_text("hello")
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match="not an unencrypted PEM private key"):
        read_key_file(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_key_file_other_users_may_read_or_change_is_refused_saying_how_to_fix_it(
        tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing.pem"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyMaterialError, match=f"open to other users \\(mode 0{mode:o}\\)"
                       f".*chmod 600 {path}"):
        read_key_file(path)


def test_a_device_named_as_the_key_file_is_refused_not_read_for_ever() -> None:
    with pytest.raises(KeyMaterialError, match="is not a regular file"):
        read_key_file(Path("/dev/zero"))


def test_production_refuses_to_start_without_a_configured_key(tmp_path: Path) -> None:
    chosen = Settings(environment="production", data_dir=tmp_path)
    with pytest.raises(ValidationFailedError, match="LEDGER_SIGNING_KEY_FILE") as refused:
        SigningKeySource.from_settings(chosen)
    assert refused.value.fields == ["signing_key_file"]
    assert list(tmp_path.iterdir()) == []


def test_production_refuses_a_configured_key_file_that_does_not_exist(tmp_path: Path) -> None:
    chosen = Settings(environment="production", signing_key_file=tmp_path / "missing.pem")
    with pytest.raises(KeyMaterialError, match="does not exist"):
        SigningKeySource.from_settings(chosen)
    assert not (tmp_path / "missing.pem").exists()


def test_production_loads_its_key_before_anything_starts(tmp_path: Path) -> None:
    created = create_key_file(tmp_path / "signing.pem")
    source = SigningKeySource.from_settings(Settings(environment="production",
                                                     signing_key_file=tmp_path / "signing.pem"))
    assert source.public_key_if_present() == created.public_key


def test_development_creates_its_key_under_the_data_dir_on_first_use_only(
        tmp_path: Path) -> None:
    source = SigningKeySource.from_settings(Settings(data_dir=tmp_path))
    assert source.public_key_if_present() is None
    assert not (tmp_path / DEFAULT_KEY_FILE_NAME).exists()

    key = source.key()

    assert (tmp_path / DEFAULT_KEY_FILE_NAME).exists()
    assert SigningKeySource.from_settings(Settings(data_dir=tmp_path)).key().public_key == (
        key.public_key)
