"""The policy as the service loads it: the ledger's loader, told every operation name.

The permission table names commands and queries, which live above the policy module
(import contracts); this module knows them all, so every start and ``ledger policy show``
refuse an operation no command or query has.
"""

from __future__ import annotations

from pathlib import Path

from commands.registry import ALL_COMMANDS, EXPORT_COMMANDS, SECOND_FACTOR_COMMANDS
from ledger.policy import Policy, load_policy
from projections.export_identify import IdentifyExport
from service.query_routes import QUERY_CLASSES

METRICS_OPERATION = "metrics"
"""Reading ``GET /metrics`` (FT-1): neither a command nor a query, but permitted alike."""
KNOWN_OPERATIONS = (frozenset(ALL_COMMANDS) | frozenset(SECOND_FACTOR_COMMANDS)
                    | frozenset(QUERY_CLASSES) | {METRICS_OPERATION}
                    | frozenset(EXPORT_COMMANDS) | frozenset({IdentifyExport.name}))
"""Every operation a permission may name: each command (the second factor's too), each
query, and reading the metrics."""


def load_service_policy(path: Path | None = None) -> Policy:
    """The policy at ``path`` over the defaults, with its operation names checked."""
    return load_policy(path, operations=KNOWN_OPERATIONS)
