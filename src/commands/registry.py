"""Every command the ledger knows, with its one handler: the bus and the HTTP routes use this."""

from __future__ import annotations

from commands.accounts import ACCOUNT_HANDLERS
from commands.deletion import DELETION_HANDLERS
from commands.handlers import HANDLERS as CUSTOMER_HANDLERS
from commands.handlers import Handler
from commands.models import Command

ALL_HANDLERS: dict[type[Command], Handler] = {**CUSTOMER_HANDLERS, **DELETION_HANDLERS,
                                              **ACCOUNT_HANDLERS}
ALL_COMMANDS: dict[str, type[Command]] = {cls.name: cls for cls in ALL_HANDLERS}
