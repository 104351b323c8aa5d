"""``ledger worker``: the background work outside the service (README, "Running on several
machines")."""

from __future__ import annotations

import signal
import threading
from contextlib import closing
from types import FrameType
from typing import Annotated

import typer

from ledger.domain.messages import N_, message
from ledger.logging import configure_logging
from service.bootstrap import bootstrap
from service.cli.common import literal, out, redacted, run, settings, tr
from service.processes import check_background_elsewhere
from service.worker import Worker, chosen_jobs


def worker(
    projections: Annotated[list[str] | None, typer.Option(
        "--projections", metavar="NAME",
        help="Drive only these read models (repeat, or separate by commas; "
             "`ledger projections status` lists them).")] = None,
    sealer: Annotated[bool, typer.Option(
        "--sealer", help="Drive the integrity sealer.")] = False,
    followers: Annotated[bool, typer.Option(
        "--followers", help="Drive the erasure and training followers.")] = False,
) -> None:
    """Keep the read models current and seal the log outside the service (PostgreSQL):
    with no option, every job; any number of workers on any machines share them, each job
    driven by one worker at a time (a PostgreSQL advisory lock) and taken over within a
    second or so when its worker dies. Runs until SIGTERM or SIGINT."""
    names = [name.strip() for option in projections or [] for name in option.split(",")
             if name.strip()]
    chosen = run(settings)
    run(lambda: check_background_elsewhere(chosen, "ledger worker", "database_url",
                                                 N_("run no worker")))
    configure_logging(chosen)
    # Tables are created where missing (``ledger init`` first avoids a race of many).
    ledger = run(lambda: bootstrap(chosen, start_projections=False))
    with closing(ledger):
        jobs = run(lambda: chosen_jobs(ledger, names, sealer, followers))
        process = Worker(ledger, jobs)
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {number: signal.signal(number, stop)
                    for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            process.start()
            out.print(literal(tr(message(
                "Ledger worker {process} started, may drive {count} jobs (store: {store})",
                process=process.process, count=len(jobs),
                store=redacted(chosen.database_url)))),
                      highlight=False, soft_wrap=True)
            while not stopping.wait(1.0):
                pass
        finally:
            process.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
    out.print(tr(N_("Ledger worker stopped")), highlight=False)
