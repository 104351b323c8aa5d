"""Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): two worker processes count commands
into the shared directory, and a scrape answered by one of them adds both up, the log's
figures beside them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import sys
from service.metrics import Figures, MetricsEndpoint

figures = Figures(head_position=42, projection_positions={"customer_view": 40},
                  projection_last_progress={"customer_view": 1.0}, sealed_position=40,
                  sealing_lag=2, audit_last_write=1.0)
endpoint = MetricsEndpoint(lambda: figures)
for _ in range(int(sys.argv[1])):
    endpoint.operations.command_done("register-customer", "accepted", 0.002)
if sys.argv[2] == "scrape":
    sys.stdout.write(endpoint.render().decode())
"""


def _run(directory: Path, count: int, scrape: bool) -> str:
    environment = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory),
                                "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}
    done = subprocess.run([sys.executable, "-c", WORKER, str(count),
                           "scrape" if scrape else "count"],
                          env=environment, capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout


def test_every_workers_counts_are_added_up_in_one_scrape(tmp_path: Path) -> None:
    _run(tmp_path, 3, scrape=False)
    text = _run(tmp_path, 4, scrape=True)  # the scrape adds the other worker's 3

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    key = ("ledger_commands_total", (("command", "register-customer"),
                                     ("outcome", "accepted")))
    assert samples[key] == 7
    assert samples[("ledger_command_duration_seconds_count",
                    (("command", "register-customer"),))] == 7
    assert samples[("ledger_head_position", ())] == 42
    assert any(path.suffix == ".db" for path in tmp_path.iterdir())
