"""The customer ledger: an event-sourced store of customer records under a data policy."""

__version__ = "0.1.0"
