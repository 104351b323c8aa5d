"""Every command the ledger knows, with its one handler: the bus and the HTTP routes use this.

Each concept's module holds its command models and their handlers (``commands.command``
states the rule). The second factor's commands need the credential store, so their
handlers are built with it (``TotpEnrolment.handlers``) and reached over ``/auth/totp/*``,
whose answer shows the secret that no command outcome may hold.
"""

from __future__ import annotations

from commands import accounts, customers, deletion, exports, roles
from commands.command import Command, Handler
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment

ALL_HANDLERS: dict[type[Command], Handler] = {
    **customers.HANDLERS, **deletion.HANDLERS, **accounts.HANDLERS, **roles.HANDLERS,
    **exports.HANDLERS}
ALL_COMMANDS: dict[str, type[Command]] = {cls.name: cls for cls in ALL_HANDLERS}
"""The commands sent by name (``POST /commands/<name>``, the CLI)."""
SECOND_FACTOR_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls for cls in (StartTotpEnrolment, ConfirmTotpEnrolment)}
"""The commands sent over ``/auth/totp/*``, handled by ``TotpEnrolment.handlers()``."""
EXPORT_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls for cls in (exports.ExportCustomers, exports.ExportReport)}
"""The commands sent over ``POST /exports``, handled by ``Exports.handlers()``: their answer
carries the file, which no command outcome may hold."""
