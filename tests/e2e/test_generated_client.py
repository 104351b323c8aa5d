"""A client generated from the service's own ``/openapi.json`` can be trusted (issue 18,
item 7): ``openapi-python-client`` builds it from the document the real server serves, and
the scenarios below run through the generated code alone. Every answer, success or error,
parses into its typed model; an undeclared status would raise (``raise_on_unexpected_status``)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PASSWORD, RunningServer
from tests.factories import make_profile

pytestmark = pytest.mark.e2e

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
PACKAGE = "generated_ledger_client"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class Generated:
    """The generated package: its clients, its models and each operation's module."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models: Any = importlib.import_module(f"{PACKAGE}.models")

    def operation(self, tag: str, name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{name.replace('-', '_')}")

    def client(self, server: RunningServer, token: str | None = None) -> Any:
        if token is None:
            return self.package.Client(base_url=server.base_url, timeout=30.0,
                                       raise_on_unexpected_status=True)
        return self.package.AuthenticatedClient(base_url=server.base_url, token=token,
                                                timeout=30.0, raise_on_unexpected_status=True)


@pytest.fixture(scope="module")
def generated(server: RunningServer, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Generated]:
    where = tmp_path_factory.mktemp("generated")
    document = where / "openapi.json"
    document.write_bytes(httpx.get(f"{server.base_url}/openapi.json", timeout=30).content)
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")  # no formatter: offline, fast
    done = subprocess.run(
        [GENERATOR, "generate", "--path", str(document), "--config", str(config),
         "--meta", "none", "--output-path", str(where / PACKAGE)],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    # A warning means a part of the document the generator could not use: dropped code.
    assert done.returncode == 0 and "Warning" not in done.stdout, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield Generated(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(str(where))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def logged_in(generated: Generated, server: RunningServer, username: str) -> Any:
    login = generated.operation("authentication", "login")
    session = login.sync(client=generated.client(server), body=generated.models.LoginRequest(
        username=username, password=PASSWORD))
    assert isinstance(session, generated.models.Session), session
    assert session.token_type.lower() == "bearer" and not session.password_change_required
    return generated.client(server, session.token)


def error_of(generated: Generated, response: Any, status: int) -> Any:
    """The typed error of a detailed response, after checking its status."""
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, generated.models.ErrorAnswer), response.parsed
    return response.parsed.error


def test_a_registered_customer_is_read_changed_and_verified_through_the_generated_client(
        generated: Generated, server: RunningServer) -> None:
    models = generated.models
    sales, specialist = (logged_in(generated, server, "li.na"),
                         logged_in(generated, server, "wang.fang"))
    profile = make_profile(basic__name=f"Generated {uuid.uuid4().hex[:8]} 贸易有限公司",
                           basic__email="old@example.com")

    registered = generated.operation("commands", "register-customer").sync(
        client=sales, body=models.RegisterCustomer.from_dict({"profile": profile}))
    assert isinstance(registered, models.Outcome), registered
    assert (registered.status, registered.version, registered.replayed) == ("accepted", 1,
                                                                           False)
    customer_id = uuid.UUID(registered.aggregate_id)

    read = generated.operation("queries", "get-customer").sync(
        client=sales, customer_id=customer_id, min_position=registered.position)
    assert isinstance(read, models.CustomerAnswer), read
    assert read.reflects_position >= registered.position
    assert isinstance(read.customer.profile.basic, models.BasicInfo)
    assert read.customer.profile.basic.name == profile["basic"]["name"]

    proposed = generated.operation("commands", "propose-change").sync(
        client=sales, body=models.ProposeChange.from_dict({
            "customer_id": str(customer_id), "changes": {"basic.email": "new@example.com"},
            "happened_on": "2024-03-01", "expected_version": 1}))
    assert isinstance(proposed, models.Outcome), proposed
    proposal_id = proposed.result["proposal_id"]

    verified = generated.operation("commands", "verify-change").sync(
        client=specialist, body=models.VerifyChange(customer_id=customer_id,
                                                    proposal_id=proposal_id,
                                                    expected_version=2))
    assert isinstance(verified, models.Outcome), verified
    assert verified.version == 3
    after = generated.operation("queries", "get-customer").sync(
        client=sales, customer_id=customer_id, min_position=verified.position)
    assert after.customer.version == 3
    assert after.customer.profile.basic.email == "new@example.com"


def test_an_invalid_registration_parses_as_validation_failed_with_each_field(
        generated: Generated, server: RunningServer) -> None:
    profile = make_profile(basic__email="not-an-email")

    response = generated.operation("commands", "register-customer").sync_detailed(
        client=logged_in(generated, server, "li.na"),
        body=generated.models.RegisterCustomer.from_dict({"profile": profile}))

    error = error_of(generated, response, 422)
    assert error.code is generated.models.ErrorCode.VALIDATION_FAILED
    assert [(type(p), p.field) for p in error.details.problems] == [
        (generated.models.FieldProblem, "basic.email")]
    assert "not-an-email" not in error.message


def test_a_permission_denial_parses_as_permission_denied(generated: Generated,
                                                         server: RunningServer) -> None:
    # The audit trail is for specialists and auditors, not sales.
    response = generated.operation("queries", "customer-history").sync_detailed(
        client=logged_in(generated, server, "li.na"), customer_id=uuid.UUID(UNKNOWN_ID))

    error = error_of(generated, response, 403)
    assert error.code is generated.models.ErrorCode.PERMISSION_DENIED


def test_an_unknown_customer_parses_as_not_found(generated: Generated,
                                                 server: RunningServer) -> None:
    response = generated.operation("queries", "get-customer").sync_detailed(
        client=logged_in(generated, server, "li.na"), customer_id=uuid.UUID(UNKNOWN_ID))

    error = error_of(generated, response, 404)
    assert error.code is generated.models.ErrorCode.NOT_FOUND


def test_a_token_that_is_not_a_session_parses_as_unauthenticated(
        generated: Generated, server: RunningServer) -> None:
    response = generated.operation("queries", "find-customers").sync_detailed(
        client=generated.client(server, "not-a-session"), name_prefix="上海")

    error = error_of(generated, response, 401)
    assert error.code is generated.models.ErrorCode.UNAUTHENTICATED
