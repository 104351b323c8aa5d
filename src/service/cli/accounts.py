"""``ledger account ...`` and ``ledger access review``: administration (LG-1, LG-3, AC-2..AC-4,
IR-1), acting as the local administrator on the local database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.domain.messages import N_, message
from ledger.passwords import generate_password
from service.cli.common import (
    admin_client,
    note,
    number,
    options,
    out,
    run,
    settings,
    show,
    show_outcome,
    table,
    tr,
)
from service.policy import load_service_policy

account_app = typer.Typer(help="Accounts and role grants (administrators).",
                          no_args_is_help=True)
access_app = typer.Typer(help="Access review (AC-3).", no_args_is_help=True)

Reason = Annotated[str | None, typer.Option(help="Why (recorded with the event).")]


def _one_time_password(given: str | None) -> str:
    return given or generate_password(load_service_policy(settings().policy_file).passwords)


def _show_with_password(outcome: dict[str, Any], generated: str | None) -> None:
    if generated is not None:
        outcome["result"] = outcome["result"] | {"one_time_password": generated}
    show_outcome(outcome)
    if generated is not None and not options.json:
        note(tr(N_("Give the one-time password to its owner over a separate channel: it is "
                   "not shown again, and must be changed at first login.")))


@account_app.command("create")
def account_create(
    username: str,
    employee_id: Annotated[str, typer.Option(help="The employee's id (one account each).")],
    department: Annotated[str, typer.Option(help="The employee's department.")],
    role: Annotated[list[str] | None, typer.Option(help="Grant this role too (repeatable).")
                    ] = None,
    password: Annotated[str | None, typer.Option(
        help="The one-time password (default: a generated one, printed once).")] = None,
    reason: Reason = None,
) -> None:
    """Open an account with a one-time password, granting roles in the same step (all of
    them, or no account at all)."""
    def action() -> tuple[dict[str, Any], str | None]:
        chosen = _one_time_password(password)
        with admin_client() as ledger:
            outcome = ledger.create_account(username, employee_id=employee_id,
                                            department=department, initial_password=chosen,
                                            roles=role or [], reason=reason)
        return outcome, None if password else chosen

    _show_with_password(*run(action))


@account_app.command("reset-password")
def account_reset_password(
    username: str,
    password: Annotated[str | None, typer.Option(
        help="The new one-time password (default: a generated one, printed once).")] = None,
    reason: Reason = None,
) -> None:
    """Give an account a new one-time password, to be changed at next login."""
    def action() -> tuple[dict[str, Any], str | None]:
        chosen = _one_time_password(password)
        with admin_client() as ledger:
            outcome = ledger.reset_password(username, chosen, reason=reason)
        return outcome, None if password else chosen

    _show_with_password(*run(action))


def _simple(method: str, doc: str) -> Any:
    def command(username: str, reason: Reason = None) -> None:
        def action() -> dict[str, Any]:
            with admin_client() as ledger:
                result: dict[str, Any] = getattr(ledger, method)(username, reason=reason)
                return result

        show_outcome(run(action))

    command.__doc__ = doc
    return command


def _with_role(method: str, doc: str) -> Any:
    def command(username: str, role: str, reason: Reason = None) -> None:
        def action() -> dict[str, Any]:
            with admin_client() as ledger:
                result: dict[str, Any] = getattr(ledger, method)(username, role, reason=reason)
                return result

        show_outcome(run(action))

    command.__doc__ = doc
    return command


account_app.command("lock")(_simple("lock_account", "Lock an account at once (IR-1)."))
account_app.command("unlock")(_simple(
    "unlock_account", "Unlock a locked account and clear its failed logins."))
account_app.command("disable")(_simple("disable_account", "Disable an account for good."))
account_app.command("revoke-all")(_simple(
    "revoke_all_roles", "Revoke every role of an account (a change of job, AC-4)."))
account_app.command("grant")(_with_role(
    "grant_role", "Grant a role; a high-privilege one waits for a second approver."))
account_app.command("approve-grant")(_with_role(
    "approve_grant", "Approve a waiting grant made by someone else (AC-2)."))
account_app.command("revoke")(_with_role("revoke_role", "Revoke one role of an account."))
account_app.command("reset-second-factor")(_simple(
    "reset_second_factor", "Remove another account's lost second factor: its sessions end "
    "and its next login enrols a new one; a high-privilege account's waits for approval."))
account_app.command("approve-second-factor-reset")(_simple(
    "approve_second_factor_reset", "Approve a waiting reset of a second factor made by "
    "someone else."))


@account_app.command("lock-role")
def account_lock_role(role: str, reason: Reason = None) -> None:
    """Lock every account holding a role, in one audited step (IR-1)."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.lock_role(role, reason=reason)

    show_outcome(run(action))


@account_app.command("list")
def account_list(
    role: Annotated[str | None, typer.Option(help="Only holders of this role.")] = None,
) -> None:
    """List accounts with their state and active roles."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.list_accounts(role)

    def render(result: dict[str, Any]) -> None:
        rows = table("username", "employee", "department", "status", "roles", "last login at")
        for a in result["accounts"]:
            rows.add_row(a["username"], a["employee_id"], a["department"], a["status"],
                         ", ".join(a["roles"]), a["last_login_at"] or tr(N_("never")))
        out.print(rows)
        note(tr(message("{count} accounts; reflects event position {position}",
                        count=number(len(result["accounts"])),
                        position=result["reflects_position"])))

    show(run(action), render)


@access_app.command("review")
def access_review(
    as_of: Annotated[str | None, typer.Option(help="Review date YYYY-MM-DD (default today).")
                     ] = None,
) -> None:
    """Every account's roles, grant dates and last use; grants unused too long (AC-3)."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.access_review(as_of=as_of)

    def render(result: dict[str, Any]) -> None:
        rows = table("username", "status", "role", "granted on", "approved by", "last used on",
                     "flag", title=tr(message("Access review as of {date}",
                                              date=result["as_of"])))
        for a in result["accounts"]:
            for g in a["grants"] or [{}]:
                flag = ("SUSPENDED" if g.get("suspended") else "UNUSED" if g.get("unused") else
                        "awaits approval" if g and not g["active"] else "")
                rows.add_row(a["username"], a["status"], g.get("role", "(none)"),
                             (g.get("active_since") or g.get("requested_at") or "")[:10],
                             g.get("approved_by") or "",
                             g.get("last_used_on") or tr(N_("never")), flag)
        out.print(rows)
        for e in result["expiring_grants"]:
            note(tr(message("warning: {username}'s {role} grant is covered until {until} "
                            "({cause}); record a new assessment before then",
                            username=e["username"], role=e["role"], until=e["expires_on"],
                            cause=e["cause"])))
        note(tr(message("{count} grant(s) unused for {days} days; last login per account in "
                        "`ledger account list`; reflects event position {position}",
                        count=number(len(result["unused_grants"])), days=result["unused_days"],
                        position=result["reflects_position"])))

    show(run(action), render)
