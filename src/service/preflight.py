"""What a start checks before it creates anything (issue 10, items 18 and 19).

A refused start must leave nothing behind: no key file, no data directory, no table. So
``bootstrap()`` asks two questions first, and only then loads or creates keys and opens
databases: in production, is every setting production insists on configured (all of them
are reported in one refusal, not one per attempt); and does every PostgreSQL database the
settings name answer within ``LEDGER_CONNECT_TIMEOUT`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.connect import check_postgres_answers
from ledger.domain.errors import LedgerError, Problem, ValidationFailedError
from ledger.integrity.keys import SigningKeySource
from ledger.settings import Settings
from service.key_material import check_keystore_location, load_index_key, load_kek


def check_before_start(settings: Settings) -> None:
    check_production_settings(settings)
    check_databases_answer(settings)


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
            problems, "production cannot start until these are set right: "
                      + ", ".join(problem.field for problem in problems))


def check_databases_answer(settings: Settings) -> None:
    """Connect once to each PostgreSQL database (event store, read models, key store)."""
    urls = dict.fromkeys((settings.database_url, settings.effective_keystore_url))
    for url in urls:
        if not url.startswith("sqlite"):
            check_postgres_answers(url, settings.connect_timeout)
