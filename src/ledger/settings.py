"""Typed service settings from the environment (prefix ``LEDGER_``); they fail fast."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.domain.messages import N_, message

DEFAULT_DATABASE_URL = "sqlite:///var/ledger.sqlite3"
ENVIRONMENT_PREFIX = "LEDGER_"


def variable_of(field: str) -> str:
    """The environment variable that sets ``field``: what an error about it names."""
    return f"{ENVIRONMENT_PREFIX}{field.upper()}"


class Settings(BaseSettings):
    """Where the store lives, how the service listens, and which policy file is in force."""

    # No ``.env`` file is read: the settings are the process's environment, nothing else.
    # NaN and infinity are no number of seconds: refused, not compared (NaN passes no bound
    # and would read as "out of range").
    model_config = SettingsConfigDict(env_prefix=ENVIRONMENT_PREFIX, extra="ignore",
                                      frozen=True, allow_inf_nan=False)

    database_url: str = DEFAULT_DATABASE_URL
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    policy_file: Path | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    run_projections: bool = True
    # False: this process runs no background work at all (read models, sealer, erasure and
    # training followers) and its reads wait for ``ledger worker`` processes to do it
    # (``ledger serve --no-background``; PostgreSQL only).
    run_background: bool = True
    projection_poll_interval: float = Field(default=0.05, gt=0, le=10)
    read_wait_timeout: float = Field(default=5.0, ge=0, le=300)
    postgres_pool_size: int = Field(default=8, ge=1, le=200)
    # Whole seconds (libpq's unit): an unreachable or missing database is reported this
    # soon at start-up, not after the connection pool's 30 s wait.
    connect_timeout: int = Field(default=5, ge=1, le=300)
    # Keys live outside the database (ST-3, DP-2). In development, missing key files are
    # created under ``data_dir`` with a warning; in production they must be configured.
    data_dir: Path = Path("var")
    kek_file: Path | None = None
    kek: SecretStr | None = None
    index_key_file: Path | None = None
    index_key: SecretStr | None = None
    keystore_url: str | None = None
    # The Ed25519 key that signs integrity checkpoints (ledger.integrity), kept outside the
    # database like the keys above: required in production, created on first use otherwise.
    signing_key_file: Path | None = None
    # The public half verify trusts, for machines without the private key (an auditor's):
    # checkpoints are judged against it, never against a key read from the database.
    signing_public_key_file: Path | None = None
    # Whole seconds (the library's unit) a SQLite write waits for another process's write
    # lock before the request is answered ``unavailable`` (a backup tool or a second CLI
    # may hold it).
    sqlite_busy_timeout: int = Field(default=10, ge=1, le=600)
    # Seconds the service retries what is safe to repeat (the append, a read, a session
    # check) after a lost connection, before it answers ``unavailable``.
    database_retry_seconds: float = Field(default=2.0, ge=0, le=60)
    # The client's retries of ``unavailable`` and of a service that does not answer (the
    # command line's, and LedgerClient's defaults): the first pause, the longest pause
    # (each doubles the one before), and the deadline for them all.
    client_retry_first_delay: float = Field(default=0.1, gt=0, le=60)
    client_retry_longest_delay: float = Field(default=2.0, gt=0, le=300)
    client_retry_deadline: float = Field(default=30.0, ge=0, le=3600)
    # FT-2: where alerts go (Alertmanager's webhook payload, version 4), comma-separated.
    alert_webhook_urls: str | None = None
    # Evaluate the alert rules in this process (default: where the projections run).
    run_alerts: bool | None = None
    # The link each alert carries back to the service (its generatorURL).
    external_url: str | None = None
    # FT-1: a file holding the bearer token a scraper (Prometheus) sends for GET /metrics,
    # besides any session whose roles allow the "metrics" operation.
    metrics_token_file: Path | None = None
    # Backups (ledger.backup): the event-log backups' directory, the key-store backups'
    # own directory (default: beside it, "<backup_dir>-keys"), the backup key that wraps
    # each backup's data key, kept outside the database like the KEK (development default
    # under data_dir), and the key ring of the key-store backups (default beside the KEK).
    backup_dir: Path | None = None
    backup_keys_dir: Path | None = None
    backup_key_file: Path | None = None
    backup_key: SecretStr | None = None
    backup_key_ring_file: Path | None = None
    # Server processes ``ledger serve`` runs on its one port (uvicorn's process model); more
    # than one only on PostgreSQL, the one place they share.
    workers: int = Field(default=1, ge=1, le=64)

    @field_validator("*", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        # An empty variable is a mistake, not "the default" (LEDGER_DATA_DIR= would put
        # the key files in the working directory); spaces around a path or URL are too.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str):
            if not text.strip():
                raise ValueError(N_("is empty (leave it unset for the default)"))
            if text != text.strip():
                raise ValueError(N_("begins or ends with white space"))
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:/// or postgresql://")
        try:
            parts.port  # noqa: B018 - parsing it is the check
        except ValueError:
            # Said without the URL: what urllib took for the port may be part of a password.
            raise ValueError("the port is not a number (in a password, write # / ? @ : "
                             "percent-encoded)") from None
        if parts.scheme == "sqlite" and not sqlite_path_of(value).name:
            raise ValueError("sqlite URL must name a file, e.g. sqlite:///var/ledger.sqlite3")
        return value

    @field_validator("external_url")
    @classmethod
    def _http_address(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_address(value):
            raise ValueError(N_("is not an http:// or https:// URL with a host"))
        return value

    @field_validator("alert_webhook_urls")
    @classmethod
    def _http_addresses(cls, value: str | None) -> str | None:
        # Said without the address: a webhook's URL may carry its token.
        for number, url in enumerate((part.strip() for part in (value or "").split(",")), 1):
            if url and not _is_http_address(url):
                raise ValueError(message(
                    "address {number} is not an http:// or https:// URL with a host",
                    number=number))
        return value

    @field_validator("keystore_url")
    @classmethod
    def _supported_keystore_url(cls, value: str | None) -> str | None:
        return None if value is None else cls._supported_url(value)

    @model_validator(mode="after")
    def _no_conflict(self) -> Settings:
        # Which one wins would be a guess: a KEK given both ways may be two different keys.
        for name in ("kek", "index_key", "backup_key"):
            if getattr(self, name) is not None and getattr(self, f"{name}_file") is not None:
                raise ValueError(message("{variable} and {variable}_FILE are both set: set "
                                         "only one", variable=variable_of(name)))
        if self.client_retry_first_delay > self.client_retry_longest_delay:
            raise ValueError(N_("LEDGER_CLIENT_RETRY_FIRST_DELAY is longer than "
                                "LEDGER_CLIENT_RETRY_LONGEST_DELAY"))
        return self

    @property
    def webhook_urls(self) -> list[str]:
        return [url for url in (part.strip() for part in (self.alert_webhook_urls or "").split(","))
                if url]

    @property
    def backend(self) -> Literal["sqlite", "postgres"]:
        return "sqlite" if urlsplit(self.database_url).scheme == "sqlite" else "postgres"

    @property
    def effective_keystore_url(self) -> str:
        """Where data keys live: configured, else a file beside a SQLite store, else (on
        PostgreSQL, development only) the same database."""
        if self.keystore_url:
            return self.keystore_url
        if self.backend == "sqlite":
            store = sqlite_path_of(self.database_url)
            return f"sqlite:///{store.with_name(store.stem + '.keys' + store.suffix)}"
        return self.database_url


def _is_http_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def sqlite_path_of(url: str) -> Path:
    """``sqlite:///relative/path`` and ``sqlite:////absolute/path``, as in SQLAlchemy."""
    return Path(unquote(url[len("sqlite:///"):]))


def postgres_params_of(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
    }
