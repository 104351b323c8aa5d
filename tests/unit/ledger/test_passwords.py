"""Password rules (LG-2) and argon2id hashing."""

from __future__ import annotations

import pytest

from ledger.passwords import Passwords, common_passwords, generate_password, password_problems
from ledger.policy import load_policy
from tests.conftest import FAST_HASHING_POLICY

POLICY = load_policy(FAST_HASHING_POLICY).passwords


@pytest.mark.parametrize(("password", "broken"), [
    ("Short#1a", "at least 12"),
    ("no-digits-here!!", "a digit"),
    ("1234567890#!", "a letter"),
    ("NoSpecials12345", "special character"),
    ("Password123!", "too common"),
    ("!!Qwerty123456", "too common"),
    ("my-li.na-Secret#9", "username"),
])
def test_a_weak_password_is_refused_naming_the_rule(password: str, broken: str) -> None:
    messages = [p.message for p in password_problems(password, "li.na", POLICY)]
    assert any(broken in message for message in messages), messages
    assert all(password not in message for message in messages)


def test_a_strong_password_passes() -> None:
    assert password_problems("Quiet-Harbour#5512", "li.na", POLICY) == []


def test_the_bundled_list_holds_thousands_of_common_passwords() -> None:
    assert len(common_passwords()) > 5000
    assert {"123456", "password", "woaini1314", "qwerty123"} <= common_passwords()


def test_generated_one_time_passwords_meet_the_policy_and_differ() -> None:
    generated = {generate_password(POLICY) for _ in range(20)}
    assert len(generated) == 20
    assert all(password_problems(p, "admin", POLICY) == [] for p in generated)


def test_only_an_argon2id_hash_is_kept_and_it_verifies() -> None:
    passwords = Passwords(POLICY)
    stored = passwords.hash("Quiet-Harbour#5512")
    assert stored.startswith("$argon2id$") and "Quiet" not in stored
    assert passwords.hash("Quiet-Harbour#5512") != stored  # salted
    assert passwords.verify(stored, "Quiet-Harbour#5512")
    assert not passwords.verify(stored, "Quiet-Harbour#5513")
    assert not passwords.verify("not a hash", "Quiet-Harbour#5512")
    assert not passwords.verify(None, "anything")  # the dummy hash never matches
