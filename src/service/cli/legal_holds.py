"""``ledger hold ...``: legal holds that keep a customer from being erased (DL-5)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.domain.messages import N_, message
from projections.privacy import LegalHoldReview
from service.cli.common import (
    client,
    more_note,
    note,
    number,
    out,
    run,
    show,
    show_outcome,
    table,
    tr,
)
from service.cli.query_options import query_options

hold_app = typer.Typer(help="Legal holds: no deletion is executed while one is in force "
                            "(DL-5).", no_args_is_help=True)


@hold_app.command("place")
def hold_place(
    customer_id: str,
    reason: Annotated[str, typer.Option(help="Why the data must be kept (sealed under the "
                                             "customer's key).")],
    reference: Annotated[str, typer.Option(help="The case, order or file the hold answers "
                                                "to.")],
    until: Annotated[str | None, typer.Option(help="The last day in force (YYYY-MM-DD); "
                                                   "none: until lifted.")] = None,
) -> None:
    """Place a legal hold on a customer."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.place_legal_hold(customer_id, reason, reference, until=until)

    show_outcome(run(action))


@hold_app.command("lift")
def hold_lift(customer_id: str, hold_id: str) -> None:
    """Lift a legal hold placed by someone else."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.lift_legal_hold(customer_id, hold_id)

    show_outcome(run(action))


@hold_app.command("review")
@query_options(LegalHoldReview, "status", "customer_id", "limit")
def hold_review(**fields: Any) -> None:
    """List legal holds for their review: in force by default, or all of them."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.legal_hold_review(**fields)

    def render(result: dict[str, Any]) -> None:
        rows = table("hold id", "customer id", "reference", "until", "placed by", "placed at",
                     "status", "blocks")
        for h in result["holds"]:
            status = tr(N_("in force") if h["in_force"] else N_("lapsed") if h["lapsed"]
                        else message("lifted by {by}", by=h["lifted"]["by"]))
            rows.add_row(h["hold_id"], h["customer_id"], h["reference"],
                         h["until"] or tr(N_("open")),
                         h["placed"]["by"], h["placed"]["at"], status, "\n".join(h["blocks"]))
        out.print(rows)
        note(tr(message("{count} holds{more}; reflects event position {position}",
                        count=number(len(result["holds"])), more=more_note(result),
                        position=result["reflects_position"])))

    show(run(action), render)


__all__ = ["hold_app"]
