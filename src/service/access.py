"""Assembles access control for ``bootstrap()``: credentials, the access log, the policy's
authoriser, the identity service, the second factor's enrolment and the account queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from commands.access_log import AccessLog
from commands.authentication import Identity
from commands.authorisation import PolicyAuthoriser, RoleUsage
from commands.ports import Clock
from commands.second_factor_reset import SecondFactorResets
from commands.totp_enrolment import TotpEnrolment
from ledger.credentials import CredentialStore
from ledger.keystore import KeyStore
from ledger.policy import Policy
from ledger.sealed_secrets import TOTP_CREDENTIAL_KEY, SecretSealer
from ledger.sql import SqlDatabase
from ledger.store import LedgerStore
from projections.account_queries import AccountQueries
from projections.runner import ProjectionRunner


@dataclass
class AccessControl:
    """Everything that decides who is acting and what they may do."""

    credentials: CredentialStore
    access_log: AccessLog
    authoriser: PolicyAuthoriser
    identity: Identity
    totp: TotpEnrolment
    queries: AccountQueries
    second_factor_resets: SecondFactorResets


def build_access_control(store: LedgerStore, views: SqlDatabase, keys: KeyStore,
                         runner: ProjectionRunner, policy: Policy, clock: Clock,
                         wait_timeout: float, on_saved: Callable[[int], None] | None = None
                         ) -> AccessControl:
    """Create the credential tables and wire the pieces; the caller installs the authoriser.
    TOTP secrets are sealed under a credential key from the key store."""
    credentials = CredentialStore(views, SecretSealer(keys.credential_key(TOTP_CREDENTIAL_KEY)))
    credentials.create_tables()
    credentials.seal_bare_totp_secrets()

    def today() -> date:
        return policy.business_date(clock())

    access_log = AccessLog(store, clock, on_saved)
    authoriser = PolicyAuthoriser(policy.access, access_log, RoleUsage(credentials, today))
    identity = Identity(store, credentials, policy, access_log, clock, on_saved)
    queries = AccountQueries(runner, wait_timeout, policy.access.grant_unused_days, today,
                             policy.training)
    return AccessControl(credentials, access_log, authoriser, identity,
                         TotpEnrolment(credentials, policy.login), queries,
                         SecondFactorResets(credentials))
