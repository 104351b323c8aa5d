"""What every command is: the ``Command`` base model, and the shape of a handler.

Where a command lives: each concept has one module of ``commands`` holding its command
models and their handlers, one handler per command, and a ``HANDLERS`` table mapping each
command to its handler (``customers``, ``deletion``, ``accounts``, ``roles``,
``totp_enrolment``); ``commands.registry`` gathers the tables for the bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from commands.ports import UnitOfWork
from ledger.domain.values import without_invisible

Result = dict[str, Any]
"""What a handler returns: plain JSON-ready facts about the decision, kept as its outcome."""


def new_command_id() -> str:
    return str(uuid4())


class Command(BaseModel):
    """Base of every command: an id for idempotent retries and optional audit context."""

    # Stripped, so a reason of only spaces is as missing as no reason.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    name: ClassVar[str]

    command_id: str = Field(default_factory=new_command_id, min_length=1, max_length=100)
    correlation_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("*", mode="after")
    @classmethod
    def check_visible_text(cls, value: Any) -> Any:
        """Every text a command carries follows the entry rule's character part (CI-4)."""
        return without_invisible(value) if isinstance(value, str) else value

    def implied_operations(self) -> tuple[str, ...]:
        """Further operations this command performs, which its actor must be allowed too
        (opening an account with roles grants them)."""
        return ()

    def audit_reason(self) -> str | None:
        """The reason the events' metadata carries in plaintext; a command whose reason is
        about a customer keeps it sealed in its event instead, and answers None."""
        return self.reason

    def fingerprint_payload(self) -> dict[str, Any]:
        """The content that identifies a retry: everything but the ids that label it."""
        return self.model_dump(mode="json", exclude={"command_id", "correlation_id"})


Handler = Callable[[Any, UnitOfWork], Result]


class Outcome(BaseModel):
    """What a command answers: its write, and where in the log it landed."""

    model_config = ConfigDict(extra="allow")
    command_id: str
    command: str
    status: str = Field(description="accepted")
    aggregate_id: str | None = Field(description="The record the command decided on.")
    version: int | None = Field(description="That record's version after the command.")
    result: dict[str, Any] = Field(description="What the command reports, by command "
                                               "(a proposal_id, a request_id, ...).")
    replayed: bool = Field(description="True when a retry answered the earlier outcome.")
    position: int = Field(description="The event position of the write: a read's "
                                      "min_position for read-your-writes.")
