"""Where the KEK and the blind-index key come from: settings, key files, or (in development
only) files created under the data directory with a warning."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr

from ledger.crypto import KeyMaterialError, create_key_file, decode_key, read_key_file
from ledger.domain.messages import message
from ledger.settings import Settings, sqlite_path_of, variable_of

log = structlog.get_logger("ledger.keys")


def _load(settings: Settings, purpose: str, inline: SecretStr | None, file: Path | None,
          default_name: str) -> bytes:
    variable = variable_of(default_name)
    if inline is not None:
        return decode_key(inline.get_secret_value(), purpose, variable)
    if file is not None:
        return read_key_file(file, purpose, f"{variable}_FILE")
    if settings.environment == "production":
        raise KeyMaterialError(
            message("production needs a configured {purpose}: set {variable} or "
                    "{variable}_FILE (kept outside the database)", purpose=purpose,
                    variable=f"LEDGER_{default_name.upper()}"))
    path = settings.data_dir / f"{default_name}.key"
    if path.exists():
        return read_key_file(path, purpose)
    if default_name in ("kek", "index_key") and _key_store_in_use(settings):
        # A new key could never open this store: making one would only leave a useless file
        # behind the refusal that follows (a command run from another directory, say).
        raise KeyMaterialError(message(
            "no {purpose} file at {path}, but the key store this ledger uses was made with "
            "one: run where its data directory is, or set LEDGER_DATA_DIR or {setting}",
            purpose=purpose, path=str(path), setting=f"LEDGER_{default_name.upper()}_FILE"))
    key = create_key_file(path)
    # Logged once the file exists: a start that could not make it has nothing to report.
    log.warning("development_key_created", purpose=purpose, path=str(path),
                advice="for development only; configure a managed key in production")
    return key


def load_kek(settings: Settings) -> bytes:
    """The key-encryption key that wraps every customer's data key."""
    return _load(settings, "KEK", settings.kek, settings.kek_file, "kek")


def load_index_key(settings: Settings) -> bytes:
    """The key of the blind indexes (separate from the KEK)."""
    return _load(settings, "blind-index key", settings.index_key, settings.index_key_file,
                 "index_key")


def check_keystore_location(settings: Settings) -> None:
    """In production, data keys must not live in the database that data backups copy."""
    if settings.environment == "production" and (
            settings.effective_keystore_url == settings.database_url):
        raise KeyMaterialError("production needs LEDGER_KEYSTORE_URL pointing to a database "
                               "other than the event store's, so data backups hold no keys")


def load_backup_key(settings: Settings) -> bytes:
    """The key that wraps every backup's data key (outside the database, beside the KEK):
    without it no backup is written, never a plaintext one."""
    return _load(settings, "backup key", settings.backup_key, settings.backup_key_file,
                 "backup_key")


def _key_store_in_use(settings: Settings) -> bool:
    """Whether the (SQLite) key store already records the KEK it was made with. A
    PostgreSQL key store is not looked at here: it is reached only once the keys are
    loaded, and a wrong key is refused there before anything is written to it."""
    url = settings.effective_keystore_url
    if urlsplit(url).scheme != "sqlite":
        return False
    path = sqlite_path_of(url)
    if not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT 1 FROM keystore_meta WHERE name = 'kek_id'").fetchone()
    except sqlite3.Error:
        return False  # not a key store yet (or not readable): opening it will say so
    return row is not None
