"""Trace marks of an export (EX-1, EX-4), all keyed by the ledger's secret key.

Three layers, so a part of a leaked file still names its export:

- the visible mark names the export id, exporter, time and query hash, with a keyed tag
  so a mark copied onto another file, or edited, does not verify;
- the row order: rows are sorted by a keyed PRF (HMAC-SHA-256) of the export id and the
  customer id, so any 20 rows in their file order match one export's order by chance with
  a probability of 1/20! (about 4e-19);
- canary rows: synthetic customers derived from an HMAC of the export id: a company name
  from the stems shipped in ``ledger/data/canary_names.txt``, phone and fax numbers in
  Ofcom's range reserved for drama (+44 7700 900000-900999, never assigned), an address
  under the reserved ``.example`` domain. Nobody without the key can tell them from real
  rows, or forge one.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

from ledger.domain.profile import SourceChannel

_CONTEXT = b"ledger export trace marks v1"
_DESCRIPTORS = ("Trading", "Logistics", "Machinery", "Electronics", "Textiles", "Foods",
                "Instruments", "Materials", "Packaging", "Engineering")
_CITIES = ("Ningbo", "Suzhou", "Xiamen", "Qingdao", "Dalian", "Foshan", "Wuxi", "Hefei",
           "Changzhou", "Yantai")
_CHANNELS = tuple(channel.value for channel in SourceChannel)
# Ofcom keeps 07700 900000-900999 unassigned, for drama: no real line ever has one.
_RESERVED_MOBILE = "+447700900"
MIN_CANARIES, MAX_CANARIES, ROWS_PER_CANARY = 3, 100, 10


@cache
def canary_stems() -> tuple[str, ...]:
    text = resources.files("ledger").joinpath("data/canary_names.txt").read_text(
        encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines()
                 if line.strip() and not line.startswith("#"))


def canary_count(real_rows: int) -> int:
    """How many canaries a file of ``real_rows`` customers holds: one per ten rows, at least
    three and at most a hundred; none in a file with no customer."""
    if real_rows == 0:
        return 0
    return min(MAX_CANARIES, max(MIN_CANARIES, math.ceil(real_rows / ROWS_PER_CANARY)))


def canary_candidates(count: int) -> range:
    """The canary indices ``identify`` tries for an export of ``count`` canaries: those it
    held, and those skipped because a real customer happened to share a value."""
    return range(count * 2 + 16)


@dataclass(frozen=True)
class Canary:
    """One synthetic customer of one export."""

    customer_id: str
    name: str
    phone: str
    fax: str
    email: str
    source_channel: str
    age_days: int
    version: int

    def value(self, column: str, exported_at: datetime) -> Any:
        """The canary's value in ``column`` (None where it has none)."""
        values: dict[str, Any] = {
            "customer_id": self.customer_id, "version": self.version,
            "registered_at": (exported_at - timedelta(days=self.age_days)).isoformat(),
            "basic.name": self.name, "basic.phone": self.phone, "basic.fax": self.fax,
            "basic.email": self.email, "source_channel": self.source_channel,
        }
        return values.get(column)

    def searchable(self) -> dict[str, str]:
        """The values a real customer could share, by path (checked against the index)."""
        return {"basic.name": self.name, "basic.phone": self.phone, "basic.fax": self.fax,
                "basic.email": self.email}


class TraceKey:
    """The keyed PRF of the trace marks (HMAC-SHA-256 of the ``cryptography`` library)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def derived(cls, keyed_hash: Any) -> TraceKey:
        """From the ledger's keyed hash (the blind-index key): no new secret to keep."""
        return cls(bytes.fromhex(keyed_hash(_CONTEXT)))

    def prf(self, *parts: str) -> bytes:
        mac = hmac.HMAC(self._key, hashes.SHA256())
        mac.update("\x1f".join(parts).encode())
        return mac.finalize()

    def order_key(self, export_id: str, customer_id: str) -> bytes:
        return self.prf("order", export_id, customer_id)[:12]

    def tag(self, export_id: str, exporter: str, at: str, query: str) -> str:
        """The visible mark's tag: the mark's facts, keyed."""
        return self.prf("mark", export_id, exporter, at, query).hex()[:20]

    def canary(self, export_id: str, index: int) -> Canary:
        seed = self.prf("canary", export_id, str(index))
        stems = canary_stems()
        name = (f"{stems[seed[16] % len(stems)]} {_DESCRIPTORS[seed[17] % len(_DESCRIPTORS)]}"
                f" ({_CITIES[seed[18] % len(_CITIES)]}) Co., Ltd.")
        slug = name.split()[0].lower()
        number = int.from_bytes(seed[19:21]) % 1000
        # Never the phone number itself: a fax equal to it would be one digest, not two.
        fax = (number + 1 + int.from_bytes(seed[21:23]) % 999) % 1000
        return Canary(
            customer_id=str(uuid.UUID(bytes=seed[:16], version=4)), name=name,
            phone=f"{_RESERVED_MOBILE}{number:03d}", fax=f"{_RESERVED_MOBILE}{fax:03d}",
            email=f"office{seed[23] % 100:02d}@{slug}-{seed[24] % 100:02d}.example",
            source_channel=_CHANNELS[seed[25] % len(_CHANNELS)],
            age_days=30 + int.from_bytes(seed[26:28]) % 1500, version=1 + seed[28] % 6)

    def canary_slot(self, export_id: str, index: int, real_rows: int) -> int:
        """Where among the real rows canary ``index`` goes (before that row; at the end for
        ``real_rows``)."""
        return int.from_bytes(self.prf("slot", export_id, str(index))[:8]) % (real_rows + 1)
