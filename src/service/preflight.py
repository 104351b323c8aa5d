"""What a start checks before it creates anything (issue 10, items 18 and 19).

A refused start must leave nothing behind: no key file, no data directory, no table. So
``bootstrap()`` asks these questions first, and only then loads or creates keys and opens
databases: can every directory and SQLite file the settings name be made there; is every
key value the settings give (or a key file left from an earlier start) well-formed, in
development too; in production, is every setting production insists on configured (all of
them are reported in one refusal, not one per attempt); and does every PostgreSQL database
the settings name answer within ``LEDGER_CONNECT_TIMEOUT`` seconds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from ledger.connect import check_postgres_answers
from ledger.crypto import KeyMaterialError, decode_key, named, read_key_file
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.integrity.keys import DEFAULT_KEY_FILE_NAME, SigningKeySource, read_public_key_file
from ledger.settings import Settings, sqlite_path_of
from service.key_material import check_keystore_location, load_index_key, load_kek


class PathUnusableError(LedgerError):
    """A file or directory the settings or arguments name cannot be made or read: its
    parent is a file, it lies where no file can be (``/proc``), or it may not be written."""

    code = "path_unusable"
    http_status = 500
    # sysexits.h's EX_CANTCREAT: a (user specified) file cannot be created.
    exit_code = 73


def check_before_start(settings: Settings) -> None:
    check_paths_usable(settings)
    check_key_values(settings)
    if settings.metrics_token_file is not None:
        read_metrics_token(settings.metrics_token_file)
    check_production_settings(settings)
    check_databases_answer(settings)


def check_paths_usable(settings: Settings) -> None:
    """The data directory and each SQLite file can be made where the settings put them."""
    places = {"LEDGER_DATA_DIR": (settings.data_dir, True)}
    for setting, url in (("LEDGER_DATABASE_URL", settings.database_url),
                         ("LEDGER_KEYSTORE_URL", settings.effective_keystore_url)):
        if url.startswith("sqlite"):
            places.setdefault(setting, (sqlite_path_of(url), False))
    # The backup directories are made by the first backup; one that is a file is named now.
    for setting, directory in (("LEDGER_BACKUP_DIR", settings.backup_dir),
                               ("LEDGER_BACKUP_KEYS_DIR", settings.backup_keys_dir)):
        if directory is not None and directory.exists():
            places[setting] = (directory, True)
    for setting, (path, is_directory) in places.items():
        reason = _unusable_because(path, is_directory)
        if reason:
            raise PathUnusableError(message("{setting} cannot be used: {path} {reason}",
                                            setting=setting, path=str(path),
                                            reason=as_message(reason)))


SQLITE_HEADER = b"SQLite format 3\x00"


def _sqlite_or_empty(path: Path) -> bool:
    """Whether ``path`` starts as every SQLite database does (an empty file is a new one);
    an unreadable one is left for the open to report."""
    try:
        with path.open("rb") as file:
            start = file.read(len(SQLITE_HEADER))
    except OSError:
        return True
    return not start or start == SQLITE_HEADER


def _unusable_because(path: Path, is_directory: bool) -> str | None:
    if path.exists():
        if path.is_dir() != is_directory:
            return N_("is not a directory") if is_directory else N_("is a directory")
        if not is_directory and not _sqlite_or_empty(path):
            return N_("is not a SQLite database (damaged, or another kind of file)")
        return None
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return message("lies under {path}, which is a file", path=str(existing))
    try:
        # The one sure test that a directory can be made there (permissions, read-only
        # or virtual file systems, root's privileges): make one, and remove it at once.
        Path(tempfile.mkdtemp(prefix=".ledger-probe-", dir=existing)).rmdir()
    except OSError as error:
        return message("cannot be created in {path} ({reason})", path=str(existing),
                       reason=error.strerror or type(error).__name__)
    return None


def check_key_values(settings: Settings) -> None:
    """Every key the settings give, and every key file an earlier start left, is read and
    checked before any missing one is created: a bad KEK must not leave a new index key.
    Production creates no key, and its own check reports every bad key in one refusal."""
    if settings.signing_public_key_file is not None:  # read by verify and the backups
        read_public_key_file(settings.signing_public_key_file, "LEDGER_SIGNING_PUBLIC_KEY_FILE")
    if settings.environment == "production":
        return
    data_dir = settings.data_dir
    for purpose, inline, file, default, variable in (
            ("KEK", settings.kek, settings.kek_file, data_dir / "kek.key", "LEDGER_KEK"),
            ("blind-index key", settings.index_key, settings.index_key_file,
             data_dir / "index_key.key", "LEDGER_INDEX_KEY")):
        if inline is not None:
            decode_key(inline.get_secret_value(), purpose, variable)
        elif file is not None:
            read_key_file(file, purpose, f"{variable}_FILE")
        elif default.exists():
            read_key_file(default, purpose)
    signing = settings.signing_key_file or data_dir / DEFAULT_KEY_FILE_NAME
    if signing.exists():
        try:
            SigningKeySource(signing, create_if_missing=False).key()
        except KeyMaterialError as error:
            raise named(error, "LEDGER_SIGNING_KEY_FILE" if settings.signing_key_file
                        else None) from None


def check_production_settings(settings: Settings) -> None:
    """Every production requirement at once; each check is the loader's own (in production
    the loaders only read, never create), so each reason is worded in one place."""
    if settings.environment != "production":
        return
    checks: dict[str, Callable[[], object]] = {
        "LEDGER_SIGNING_KEY_FILE": lambda: SigningKeySource.from_settings(settings),
        "LEDGER_INDEX_KEY": lambda: load_index_key(settings),
        "LEDGER_KEK": lambda: load_kek(settings),
        "LEDGER_KEYSTORE_URL": lambda: check_keystore_location(settings),
    }
    problems: list[Problem] = []
    for setting, check in checks.items():
        try:
            check()
        except LedgerError as error:
            problems.append(Problem(setting, error.message))
    if problems:
        raise ValidationFailedError(
            problems, message("production cannot start until these are set right: {settings}",
                              settings=tuple(problem.field for problem in problems)))


def check_databases_answer(settings: Settings) -> None:
    """Connect once to each PostgreSQL database (event store, read models, key store)."""
    urls = dict.fromkeys((settings.database_url, settings.effective_keystore_url))
    for url in urls:
        if not url.startswith("sqlite"):
            check_postgres_answers(url, settings.connect_timeout)


METRICS_FILE_SETTING = "LEDGER_METRICS_TOKEN_FILE"
# A bearer token is a line of text; anything this large is not one.
METRICS_TOKEN_LIMIT = 4096


def read_metrics_token(path: Path) -> str:
    """The scraper's bearer token (its file's one line). A start refuses a file that cannot
    serve as one, naming LEDGER_METRICS_TOKEN_FILE, rather than every scrape failing: one
    missing, not a regular file (``/dev/zero`` would be read for ever), unreadable, too
    large, not UTF-8, or empty (no token: every scrape would need a session)."""
    def refused(reason: str) -> ValidationFailedError:
        return ValidationFailedError([Problem(METRICS_FILE_SETTING, reason)], message(
            "{setting}: the metrics token file {path} {reason}", setting=METRICS_FILE_SETTING,
            path=str(path), reason=as_message(reason)))
    try:
        if path.exists() and not path.is_file():
            raise refused(N_("is not a regular file"))
        with path.open("rb") as file:
            raw = file.read(METRICS_TOKEN_LIMIT + 1)
    except FileNotFoundError:
        raise refused(N_("does not exist")) from None
    except OSError as error:
        raise refused(message("cannot be read ({reason})",
                              reason=error.strerror or type(error).__name__)) from None
    if len(raw) > METRICS_TOKEN_LIMIT:
        raise refused(message("is larger than {limit} bytes", limit=METRICS_TOKEN_LIMIT))
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise refused(N_("is not UTF-8 text")) from None
    if not token:
        raise refused(N_("is empty"))
    return token
