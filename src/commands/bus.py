"""The message bus: every command and query enters here, is authorised, and is dispatched."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from commands.access_log import AccessLog
from commands.actor import (
    Actor,
    AllowAll,
    Authoriser,
    record_denial,
    record_hold_refusal,
    target_of,
)
from commands.command import Command, Handler, Result
from commands.free_text import give_reason, protected_reason
from commands.idempotency import CommandRecord, fingerprint
from commands.observer import NoObserver, OperationsObserver
from commands.ports import Clock, PersonalData, SaveConflictError
from commands.unit_of_work import StoreUnitOfWork
from ledger.domain.errors import (
    ConflictError,
    LedgerError,
    LegalHoldInForceError,
    PermissionDeniedError,
    Problem,
    ValidationFailedError,
)
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.domain.problems import problems_from
from ledger.domain.sensitivity import Clearance, reading_with
from ledger.policy import Policy
from ledger.store import LedgerStore
from ledger.transient import (
    DEFAULT_RETRY_SECONDS,
    UnavailableError,
    is_transient,
    retrying,
    unavailable,
)

log = structlog.get_logger("ledger.bus")


T = TypeVar("T")
QueryHandler = Callable[[Any], Any]
# The outcome an audited read records when it failed with an unexpected error (the code
# the HTTP API and the CLI answer it with).
INTERNAL_ERROR = "internal_error"


def utc_now() -> datetime:
    return datetime.now(UTC)


def problems_of(error: ValidationError) -> list[Problem]:
    # Locations and rules only: the offending input may be personal data.
    return problems_from(error.errors(include_input=False, include_url=False),
                         default="command")


def _ref(command: Command) -> str:
    """The command id as a log names it: a digest, since the caller chooses the id's text
    and may put anything in it (an import row's name, a phone number)."""
    return hashlib.sha256(command.command_id.encode()).hexdigest()[:16]


class MessageBus:
    """Authorises, dispatches to one handler, saves the decision with its outcome, and replays
    the first outcome for a repeated command id. Every permission denial raised on the way,
    by the authoriser or by a handler's own rule about who may act, is audited, and so is
    an erasure refused under a legal hold."""

    def __init__(
        self,
        store: LedgerStore,
        policy: Policy,
        handlers: Mapping[type[Command], Handler],
        query_handlers: Mapping[type[BaseModel], QueryHandler] | None = None,
        authoriser: Authoriser | None = None,
        clock: Clock = utc_now,
        on_saved: Callable[[int], None] | None = None,
        *,
        personal_data: PersonalData,
        read_audit: ReadAuditor | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        on_fault: Callable[[], None] | None = None,
        observer: OperationsObserver | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.handlers = dict(handlers)
        self.commands_by_name = {cls.name: cls for cls in self.handlers}
        self.query_handlers = dict(query_handlers or {})
        self.authoriser = authoriser or AllowAll()
        self.clock = clock
        self.on_saved = on_saved
        self.personal_data = personal_data
        self.read_audit = read_audit
        # How long a command or a read is tried again after a lost connection: both are
        # safe to repeat (a command by its id), so the caller sees the fault only if it
        # outlasts this.
        self.retry_seconds = retry_seconds
        self.on_fault = on_fault or store.drop_broken_connections
        self.observer: OperationsObserver = observer or NoObserver()
        self.narrowest = Clearance.narrowest(policy.access.sensitive_paths())
        # The bus's own: a denial is recorded whatever authoriser or handler raised it.
        self.access_log = AccessLog(store, clock, on_saved)

    # Commands ----------------------------------------------------------------

    def execute_named(self, name: str, payload: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        """Validate a raw command (as it comes over HTTP or from the CLI) and execute it."""
        command_class = self.commands_by_name.get(name)
        if command_class is None:
            # The name is not repeated: the caller typed it, and errors never echo input.
            raise ValidationFailedError([Problem("command", "is not a command of the ledger")],
                                        "unknown command")
        try:
            command = command_class.model_validate(dict(payload))
        except ValidationError as error:
            raise ValidationFailedError(problems_of(error)) from None
        return self.execute(command, actor)

    def execute(self, command: Command, actor: Actor) -> dict[str, Any]:
        """Execute one command; a database fault that outlasts the retries is the ledger's
        ``UnavailableError``, never the driver's exception."""
        return _translating_faults(lambda: self._execute(command, actor))

    def _execute(self, command: Command, actor: Actor) -> dict[str, Any]:
        started = time.perf_counter()
        target = target_of(command)
        try:
            self.authoriser.authorise(actor, command.name, target)
            for operation in command.implied_operations():
                self.authoriser.authorise(actor, operation, target)
            outcome = retrying(lambda: self._execute_once(command, actor),
                               seconds=self.retry_seconds, on_fault=self.on_fault)
        except LedgerError as error:
            self._audit_denial(error, actor, command.name, target)
            log.info("command_refused", command=command.name, command_ref=_ref(command),
                     actor=actor.id, code=error.code, fields=_fields_of(error))
            self.observer.command_done(command.name, error.code, time.perf_counter() - started)
            raise
        except Exception:
            self.observer.command_done(command.name, INTERNAL_ERROR,
                                       time.perf_counter() - started)
            raise
        self.observer.command_done(command.name, "accepted", time.perf_counter() - started)
        log.info("command_accepted", command=command.name, command_ref=_ref(command),
                 actor=actor.id, replayed=outcome["replayed"], position=outcome["position"],
                 ms=round((time.perf_counter() - started) * 1000, 2))
        return outcome

    def _execute_once(self, command: Command, actor: Actor) -> dict[str, Any]:
        # Keyed: a stored fingerprint must not confirm a guessed payload.
        digest = fingerprint(command.name, actor.id, command.fingerprint_payload(),
                             self.personal_data.keyed_hash)
        handler = self.handlers.get(type(command))
        if handler is None:
            raise ValidationFailedError([Problem("command", "no handler registered")])
        # The reason goes in once the handler has said which customer the command is
        # about (``protected_reason``): never in plaintext into a customer's events.
        metadata = EventMetadata(actor=actor.id, command_id=command.command_id,
                                 correlation_id=command.correlation_id or command.command_id,
                                 client_address=actor.client_address)
        # No read for an earlier outcome up front (it would cost every command a round
        # trip): a repeated command id is caught by the command record's unique key when
        # saving, and a retry whose handler now refuses (say, the proposal it verified is
        # no longer pending) is checked for an earlier outcome before the refusal stands.
        uow = StoreUnitOfWork(self.store, self.policy, self.clock, actor.id, self.personal_data,
                              roles=actor.roles, department=actor.department,
                              session=actor.session)
        try:
            with recording_as(metadata, self.clock):
                result = handler(command, uow)
                reason = protected_reason(command.audit_reason(), uow.changed,
                                          self.personal_data)
                outcome = self._outcome(command, uow, result)
                record = CommandRecord.processed(command.command_id, command.name, digest,
                                                 outcome)
                if reason is not None:
                    give_reason([*uow.changed, record], reason)
        except LedgerError:
            self._give_back_new_ids(uow)
            earlier = self._earlier_outcome(uow, command, digest)
            if earlier is not None:
                return earlier
            raise
        try:
            position = uow.commit(record)
        except SaveConflictError:
            # Either the same command id won a race, or the record moved under us; either
            # way nothing of this attempt was saved. (After a lost connection the ids are
            # kept: the save may have committed before the connection went.)
            self._give_back_new_ids(uow)
            earlier = self._earlier_outcome(uow, command, digest)
            if earlier is not None:
                return earlier
            raise ConflictError("the record was changed by someone else meanwhile; read it "
                                "again and retry") from None
        for action in uow.after_commit:
            action()
        if self.on_saved is not None:
            self.on_saved(position)
        return outcome | {"position": position}

    def _give_back_new_ids(self, uow: StoreUnitOfWork) -> None:
        for customer_id in uow.new_customer_ids:
            self.personal_data.give_back_customer_id(customer_id)
        uow.new_customer_ids.clear()

    @staticmethod
    def _earlier_outcome(uow: StoreUnitOfWork, command: Command, digest: str
                         ) -> dict[str, Any] | None:
        processed = uow.recorded(command.command_id)
        if processed is None:
            return None
        if not isinstance(processed, CommandRecord.Processed) or processed.fingerprint != digest:
            raise ConflictError("this command id was already used for a different command",
                                details={"command_id": command.command_id})
        # The record is saved last in its command's transaction, so its position is the
        # command's own (the head may have moved on since).
        position = uow.position_of(processed)
        return processed.outcome | {"replayed": True, "position": position}

    @staticmethod
    def _outcome(command: Command, uow: StoreUnitOfWork, result: Result) -> dict[str, Any]:
        # The aggregate the command decided on: the first one it wrote new events for. One
        # it only loaded (lock-role reads every account) is not named: with none written,
        # the outcome names none.
        main = next((a for a in uow.changed if a.pending_events), None)
        return {
            "command_id": command.command_id,
            "command": command.name,
            "status": "accepted",
            "aggregate_id": str(main.id) if main else None,
            "version": main.version if main else None,
            "result": result,
            "replayed": False,
        }

    # Queries -----------------------------------------------------------------

    def ask(self, query: BaseModel, actor: Actor) -> Any:
        """Authorise and answer one query from the read models; a read of customer data is
        recorded in the audit trail (AU-1), whether it succeeds or fails."""
        return _translating_faults(lambda: self._ask(query, actor))

    def _ask(self, query: BaseModel, actor: Actor) -> Any:
        name = str(getattr(query, "name", type(query).__name__))
        target = target_of(query)
        try:
            retrying(lambda: self.authoriser.authorise(actor, name, target),
                     seconds=self.retry_seconds, on_fault=self.on_fault)
        except LedgerError as error:
            self._audit_denial(error, actor, name, target)
            log.info("query_refused", query=name, actor=actor.id, code=error.code)
            self.observer.query_done(name, error.code)
            raise
        # Sensitive fields are masked for a reader without clearance (ST-4, P5); an
        # authoriser that grants none leaves the reader cleared for nothing.
        clearance_for = getattr(self.authoriser, "clearance_for", None)
        clearance = clearance_for(actor) if clearance_for else self.narrowest
        try:
            handler = self.query_handlers.get(type(query))
            if handler is None:
                raise ValidationFailedError([Problem("query", "unknown query")])
            with reading_with(clearance):
                answer = retrying(lambda: handler(query), seconds=self.retry_seconds,
                                  on_fault=self.on_fault)
        except UnavailableError as error:
            log.warning("query_unavailable", query=name, actor=actor.id, code=error.code)
            # The read returned nothing; recording it needs the database that is away.
            try:
                self._audit_read(actor, name, target, None, clearance, error.code)
            except Exception as audit_error:
                log.warning("read_audit_failed", query=name, actor=actor.id,
                            error=type(audit_error).__name__)
            raise
        except LedgerError as error:
            self._audit_denial(error, actor, name, target)
            log.info("query_refused", query=name, actor=actor.id, code=error.code)
            # The error's details may name the customer the refused read was about.
            self.observer.query_done(name, error.code)
            self._audit_read(actor, name, target, error.details, clearance, error.code)
            raise
        except Exception:
            # A read that broke is still a read attempt: it is recorded (AU-1), and a
            # failure to record it must not hide the error that broke it.
            self.observer.query_done(name, INTERNAL_ERROR)
            try:
                self._audit_read(actor, name, target, None, clearance, INTERNAL_ERROR)
            except Exception:  # the original error is the one to raise
                log.exception("read_audit_failed", query=name, actor=actor.id)
            raise
        self.observer.query_done(name, "ok")
        self._audit_read(actor, name, target, answer, clearance, "ok")
        return answer

    def _audit_denial(self, error: LedgerError, actor: Actor, operation: str,
                      target: str | None) -> None:
        if isinstance(error, PermissionDeniedError):
            record_denial(self.access_log, error, actor, operation, target)
        elif isinstance(error, LegalHoldInForceError):
            record_hold_refusal(self.access_log, error, actor, operation, target)

    def _audit_read(self, actor: Actor, operation: str, target: str | None, answer: Any,
                    clearance: Clearance, outcome: str) -> None:
        if self.read_audit is not None:
            self.read_audit.record(actor=actor.id, client_address=actor.client_address,
                                   operation=operation, target=target, answer=answer,
                                   clearance=clearance, outcome=outcome)


class ReadAuditor(Protocol):
    """Records a read of customer data in the audit trail (``commands.read_audit``)."""

    def record(self, *, actor: str, client_address: str | None, operation: str,
               target: str | None, answer: Any, clearance: Clearance, outcome: str) -> None: ...


def _translating_faults(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except LedgerError:
        raise
    except Exception as error:
        if is_transient(error):
            log.warning("database_unavailable", error=type(error).__name__)
            raise unavailable(error) from None
        raise


def _fields_of(error: LedgerError) -> list[str] | None:
    return error.fields if isinstance(error, ValidationFailedError) else None
