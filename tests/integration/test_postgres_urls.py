"""A PostgreSQL URL whose password holds characters a connection string must quote (a space,
a quote, a backslash) opens the ledger, and its read-only verifier, like any other: the
password reaches libpq intact and is never cut into a parse error that quotes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.integrity.readonly import open_read_only
from ledger.settings import Settings
from service.bootstrap import bootstrap

# The server trusts local connections, so any password is accepted: what is tested is that
# the URL's password is passed on whole.
AWKWARD_PASSWORD = "a%20b%27c%5Cd"  # "a b'c\d", percent-encoded as a URL needs it


@pytest.mark.postgres
def test_a_password_with_a_space_quote_and_backslash_opens_the_ledger(
        postgres_url: str, tmp_path: Path) -> None:
    url = postgres_url.replace("postgres@", f"postgres:{AWKWARD_PASSWORD}@", 1)
    settings = Settings(database_url=url, data_dir=tmp_path / "var",
                        keystore_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}")

    with bootstrap(settings, start_projections=False) as ledger:
        assert ledger.store.head_position() == 0
    verifier = open_read_only(settings)
    try:
        with verifier.snapshot() as cursor:
            assert cursor.one("SELECT 1") == (1,)
    finally:
        verifier.close()
