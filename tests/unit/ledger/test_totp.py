"""TOTP codes (LG-4, RFC 6238) on a fixed clock."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ledger import totp

SECRET = bytes(range(20))
NOW = 1_800_000_000.0


def test_a_code_matches_its_own_step_and_one_either_side() -> None:
    code = totp.code_at(SECRET, NOW)
    step = int(NOW) // totp.STEP_SECONDS
    assert totp.matching_step(SECRET, code, NOW) == step
    assert totp.matching_step(SECRET, code, NOW + totp.STEP_SECONDS) == step
    assert totp.matching_step(SECRET, code, NOW - totp.STEP_SECONDS) == step
    assert totp.matching_step(SECRET, code, NOW + 3 * totp.STEP_SECONDS) is None


def test_a_malformed_or_wrong_code_matches_nothing() -> None:
    code = totp.code_at(SECRET, NOW)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for bad in (wrong, "12345", "abcdef", ""):
        assert totp.matching_step(SECRET, bad, NOW) is None


def test_the_provisioning_uri_carries_the_secret_and_issuer() -> None:
    uri = urlsplit(totp.provisioning_uri(SECRET, "li.na", "Customer ledger"))
    params = parse_qs(uri.query)
    assert uri.scheme == "otpauth" and "li.na" in uri.path
    assert params["secret"] == [totp.secret_text(SECRET)]
    assert params["issuer"] == ["Customer ledger"]
