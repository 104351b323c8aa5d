"""The shape of each query's answer, so ``/openapi.json`` documents what a reader gets.

Handlers answer plain JSON-ready data, which the bus masks and audits; the HTTP routes
validate it against these models on the way out. A profile and a change set are documented
with the domain's models; where the reader is not cleared for a field, its value is masked
(``***``, or a phone or email kept partly) and the path is listed in ``masked_fields``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.documented import ChangeSet, DocumentedAs
from ledger.domain.profile import CustomerProfile

_MASKED = ("values of fields the reader is not cleared for are masked and listed in "
           "masked_fields")
ShownProfile = Annotated[dict[str, Any], DocumentedAs(CustomerProfile),
                         Field(description=f"The profile by information group; {_MASKED}.")]
ShownChanges = Annotated[dict[str, Any], DocumentedAs(ChangeSet),
                         Field(description="New values by field path; values the reader is "
                                           "not cleared for are masked.")]


class Answer(BaseModel):
    """Base of every answer model. Extra keys are kept, not dropped: an answer is never
    cut short by its documentation."""

    model_config = ConfigDict(extra="allow")


class Reflecting(Answer):
    reflects_position: int = Field(description="The event position this answer reflects.")


class LastReview(Answer):
    quarter: str
    reviewed_on: str
    outcome: str
    reviewed_by: str | None = None


class HeldBy(Answer):
    """A legal hold not lifted (DL-5); it is in force until its ``until`` day passes."""

    hold_id: str
    reference: str
    until: str | None = Field(description="The last day in force; null: until lifted.")
    placed_by: str
    placed_at: str


class CustomerRecord(Answer):
    """One customer as the read model holds it; an erased one is a tombstone."""

    customer_id: str
    version: int
    name: str | None
    source_channel: str | None
    profile: ShownProfile
    last_review: LastReview | None
    registered_at: str
    updated_at: str
    position: int
    erased: bool
    erased_at: str | None
    masked_fields: list[str] | None = Field(default=None, description="Paths masked for "
                                            "this reader (present once masking applied).")
    legal_holds: list[HeldBy] = Field(default_factory=list, description="Legal holds not "
                                      "lifted, oldest first (DL-5).")


class CustomerAnswer(Reflecting):
    customer: CustomerRecord


class CustomersAnswer(Reflecting):
    customers: list[CustomerRecord]
    more: bool = Field(description="True when the list was cut at its limit: more exist.")


class Proposal(Answer):
    proposal_id: str
    customer_id: str
    fields: list[str]
    changes: ShownChanges
    happened_on: str
    base_version: int
    proposed_by: str
    proposed_at: str
    record_by: str | None
    late: bool


class ProposalsAnswer(Reflecting):
    proposals: list[Proposal]
    more: bool = Field(description="True when the list was cut at its limit: more exist.")


class DueCustomer(Answer):
    customer_id: str
    name: str | None
    last_reviewed_quarter: str | None
    registered_at: str


class ReviewsDueAnswer(Reflecting):
    quarter: str
    customers: list[DueCustomer]
    more: bool = Field(description="True when the list was cut at its limit: more exist.")


class LateChange(Answer):
    proposal_id: str
    customer_id: str
    key_fields: list[str]
    happened_on: str
    recorded_at: str
    record_by: str | None
    status: str
    proposed_by: str


class LateChangesAnswer(Reflecting):
    late_changes: list[LateChange]
    more: bool = Field(description="True when the list was cut at its limit: more exist.")


class HistoryEvent(Answer):
    version: int
    event: str = Field(description="The event's name: Registered, ChangeProposed, ...")
    recorded_at: str
    actor: str | None
    command_id: str | None
    correlation_id: str | None
    reason: str | None
    facts: dict[str, Any] = Field(description="What the event records, by its kind; "
                                              "change values under ``values``, masked as "
                                              "in every read.")


class HistoryAnswer(Answer):
    customer_id: str
    erased: bool
    events: list[HistoryEvent]


class CustomerState(Answer):
    customer_id: str
    version: int
    erased: bool
    profile: ShownProfile
    pending_proposals: list[str]
    last_review: LastReview | None
    masked_fields: list[str] | None = None
    legal_holds: list[str] = Field(default_factory=list, description="The ids of the legal "
                                   "holds not lifted at that moment (DL-5).")


class LastEvent(Answer):
    version: int
    event: str
    recorded_at: str
    actor: str | None


class CustomerAsOfAnswer(Answer):
    customer: CustomerState
    as_of: str
    last_event: LastEvent


class FoundByAnswer(Reflecting):
    customers: list[CustomerRecord]
    searched_fields: list[str] = Field(description="The fields matched: only those the "
                                                   "reader may read.")


class DuplicateGroup(Answer):
    reason: str = Field(description="same phone, same email, or same name and address")
    customer_ids: list[str]


class DuplicatesAnswer(Reflecting):
    groups: list[DuplicateGroup]


class Step(Answer):
    by: str
    at: str
    position: int


class DeletionRequest(Answer):
    request_id: str
    customer_id: str
    ground: str
    department: str
    stage: str
    rejected_step: str | None
    rejected_reason: str | None
    key_id: str | None
    requested: Step | None
    reviewed: Step | None
    approved: Step | None
    executed: Step | None
    rejected: Step | None
    held_by: list[str] = Field(default_factory=list, description="The legal holds in force "
                               "on the customer of an open request: its execution is refused "
                               "while any is (DL-5).")


class DeletionsAnswer(Reflecting):
    deletions: list[DeletionRequest]


class Erasure(Answer):
    position: int
    at: str


class EarlierHold(Answer):
    hold_id: str
    until: str | None
    placed_position: int
    lifted_position: int | None


class HoldStatement(Answer):
    """What an erasure certificate states of legal holds (DL-5)."""

    in_force_at_execution: bool
    statement: str
    earlier_holds: list[EarlierHold] = Field(description="Holds placed before the execution, "
                                             "each lifted or lapsed by then.")


class CertificateAnswer(Reflecting):
    certificate: str
    customer_id: str
    request_id: str
    ground: str
    department: str
    steps: dict[str, Step | None] = Field(description="requested, reviewed, approved and "
                                                      "executed: by whom, when, at which "
                                                      "position")
    approvers: list[str]
    customer_erased: Erasure | None
    key_id_destroyed: str | None
    key_destroyed: bool | None
    issued_at: str
    key_store_backups_shredded: list[str] = Field(
        default_factory=list, description="the key-store backups whose ring key was "
        "destroyed because they held this customer's key (README, \"Backups and restore\")")
    legal_hold: HoldStatement | None = None


class TrailEntry(Answer):
    position: int
    recorded_at: str
    actor: str | None
    client_address: str | None
    kind: str = Field(description="command, event, read, login, denial, ...")
    operation: str | None
    command_id: str | None
    reason: str | None
    outcome: str | None
    targets: list[str]
    facts: dict[str, Any]


class TrailAnswer(Reflecting):
    entries: list[TrailEntry]


class Anomaly(Answer):
    """One finding; besides its kind, the fields that kind reports (subject, count, ...)."""

    kind: str = Field(description="failed_login_burst, many_customers_read, "
                                  "outside_working_hours, privilege_grant, incident_lock, "
                                  "mass_export")
    subject: str = Field(description="The account or client address it is about.")
    # The fields of some kinds only; an answer holds those of its kind.
    per: str | None = Field(default=None, description="account or address (login bursts)")
    count: int | None = None
    first_at: str | None = None
    last_at: str | None = None
    hour: str | None = Field(default=None, description="The hour read in (many reads).")
    threshold: int | None = None
    at: str | None = None
    operation: str | None = None
    position: int | None = None
    role: str | None = Field(default=None, description="The role granted (grants).")
    step: str | None = Field(default=None, description="requested, approved or granted; "
                                                       "requested or exported (mass exports)")
    by: str | None = None


class AnomaliesAnswer(Reflecting):
    since: str
    until: str
    anomalies: list[Anomaly]


class LegalHold(Answer):
    """One legal hold as its review shows it (DL-5)."""

    hold_id: str
    customer_id: str
    reference: str
    reason: str = Field(description="Sealed under the customer's key: [erased] once the "
                                    "customer is.")
    until: str | None = Field(description="The last day in force; null: until lifted.")
    placed: Step
    lifted: Step | None
    in_force: bool
    lapsed: bool = Field(description="Not lifted, but past its until day.")
    blocks: list[str] = Field(description="Open deletion requests of the customer that "
                                          "cannot be executed while the hold is in force.")


class LegalHoldsAnswer(Reflecting):
    holds: list[LegalHold]
    more: bool = Field(description="True when the list was cut at its limit: more exist.")
