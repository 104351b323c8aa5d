"""Benchmarks of the customer ledger: each figure next to a baseline measured in the same run.

Run ``python -m bench`` (all benchmarks, full size, writes ``bench/RESULTS.md``),
``python -m bench --quick`` (a smoke run at a tiny size) or ``python -m bench --only NAME``.
Performance is measured here and only here, never in timed tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Realistic profiles come from the test factories; make ``tests`` importable from anywhere.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
