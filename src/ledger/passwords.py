"""Passwords (LG-2): the strength rules of the policy, and argon2id hashing.

Only the hash is ever stored. Verification runs the hash function on every attempt,
including for usernames that do not exist (against a fixed dummy hash), so a login
takes the same time whether or not the account exists.
"""

from __future__ import annotations

import secrets
import string
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from ledger.policy_access import PasswordPolicy

SPECIALS = "!@#$%^&*()-_=+[]{};:,.?/~"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, case-folded."""
    text = resources.files("ledger").joinpath("data/common_passwords.txt").read_text(
        encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def _is_common(password: str) -> bool:
    folded = password.casefold()
    # "Password123!" is as guessable as "password123" with a symbol added at either end.
    stripped = folded.strip(SPECIALS + string.digits)
    return folded in common_passwords() or folded.rstrip(SPECIALS) in common_passwords() or (
        len(stripped) >= 4 and stripped in common_passwords())


def password_problems(password: str, username: str, policy: PasswordPolicy) -> list[Problem]:
    """Every rule of the policy that ``password`` breaks (never echoing it)."""
    rules = [
        (len(password) < policy.min_length,
         message("must be at least {length} characters", length=policy.min_length)),
        (policy.require_letter and not any(c.isalpha() for c in password),
         N_("must contain a letter")),
        (policy.require_digit and not any(c.isdigit() for c in password),
         N_("must contain a digit")),
        (policy.require_special and all(c.isalnum() for c in password),
         N_("must contain a special character")),
        (policy.reject_common and _is_common(password), N_("is too common")),
        (policy.reject_username and len(username) >= 3
         and username.casefold() in password.casefold(), N_("must not contain the username")),
    ]
    return [Problem("password", text) for broken, text in rules if broken]


def check_password(password: str, username: str, policy: PasswordPolicy,
                   field: str = "new_password") -> None:
    problems = password_problems(password, username, policy)
    if problems:
        raise ValidationFailedError([Problem(field, p.message) for p in problems],
                                    "the password does not meet the password policy")


def generate_password(policy: PasswordPolicy, length: int = 20) -> str:
    """A random one-time password that meets the policy."""
    alphabet = string.ascii_letters + string.digits + SPECIALS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(max(length,
                                                                         policy.min_length)))
        if not password_problems(candidate, "", policy):
            return candidate


class Passwords:
    """Hashes and verifies passwords with argon2id at the policy's cost."""

    def __init__(self, policy: PasswordPolicy) -> None:
        self.policy = policy
        self.hasher = PasswordHasher(time_cost=policy.hash_time_cost,
                                     memory_cost=policy.hash_memory_kib,
                                     parallelism=policy.hash_parallelism, type=Type.ID)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash, the same work is done anyway."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        try:
            return bool(self.hasher.verify(password_hash or self._dummy, password)
                        and password_hash is not None)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=8)
def passwords_for(policy: PasswordPolicy) -> Passwords:
    """One hasher per password policy (the policy is immutable)."""
    return Passwords(policy)
