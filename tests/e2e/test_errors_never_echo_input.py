"""A refusal never repeats what was sent: values holding a phone number and a Chinese name
are put in every place validation looks at (an id, an e-mail, a phone, a date, a made-up
field, a made-up change path, a query parameter) on the real server, and they appear in
no error body and no line of its log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import PASSWORD, RunningServer
from tests.factories import make_profile

pytestmark = pytest.mark.e2e

SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "明芳伟娜静磊洋勇艳杰"
CUSTOMER = "00000000-0000-4000-8000-000000000000"

phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
names = st.builds(lambda s, g: s + "".join(g), st.sampled_from(SURNAMES),
                  st.lists(st.sampled_from(GIVEN), min_size=1, max_size=2))


@pytest.fixture(scope="module")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        token = client.post("/auth/login", json={"username": "li.na", "password": PASSWORD}
                            ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def refusals(http: httpx.Client, secret: str) -> Iterator[httpx.Response]:
    """One request per validation path, each carrying ``secret`` where it is refused."""
    profile = make_profile(seed=7)

    def with_basic(**values: Any) -> dict[str, Any]:
        return profile | {"basic": profile["basic"] | values}

    for body in (
            {"profile": profile, "customer_id": secret},
            {"profile": with_basic(email=f"{secret}@@example.com")},
            {"profile": with_basic(email=f"{secret}@example")},
            {"profile": with_basic(fax=secret)},
            {"profile": with_basic(**{f"x_{secret}": 1})},
            {"profile": profile | {f"x_{secret}": {}}},
            {"profile": profile, f"x_{secret}": 1}):
        yield http.post("/commands/register-customer", json=body)
    for body in (
            {"customer_id": secret, "changes": {"basic.fax": "+862112345678"},
             "happened_on": "2026-11-20"},
            {"customer_id": CUSTOMER, "changes": {f"basic.secret_{secret}": 1},
             "happened_on": "2026-11-20"},
            {"customer_id": CUSTOMER, "changes": {"basic.fax": "+862112345678"},
             "happened_on": secret}):
        yield http.post("/commands/propose-change", json=body)
    yield http.get(f"/customers/{secret}")
    yield http.get("/reviews/due", params={"limit": secret})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone=phones, name=names)
def test_refused_values_appear_in_no_error_and_no_log_line(
        server: RunningServer, http: httpx.Client, phone: str, name: str) -> None:
    secret = name + phone
    for answer in refusals(http, secret):
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["error"]["code"] in ("validation_failed", "not_found")
        for part in (phone, name):
            assert part not in answer.text, (answer.request.url, answer.text)
    log = server.output()
    assert "command_refused" in log, "the server logs refusals: this test reads them"
    for part in (phone, name):
        assert part not in log


def every_route_refusing(http: httpx.Client, secret: str) -> Iterator[httpx.Response]:
    """Every command of the API document with ``secret`` in each of its fields and in a
    field it does not have; every query with ``secret`` in each of its parameters."""
    document = http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        if "post" in operations and path.startswith("/commands/"):
            body = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
            fields = schemas[body["$ref"].rsplit("/", 1)[1]].get("properties", {})
            yield http.post(path, json={name: secret for name in fields} | {f"x_{secret}": 1})
        if "get" in operations:
            parameters = operations["get"].get("parameters", [])
            where = path
            for parameter in parameters:
                if parameter["in"] == "path":
                    where = where.replace("{" + parameter["name"] + "}", secret)
            yield http.get(where, params={p["name"]: secret for p in parameters
                                          if p["in"] == "query"})


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone=phones, name=names)
def test_no_route_repeats_a_refused_value_in_its_answer_or_the_log(
        server: RunningServer, http: httpx.Client, phone: str, name: str) -> None:
    secret = name + phone
    answers = list(every_route_refusing(http, secret))

    assert len(answers) > 60  # every command and query route was tried
    for answer in answers:
        assert answer.status_code != 500, (answer.request.url, answer.text)
        if answer.status_code >= 400:
            for part in (phone, name):
                assert part not in answer.text, (answer.request.url, answer.text)
    log = server.output()
    for part in (phone, name, quote(name)):  # as typed, or as a URL carries it
        assert part not in log
