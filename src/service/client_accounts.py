"""The account methods of ``LedgerClient`` (LG-1, LG-3, AC-2..AC-4, IR-1), plain types in
and out. Passwords are sent to the ledger and never returned by it."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.account_queries import AccessReview, GetAccount, ListAccounts
from projections.queries import Query


class AccountMethods:
    """Account administration, self-service and the access review."""

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def create_account(self, username: str, *, employee_id: str, department: str,
                       initial_password: str, roles: list[str] | None = None,
                       command_id: str | None = None, reason: str | None = None
                       ) -> dict[str, Any]:
        """Open an account; its owner must change ``initial_password`` at first login.
        ``roles`` are granted in the same command: all of them, or no account at all."""
        return self._command("create-account", username=username, employee_id=employee_id,
                             department=department, initial_password=initial_password,
                             roles=roles or [], command_id=command_id, reason=reason)

    def change_password(self, username: str, current_password: str, new_password: str, *,
                        command_id: str | None = None) -> dict[str, Any]:
        """Change your own password."""
        return self._command("change-password", username=username,
                             current_password=current_password, new_password=new_password,
                             command_id=command_id)

    def reset_password(self, username: str, one_time_password: str, *,
                       command_id: str | None = None, reason: str | None = None
                       ) -> dict[str, Any]:
        """Give an account a new one-time password (administrators)."""
        return self._command("reset-password", username=username,
                             one_time_password=one_time_password, command_id=command_id,
                             reason=reason)

    def lock_account(self, username: str, *, reason: str | None = None) -> dict[str, Any]:
        """Lock an account at once."""
        return self._command("lock-account", username=username, reason=reason)

    def unlock_account(self, username: str, *, reason: str | None = None) -> dict[str, Any]:
        """Unlock an account and clear its failed logins."""
        return self._command("unlock-account", username=username, reason=reason)

    def report_compromise(self, username: str, *, reason: str | None = None
                          ) -> dict[str, Any]:
        """Report an account as compromised: it is locked at once."""
        return self._command("report-compromise", username=username, reason=reason)

    def disable_account(self, username: str, *, reason: str | None = None) -> dict[str, Any]:
        """Disable an account for good."""
        return self._command("disable-account", username=username, reason=reason)

    def grant_role(self, username: str, role: str, *, reason: str | None = None
                   ) -> dict[str, Any]:
        """Grant a role; the result says whether it awaits a second person's approval."""
        return self._command("grant-role", username=username, role=role, reason=reason)

    def approve_grant(self, username: str, role: str, *, reason: str | None = None
                      ) -> dict[str, Any]:
        """Approve someone else's grant of a high-privilege role."""
        return self._command("approve-grant", username=username, role=role, reason=reason)

    def revoke_role(self, username: str, role: str, *, reason: str | None = None
                    ) -> dict[str, Any]:
        """Revoke one role of an account."""
        return self._command("revoke-role", username=username, role=role, reason=reason)

    def revoke_all_roles(self, username: str, *, reason: str | None = None) -> dict[str, Any]:
        """Revoke every role of an account (a change of job)."""
        return self._command("revoke-all-roles", username=username, reason=reason)

    def lock_role(self, role: str, *, reason: str | None = None) -> dict[str, Any]:
        """Lock every account holding ``role`` (incident response)."""
        return self._command("lock-role", role=role, reason=reason)

    def reset_second_factor(self, username: str, *, reason: str | None = None
                            ) -> dict[str, Any]:
        """Remove another account's lost second factor (administrators); a high-privilege
        account's reset waits for ``approve_second_factor_reset`` by a second one."""
        return self._command("reset-second-factor", username=username, reason=reason)

    def approve_second_factor_reset(self, username: str, *, reason: str | None = None
                                    ) -> dict[str, Any]:
        """As a second administrator, approve a waiting reset of a second factor."""
        return self._command("approve-second-factor-reset", username=username, reason=reason)

    def list_accounts(self, role: str | None = None, *, min_position: int | None = None
                      ) -> dict[str, Any]:
        """Every account with its state and active roles."""
        return self._query(ListAccounts, role=role, min_position=min_position)

    def get_account(self, username: str, *, min_position: int | None = None
                    ) -> dict[str, Any]:
        """One account and its grants."""
        return self._query(GetAccount, username=username, min_position=min_position)

    def access_review(self, *, as_of: date | str | None = None,
                      min_position: int | None = None) -> dict[str, Any]:
        """Every account's roles, grant dates, last use, and grants unused too long."""
        return self._query(AccessReview, as_of=as_of, min_position=min_position)
