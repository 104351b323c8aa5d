"""Every command the ledger knows, with its one handler: the bus and the HTTP routes use this.

Each concept's module holds its command models and their handlers (``commands.command``
states the rule). The second factor's commands need the credential store, so their
handlers are built with it (``TotpEnrolment.handlers``) and reached over ``/auth/totp/*``,
whose answer shows the secret that no command outcome may hold; a reset of a lost second
factor needs it too (``SecondFactorResets.handlers``), and is sent by name like the rest.
"""

from __future__ import annotations

from commands import (
    accounts,
    customers,
    deletion,
    exports,
    faults,
    legal_holds,
    roles,
    training,
)
from commands.command import Command, Handler
from commands.second_factor_reset import ApproveSecondFactorReset, ResetSecondFactor
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment

ALL_HANDLERS: dict[type[Command], Handler] = {
    **customers.HANDLERS, **deletion.HANDLERS, **accounts.HANDLERS, **roles.HANDLERS,
    **faults.HANDLERS, **legal_holds.HANDLERS, **training.HANDLERS,
    **exports.HANDLERS}
CREDENTIAL_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls for cls in (ResetSecondFactor, ApproveSecondFactorReset)}
"""Commands sent by name like the rest, whose handlers need the credential store
(``SecondFactorResets.handlers``)."""
ALL_COMMANDS: dict[str, type[Command]] = {
    **{cls.name: cls for cls in ALL_HANDLERS}, **CREDENTIAL_COMMANDS}
"""The commands sent by name (``POST /commands/<name>``, the CLI)."""
SECOND_FACTOR_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls for cls in (StartTotpEnrolment, ConfirmTotpEnrolment)}
"""The commands sent over ``/auth/totp/*``, handled by ``TotpEnrolment.handlers()``."""
EXPORT_COMMANDS: dict[str, type[Command]] = {
    cls.name: cls for cls in (exports.ExportCustomers, exports.ExportReport)}
"""The commands sent over ``POST /exports``, handled by ``Exports.handlers()``: their answer
carries the file, which no command outcome may hold."""
