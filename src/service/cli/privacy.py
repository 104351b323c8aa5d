"""``ledger deletion ...`` (DL-1..DL-3), ``ledger keys ...`` (DP-2), and the personal-data
searches ``ledger customer find-by`` and ``ledger customer duplicates``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.crypto import create_key_file, key_id_of, read_key_file
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import message
from service.cli.common import (
    client,
    local_ledger,
    note,
    number,
    out,
    run,
    show,
    show_outcome,
    table,
    tr,
)

deletion_app = typer.Typer(help="Deletion requests and erasure (DL-1..DL-3).",
                           no_args_is_help=True)
keys_app = typer.Typer(help="Data keys and the key-encryption key (DP-2).", no_args_is_help=True)


def find_by(
    phone: Annotated[str | None, typer.Option(help="Exact phone, any formatting.")] = None,
    email: Annotated[str | None, typer.Option(help="Exact email, any case.")] = None,
    person: Annotated[str | None, typer.Option(help="Exact name of a person.")] = None,
) -> None:
    """Find customers by phone, email or a person's name (matched without plaintext)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.find_customers_by(phone=phone, email=email, person=person)

    def render(result: dict[str, Any]) -> None:
        rows = table("customer id", "name", "channel", "version")
        for c in result["customers"]:
            rows.add_row(c["customer_id"], c["name"] or "", c["source_channel"] or "",
                         str(c["version"]))
        out.print(rows)
        note(tr(message("{count} found; reflects event position {position}",
                        count=number(len(result["customers"])),
                        position=result["reflects_position"])))

    show(run(action), render)


def duplicates() -> None:
    """List groups of likely duplicate customers (DL-4)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.duplicates()

    def render(result: dict[str, Any]) -> None:
        rows = table("reason", "customer ids")
        for group in result["groups"]:
            rows.add_row(group["reason"], "\n".join(group["customer_ids"]))
        out.print(rows)
        note(tr(message("{count} groups; reflects event position {position}",
                        count=number(len(result["groups"])), position=result["reflects_position"])))

    show(run(action), render)


@deletion_app.command("request")
def deletion_request(
    customer_id: str,
    ground: Annotated[str, typer.Option(
        help="relationship_ended, erroneous_or_duplicate or legal_obligation.")],
    details: Annotated[str, typer.Option(help="What makes the ground hold.")],
    department: Annotated[str, typer.Option(help="The requesting department.")],
) -> None:
    """File a request to erase a customer's personal data."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.request_deletion(customer_id, ground, details, department)

    show_outcome(run(action))


def _step(name: str, doc: str) -> None:
    def command(request_id: str) -> None:
        def action() -> dict[str, Any]:
            with client() as ledger:
                step: dict[str, Any] = getattr(ledger, f"{name}_deletion")(request_id)
                return step

        show_outcome(run(action))

    command.__doc__ = doc
    deletion_app.command(name)(command)


_step("review", "As head of the requesting department, agree the request should go ahead.")
_step("approve", "As head of customer-information management, approve a reviewed request.")
_step("execute", "As system administrator, erase the customer: its data key is destroyed.")


@deletion_app.command("reject")
def deletion_reject(
    request_id: str,
    step: Annotated[str, typer.Option(help="review, approve or execute (your step).")],
    reason: Annotated[str, typer.Option(help="Why the request stops here.")],
) -> None:
    """Stop a deletion request at your step, with a reason."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.reject_deletion(request_id, step, reason)

    show_outcome(run(action))


@deletion_app.command("list")
def deletion_list(
    stage: Annotated[str, typer.Option(
        help="open, requested, reviewed, approved, executed, rejected, all, or held (open "
             "ones under a legal hold).")] = "open",
) -> None:
    """List deletion requests (the open ones by default)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.deletions(stage=stage)

    def render(result: dict[str, Any]) -> None:
        rows = table("request id", "customer id", "ground", "department", "stage",
                     "requested at", "held by")
        for d in result["deletions"]:
            rows.add_row(d["request_id"], d["customer_id"], d["ground"], d["department"],
                         d["stage"], d["requested"]["at"], "\n".join(d["held_by"]))
        out.print(rows)

    show(run(action), render)


@deletion_app.command("certificate")
def deletion_certificate(request_id: str) -> None:
    """Print the erasure certificate of an executed deletion (JSON)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.erasure_certificate(request_id)

    show(run(action), lambda c: out.print_json(data=c))


@keys_app.command("status")
def keys_status() -> None:
    """Count active and destroyed data keys; show the KEK's id (never the key)."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            return ledger.keys.status()

    def render(r: dict[str, Any]) -> None:
        rows = table("active keys", "destroyed keys", "KEK id")
        rows.add_row(str(r["active_keys"]), str(r["destroyed_keys"]), r["kek_id"])
        out.print(rows)

    show(run(action), render)


@keys_app.command("rotate-kek")
def keys_rotate_kek(
    new_kek_file: Annotated[Path | None, typer.Option(
        help="The new KEK (base64, 32 bytes). Without it, in development, a new key "
             "replaces the file under the data directory.")] = None,
) -> None:
    """Re-wrap every data key under a new KEK; no event is touched."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            settings = ledger.settings
            managed = settings.kek is None and settings.kek_file is None
            if new_kek_file is not None:
                new_kek, target = read_key_file(new_kek_file, "new KEK", "--new-kek-file"), None
            elif managed and settings.environment == "development":
                target = settings.data_dir / "kek.key"
                staged = target.with_name("kek.key.new")
                new_kek = read_key_file(staged, "new KEK") if staged.exists() else (
                    create_key_file(staged))
            else:
                raise ValidationFailedError([Problem("--new-kek-file", "is required here")])
            count = ledger.keys.rotate_kek(new_kek)
            if target is not None:
                # The old KEK is replaced only after every key is re-wrapped under the new one.
                os.replace(target.with_name("kek.key.new"), target)
            return {"rewrapped_keys": count, "kek_id": key_id_of(new_kek, "kek"),
                    "configure": None if target else str(new_kek_file)}

    def render(r: dict[str, Any]) -> None:
        out.print(tr(message("Re-wrapped {count} data keys; KEK id now {kek_id}.",
                             count=number(r["rewrapped_keys"]), kek_id=r["kek_id"])),
                  highlight=False, soft_wrap=True)
        if r["configure"]:
            note(tr(message("Point LEDGER_KEK_FILE at {path}; the old KEK is no longer "
                            "needed.", path=r["configure"])))

    show(run(action), render)


__all__ = ["deletion_app", "duplicates", "find_by", "keys_app"]
