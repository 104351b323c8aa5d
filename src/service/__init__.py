"""Adapters around the ledger: bootstrap(), the HTTP app and the ``ledger`` command line."""

from service.bootstrap import Ledger, bootstrap

__all__ = ["Ledger", "bootstrap"]
