"""The training follower: the one place where an expired assessment suspends a grant (TR-3).

Suspension is due for two reasons: time passes (an assessment's last valid day goes by, a
new employee's window ends) and the log moves (a new pass, a second administrator, a new
grant). So the follower looks again whenever the business day changes or an account event
was stored since its last look, and otherwise costs one read of the log's head. It decides
on each account read-only and sends ``apply-training-rules`` through the bus only for an
account with something to change, so an idle follower writes nothing. The command id
names the account version decided on: two processes deciding the same change send the same
command, and the second gets the first's outcome (the bus's idempotency), never a second
suspension.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.application import AggregateNotFoundError

from commands.actor import Actor
from commands.bus import MessageBus
from commands.ports import Clock
from commands.training import ApplyTrainingRules, rules_for
from ledger.domain.account import REGISTRY_ID, Account, AccountRegistry, AccountStatus, account_id
from ledger.domain.errors import ConflictError
from ledger.domain.training import AssessmentRecorded, GrantSuspended
from ledger.follower import BackgroundFollower
from ledger.policy import Policy
from ledger.store import LedgerStore

FOLLOWER_ACTOR = Actor("ledger:training-follower", frozenset({"sysadmin"}),
                       client_address="ledger")
"""Who the follower's commands are recorded as: the ledger itself, applying the policy."""

ACCOUNT_TOPICS = [f"{cls.__module__}:{cls.__qualname__}" for cls in (
    Account.Created, Account.Disabled, Account.RoleGrantRequested, Account.RoleGrantApproved,
    Account.RoleRevoked, AssessmentRecorded, GrantSuspended)]


class TrainingFollower(BackgroundFollower):
    """Suspends grants whose assessment expired and lifts them on a new pass."""

    thread_name = "ledger-training"
    failure_event = "training_batch_failed"

    def __init__(self, store: LedgerStore, bus: MessageBus, policy: Policy, clock: Clock
                 ) -> None:
        self.store = store
        self.bus = bus
        self.policy = policy
        self.clock = clock
        self._seen = -1
        self._looked_on: date | None = None
        super().__init__()

    def run_once(self) -> int:
        """Apply the training rules if the day changed or an account moved; return how many
        accounts changed."""
        today = self.policy.business_date(self.clock())
        head = self.store.head_position()
        if today == self._looked_on and not self._accounts_moved(head):
            return 0
        changed = self.apply_rules(today)
        self._looked_on, self._seen = today, head
        return changed

    def _accounts_moved(self, head: int) -> bool:
        if head <= self._seen:
            return False
        return bool(self.store.app_recorder.select_notifications(
            start=self._seen, limit=1, stop=head, topics=ACCOUNT_TOPICS,
            inclusive_of_start=False))

    def apply_rules(self, today: date) -> int:
        """Send ``apply-training-rules`` for each account with a grant to suspend or lift."""
        if not self.policy.training.required_for_grants:
            return 0
        accounts = self._accounts()
        # The initial administrator's exemption: nothing lapses before a second one exists.
        if sum(1 for account in accounts
               if account.grants.get("sysadmin", {}).get("active")) < 2:
            return 0
        changed = 0
        for account in accounts:
            suspend, lift = account.grant_lapses(rules_for(self.policy.training, account),
                                                 today)
            if not (suspend or lift):
                continue
            command = ApplyTrainingRules(
                username=account.username,
                command_id=f"training:{account.username}:{account.version}:{today.isoformat()}")
            try:
                outcome = self.bus.execute(command, FOLLOWER_ACTOR)
            except ConflictError:
                continue  # the account moved meanwhile: the next look decides again
            changed += bool(outcome["result"]["changed"])
        return changed

    def _accounts(self) -> list[Account]:
        """Every account that is not disabled, as stored now."""
        try:
            registry: object = self.store.repository.get(REGISTRY_ID)
        except AggregateNotFoundError:
            return []  # no account yet
        if not isinstance(registry, AccountRegistry):  # pragma: no cover - fixed id
            return []
        accounts = []
        for username in registry.usernames:
            account: object = self.store.repository.get(account_id(username))
            if isinstance(account, Account) and account.status is not AccountStatus.DISABLED:
                accounts.append(account)
        return accounts
