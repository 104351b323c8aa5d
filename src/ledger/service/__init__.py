"""Adapters around the ledger: bootstrap(), the HTTP app and the ``ledger`` command line."""

from ledger.service.bootstrap import Ledger, bootstrap

__all__ = ["Ledger", "bootstrap"]
