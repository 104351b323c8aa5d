"""Every error over HTTP has one shape, ``{"error": {"code", "message", "details"}}``: a bad
combination of parameters, a body that is no JSON, an unknown route, a wrong method, and
an unexpected failure, which says nothing about the server's internals. Each writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.bootstrap import Ledger
from service.http import create_app
from tests.accounts import PASSWORD, open_account

pytestmark = pytest.mark.e2e

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
LATER, EARLIER = "2026-11-27T10:00:00+08:00", "2026-11-26T10:00:00+08:00"


@pytest.fixture
def api(ledger: Ledger) -> Iterator[TestClient]:
    """The app in process on each backend, logged in as an auditor who is also a specialist."""
    open_account(ledger, "wu.hao", "auditor", "info_specialist", department="audit")
    ledger.runner.catch_up()
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        token = http.post("/auth/login", json={"username": "wu.hao", "password": PASSWORD}
                          ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def error_of(answer: Any) -> dict[str, Any]:
    """The error of an answer, checked to have exactly the documented keys."""
    body = answer.json()
    assert list(body) == ["error"], body
    assert set(body["error"]) == {"code", "message", "details"}, body
    error: dict[str, Any] = body["error"]
    return error


def fields_of(error: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in error["details"]["problems"]]


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/search/customers", {}, "query"),
    ("/search/customers", {"phone": "+8613912345678", "email": "a@example.com"}, "query"),
    ("/audit/trail", {"since": LATER, "until": EARLIER}, "query"),
    ("/audit/anomalies", {"since": LATER, "until": EARLIER}, "query"),
    ("/audit/trail", {"since": "1700000000"}, "query.since"),
    ("/audit/anomalies", {"since": "0", "until": EARLIER}, "query.since"),
    (f"/customers/{UNKNOWN_ID}/as-of", {"at": "253402300799"}, "query.at"),
    ("/audit/trail", {"since": "0001-01-01T00:00:00+01:00"}, "query.since"),
    ("/audit/anomalies", {"since": EARLIER, "until": "9999-12-31T23:59:59-14:00"},
     "query.until"),
    ("/accounts/" + "u" * 101, {}, "path.username"),
    # A made-up name could be anything: it is reported at its parent, never echoed.
    ("/customers", {"name_prefix": "Ming", "name_prefx": "Ming"}, "query"),
    # A misspelt role would list no one, as if nobody held it.
    ("/accounts", {"role": "sales_rep"}, "query.role"),
    # Neither would text that is no phone number find anyone: stored numbers are E.164.
    ("/search/customers", {"phone": "notaphone"}, "query.phone"),
    ("/search/customers", {"phone": "(+1)"}, "query.phone"),
], ids=["no-criterion", "two-criteria", "trail-since-after-until",
        "anomalies-since-after-until", "trail-number-as-time", "anomalies-number-as-time",
        "as-of-number-as-time", "trail-before-year-1-in-utc", "anomalies-after-9999-in-utc",
        "username-of-101-characters", "a-parameter-the-query-does-not-have",
        "an-unknown-role", "a-phone-of-letters", "a-phone-without-digits-enough"])
def test_parameters_that_break_a_rule_are_a_422_naming_the_parameter_and_write_nothing(
        api: TestClient, ledger: Ledger, path: str, params: dict[str, str], field: str) -> None:
    head = ledger.store.head_position()

    answer = api.get(path, params=params)

    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert error["code"] == "validation_failed"
    assert fields_of(error) == [field]
    assert ledger.store.head_position() == head


@pytest.mark.parametrize("phone", ["+86 138-0013-8000", "+8613800138000", "13800138000",
                                   # full-width, as an IME types them
                                   "\uff0b\uff18\uff16 \uff11\uff13\uff18\uff10\uff10"])
def test_a_phone_number_as_people_type_it_is_searched(api: TestClient, phone: str) -> None:
    answer = api.get("/search/customers", params={"phone": phone})

    assert answer.status_code == 200, answer.text


def test_an_iso_moment_is_still_accepted_where_a_number_is_refused(api: TestClient) -> None:
    answer = api.get("/audit/anomalies", params={"since": EARLIER, "until": LATER})

    assert answer.status_code == 200, answer.text
    assert answer.json()["since"] == "2026-11-26T10:00:00+08:00"


@pytest.mark.parametrize(("body", "message"), [
    (b'{"profile": {"basic": ', "not valid JSON"),
    (b'{"profile": {"basic": {"name": "\xff\xfe Trading"}}}', "JSON encoded in UTF-8"),
    (b'{"profile": ' + b"[" * 1000 + b"]" * 1000 + b"}", "nested deeper than 32 levels"),
    (b'{"profile": ' + b'{"a": ' * 400 + b"1" + b"}" * 400 + b"}", "nested deeper than 32"),
], ids=["malformed", "not-utf-8", "1000-arrays-deep", "400-objects-deep"])
def test_a_body_that_cannot_be_read_as_json_is_a_422_and_writes_nothing(
        api: TestClient, ledger: Ledger, body: bytes, message: str) -> None:
    head = ledger.store.head_position()

    answer = api.post("/commands/register-customer", content=body,
                      headers={"Content-Type": "application/json"})

    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert error["code"] == "validation_failed"
    assert fields_of(error) == ["body"]
    assert message in error["details"]["problems"][0]["message"]
    assert ledger.store.head_position() == head


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded",
                                          "text/plain"], ids=["none", "curl-d", "text"])
def test_a_json_body_sent_without_its_media_type_is_a_422_naming_the_header(
        api: TestClient, ledger: Ledger, content_type: str | None) -> None:
    # curl -d sends a form's media type: the body would reach the route as bytes.
    head = ledger.store.head_position()
    body = b'{"customer_id": "' + UNKNOWN_ID.encode() + b'", "proposal_id": "p"}'

    answer = api.post("/commands/verify-change", content=body,
                      headers={"Content-Type": content_type} if content_type else {})

    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert fields_of(error) == ["body"]
    assert "Content-Type: application/json" in error["details"]["problems"][0]["message"]
    assert ledger.store.head_position() == head


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "application/merge-patch+json"])
def test_a_json_media_type_with_parameters_or_a_json_suffix_is_read(
        api: TestClient, content_type: str) -> None:
    body = b'{"customer_id": "' + UNKNOWN_ID.encode() + b'", "proposal_id": "p"}'

    answer = api.post("/commands/verify-change", content=body,
                      headers={"Content-Type": content_type})

    assert answer.status_code == 404, answer.text  # read, and refused for its unknown customer


def test_brackets_inside_strings_do_not_count_as_nesting(api: TestClient) -> None:
    username = "[" * 50 + "{" * 50

    answer = api.post("/auth/login", json={"username": username, "password": "x"})

    assert answer.status_code == 401, answer.text
    assert error_of(answer)["code"] == "unauthenticated"


def test_an_unknown_route_is_a_404_in_the_error_shape(api: TestClient) -> None:
    answer = api.get("/no/such/route")

    assert answer.status_code == 404
    assert error_of(answer) == {"code": "not_found", "message": "no such route", "details": {}}


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(api: TestClient) -> None:
    answer = api.delete("/healthz")

    assert answer.status_code == 405
    assert error_of(answer)["code"] == "method_not_allowed"
    assert answer.headers["Allow"] == "GET"


def test_an_unexpected_failure_is_a_500_that_says_nothing_about_internals(
        ledger: Ledger) -> None:
    app = create_app(ledger)

    def broken() -> None:
        raise KeyError("/srv/ledger/secret.py: customer +8613912345678")

    app.add_api_route("/broken", broken)
    with TestClient(app) as http:
        answer = http.get("/broken")

    assert answer.status_code == 500
    error = error_of(answer)
    assert error["code"] == "internal_error"
    for internal in ("KeyError", "secret", "8613912345678", "Traceback", "broken"):
        assert internal not in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
