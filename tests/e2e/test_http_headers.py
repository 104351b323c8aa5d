"""Response headers (issue 10, item 12): data is never cached and never framed, nothing may
load into an API answer, and /docs works offline, from the package's own Swagger UI files."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from swagger_ui_bundle import swagger_ui_path

from service.bootstrap import Ledger
from service.http import create_app

pytestmark = pytest.mark.e2e


@pytest.fixture
def http(sqlite_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_ledger), client=("127.0.0.1", 50000)) as client:
        yield client


def policy_of(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in
            (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/healthz", "/customers?name_prefix=a", "/no/such/route",
                                  "/openapi.json"])
def test_every_data_response_is_uncacheable_unframeable_and_loads_nothing(
        http: TestClient, path: str) -> None:
    answer = http.get(path)

    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    policy = policy_of(answer.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_docs_load_only_their_own_assets_and_the_policy_allows_exactly_those(
        http: TestClient) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    policy = policy_of(page.headers["Content-Security-Policy"])

    assert links and all(link.startswith("/docs/assets/") for link in links), links
    assert "http" not in " ".join(links) and "url: '/openapi.json'" in page.text
    for link in links:
        asset = http.get(link)
        assert asset.status_code == 200, link
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        assert "Cache-Control" not in asset.headers  # the package's files may be cached
        assert asset.content == (swagger_ui_path / link.rsplit("/", 1)[1]).read_bytes()
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_redoc_is_not_served_since_it_would_need_a_cdn(http: TestClient) -> None:
    assert http.get("/redoc").status_code == 404
