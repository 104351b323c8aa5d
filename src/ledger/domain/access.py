"""Access events (AU-1, OP-1): reads of customer data, reads with full clearance, denials,
logins and second-factor enrolments.

Each is one event on a fresh, single-event aggregate: recording it loads nothing and
conflicts with nothing, so it is cheap enough to write on every denial and login. A
permission denial, and an erasure refused under a legal hold, are the refusals that write
to the store: the refused command itself leaves no trace but this audit record.
"""

from __future__ import annotations

from uuid import uuid4

from ledger.domain.events import LedgerAggregate


class AccessRecord(LedgerAggregate):
    """One audited access fact; the actor, time and client address are in the metadata."""

    class PermissionDenied(LedgerAggregate.Created):
        operation: str
        target: str | None
        roles: list[str]

    class LoginSucceeded(LedgerAggregate.Created):
        username: str
        password_rotation_due: bool

    class LoginFailed(LedgerAggregate.Created):
        username: str
        # unknown_user, wrong_password, locked, disabled, totp_missing, wrong_totp,
        # totp_replayed, network: the caller's answer is the same for all but network
        reason: str
        failures: int

    class LoggedOut(LedgerAggregate.Created):
        username: str

    class TotpEnrolmentStarted(LedgerAggregate.Created):
        """A new second-factor secret was made for the account, to confirm with a code."""

        username: str

    class TotpEnrolled(LedgerAggregate.Created):
        username: str

    class CustomerDataRead(LedgerAggregate.Created):
        """A query answered with customer data: which customers, and which sensitive fields
        the reader saw unmasked. Never the values themselves."""

        operation: str
        customer_ids: list[str]
        revealed_fields: list[str]
        # "ok", or the error code the query ended with (e.g. "not_found")
        outcome: str

    class FullClearanceUsed(LedgerAggregate.Created):
        """Code in the ledger's own process read with every sensitive field unmasked, for a
        stated purpose (a tool, an export, a benchmark); who asked is the actor."""

        purpose: str

    class RestoreDrillCompleted(LedgerAggregate.Created):
        """A restore drill (``ledger backup drill``) ran: which backup it restored, whether
        every read model matched the live one, the time to recover and the data-loss
        window. Ids and figures only."""

        backup_id: str
        outcome: str  # "passed", or "failed: <what did not match>"
        restored_position: int
        head_position: int
        rto_seconds: float
        mismatched: list[str]
    class RefusedUnderLegalHold(LedgerAggregate.Created):
        """A deletion's execution was refused because a legal hold on its customer is in
        force (DL-5): the refused command wrote nothing else."""

        operation: str
        target: str | None
        customer_id: str
        hold_id: str

    @classmethod
    def record(cls, event_class: type[LedgerAggregate.Created], **facts: object
               ) -> AccessRecord:
        record: AccessRecord = cls._create(event_class, id=uuid4(), **facts)
        return record
