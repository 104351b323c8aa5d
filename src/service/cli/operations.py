"""Running and looking after the ledger: ``serve``, ``init``, ``projections``, ``policy``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn

from commands.actor import Actor
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, as_message, message
from ledger.logging import configure_logging
from ledger.settings import Settings
from service.bootstrap import bootstrap
from service.cli.common import (
    LOCAL_ADMINISTRATOR_ROLES,
    cell,
    emphasised,
    err,
    literal,
    local_administrator,
    local_ledger,
    options,
    out,
    redacted,
    refuse_url,
    run,
    settings,
    show,
    table,
    tr,
)
from service.first_admin import check_listening, ensure_first_administrator
from service.listener import bound_socket
from service.metrics import MULTIPROCESS_DIRECTORY
from service.policy import load_service_policy
from service.preflight import PathUnusableError
from service.processes import (
    PROJECTION_JOB,
    background_jobs,
    check_background_elsewhere,
    check_several_processes,
    drivers,
    projection_job,
)

# Seconds an idle HTTP connection stays open (above ``service.client``'s keep-alive).
KEEP_ALIVE_SECONDS = 30
# How long uvicorn's supervisor waits for a server process to answer its ping before it
# kills the process as hung and starts another. Its default, 5 s, is shorter than a
# spawned process takes to import the service on a loaded machine: the supervisor then
# killed a starting process, and a connection it had just accepted was reset.
WORKER_PING_TIMEOUT_SECONDS = 60

projections_app = typer.Typer(help="Read models: status and rebuild.", no_args_is_help=True)
policy_app = typer.Typer(help="The policy values in force.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS.")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")
                       ] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Allow plain HTTP on a non-loopback address (not advised).")
                        ] = False,
    workers: Annotated[int | None, typer.Option(
        help="Server processes on this port (PostgreSQL only; default $LEDGER_WORKERS, "
             "else 1).")] = None,
    no_background: Annotated[bool, typer.Option(
        "--no-background",
        help="Leave the read models, the sealer and the followers to `ledger worker` "
             "processes (PostgreSQL only; same as LEDGER_RUN_BACKGROUND=false).")] = False,
) -> None:
    """Serve the HTTP API (and keep the read models current); HTTPS with --tls-cert."""
    import uvicorn

    from service.http import create_app

    run(refuse_url)  # the service serves its own database, never one at --url
    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port  # 0 too: refused by the settings, not taken as "unset"
    if workers is not None:
        overrides["workers"] = workers
    if no_background:
        overrides["run_background"] = False
    chosen = run(lambda: settings(**overrides))
    run(lambda: check_several_processes(chosen, chosen.workers))
    if not chosen.run_background:
        run(lambda: check_background_elsewhere(chosen, "serve --no-background", "background",
                                               N_("serve without --no-background")))
    if (tls_cert is None) != (tls_key is None):
        run(lambda: fail_usage(N_("give both --tls-cert and --tls-key")))
    if tls_cert is not None and tls_key is not None:
        run(lambda: check_certificate(tls_cert, tls_key))
    warning = run(lambda: check_listening(chosen.host, tls_cert is not None, insecure,
                                          "--host" if host else "LEDGER_HOST"))
    if warning:
        err.print(warning, style="bold yellow", highlight=False, soft_wrap=True)
    configure_logging(chosen)
    # The port is taken before anything is built, so a busy port is one clear error and
    # leaves no key file or database behind; uvicorn serves on this very socket.
    listener = run(lambda: bound_socket(chosen.host, chosen.port))
    # Built before listening, so a missing key or a wrong KEK is a clear error and an exit
    # code, not a server start-up traceback after a "listening" line.
    try:
        # With several processes this one only supervises: its followers would not run.
        ledger = run(lambda: bootstrap(chosen, start_projections=False
                                       if chosen.workers > 1 else None))
    except BaseException:
        listener.close()
        raise
    scheme = "https" if tls_cert else "http"
    out.print(literal(tr(message(
        "Customer ledger listening on {address} (store: {store}; API docs at /docs)",
        address=f"{scheme}://{chosen.host}:{chosen.port}",
        store=redacted(chosen.database_url)))), highlight=False, soft_wrap=True)
    # No access log: at this level it was never written, yet uvicorn still gathered each
    # request's fields for it; the ledger audits what matters itself.
    # Idle connections are kept longer than uvicorn's 5 s, and longer than the client's
    # keep-alive, so a clerk's next command seconds later reuses its connection (no new TCP
    # and TLS handshake) rather than racing the server's close.
    server_options: dict[str, Any] = dict(
        host=chosen.host, port=chosen.port, log_level="warning", access_log=False,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local process
        # could then pose as another address to the allowed-networks check and the audit
        # trail. The ledger takes the socket's address.
        proxy_headers=False,
        # Naming the server and its version only helps an attacker choose.
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None)
    if chosen.workers > 1:
        # The ledger built above proved the settings, keys and databases and created the
        # tables (once, not raced by N processes); each server process builds its own.
        ledger.close()
        with closing(listener):
            serve_in_processes(chosen, listener, server_options)
        out.print(tr(N_("Customer ledger stopped")), highlight=False)
        return
    with signals_stop_the_server(), closing(ledger), closing(listener):
        config = uvicorn.Config(create_app(ledger), **server_options)
        uvicorn.Server(config).run(sockets=[listener])
    out.print(tr(N_("Customer ledger stopped")), highlight=False)


def serve_in_processes(chosen: Settings, listener: socket.socket,
                       server_options: dict[str, Any]) -> None:
    """uvicorn's own multiprocess supervisor on the socket bound above: N spawned server
    processes accept on it, each bootstrapping its own ledger from the environment (the
    app factory), and one that dies is replaced. They share nothing but the databases.

    The children read their settings from the environment, so what this command was told
    on its command line goes there first (the global --database-url)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ["LEDGER_DATABASE_URL"] = chosen.database_url
    os.environ["LEDGER_WORKERS"] = str(chosen.workers)
    os.environ["LEDGER_RUN_BACKGROUND"] = str(chosen.run_background).lower()
    # /metrics must add up every process's counters, whichever process a scrape reaches:
    # prometheus-client's multiprocess mode, in a directory of this run's own unless the
    # operator named one (README, "Operations").
    own_metrics_directory = None
    if not os.environ.get(MULTIPROCESS_DIRECTORY):
        own_metrics_directory = tempfile.mkdtemp(prefix="ledger-metrics-")
        os.environ[MULTIPROCESS_DIRECTORY] = own_metrics_directory
    config = uvicorn.Config("service.http:create_app", factory=True,
                            workers=chosen.workers,
                            timeout_worker_healthcheck=WORKER_PING_TIMEOUT_SECONDS,
                            **server_options)
    try:
        # SIGTERM and SIGINT stop the supervisor, which stops its children gracefully
        # (each closes its ledger in the app's lifespan) and returns.
        Multiprocess(config, sockets=[listener]).run()
    finally:
        if own_metrics_directory is not None:
            shutil.rmtree(own_metrics_directory, ignore_errors=True)


@contextmanager
def signals_stop_the_server() -> Iterator[None]:
    """SIGTERM and SIGINT end ``serve`` like a normal return: exit code 0, clean-up done.

    uvicorn stops gracefully on either, then raises the signal again on the handler it
    found installed: by default that kills the process (143) or raises KeyboardInterrupt,
    both before the ledger's clean-up (spare keys released, pools closed) can run. The
    handler found is this one, so the signal has done its work once uvicorn has returned."""
    def already_stopping(signum: int, frame: FrameType | None) -> None:
        """uvicorn has stopped serving; what remains is the clean-up."""

    previous = {number: signal.signal(number, already_stopping)
                for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def check_certificate(cert: Path, key: Path) -> None:
    """The certificate and key load as uvicorn will load them, before anything is bound or
    printed: a missing file or one that is not PEM is one clear error, not a traceback
    after the "listening" line."""
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file() or not os.access(path, os.R_OK):
            raise PathUnusableError(message("{option} {path}: no readable file there",
                                            option=option, path=str(path)))
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError):
        fail_usage(N_("--tls-cert and --tls-key must be a PEM certificate and its private "
                      "key (unencrypted), which belong together"))


def fail_usage(message: str) -> None:
    raise ValidationFailedError([Problem("tls", message)], message)


def init() -> None:
    """Create the tables if they do not exist yet, and the first administrator if none."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            actor = Actor(local_administrator(), frozenset(LOCAL_ADMINISTRATOR_ROLES), "cli")
            created = ensure_first_administrator(ledger, actor)
            return {"database": redacted(ledger.settings.database_url),
                    "head_position": ledger.store.head_position(),
                    "projections": ledger.runner.positions(),
                    "first_administrator": created}

    def render(r: dict[str, Any]) -> None:
        out.print(literal(tr(message("Ledger ready: {database} (head position {position})",
                                     database=r["database"], position=r["head_position"]))),
                  highlight=False, soft_wrap=True)
        admin = r["first_administrator"]
        if admin:
            out.print(emphasised(message(
                "First administrator: {username}, one-time password {password} (shown once; "
                "also in {path}, readable by you only). Log in and change it.",
                username=admin["username"], password=admin["one_time_password"],
                path=admin["written_to"]), "username", "password"),
                highlight=False, soft_wrap=True)

    show(run(action), render)


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="Projections (default: all).")] = None,
) -> None:
    """Empty read models and rebuild them from the whole event log."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            unknown = [n for n in names or [] if n not in ledger.runner.projections]
            if unknown:
                raise ValidationFailedError([
                    Problem("names", message("unknown projection: {name}", name=n))
                    for n in unknown])
            head = ledger.store.head_position()
            with Progress(TextColumn("rebuilding"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} events"),
                          console=err, disable=options.json) as bar:
                task = bar.add_task("rebuild", total=head)
                read = ledger.runner.rebuild(
                    names, progress=lambda _, done, __: bar.update(task, completed=done))
            return {"rebuilt": names or sorted(ledger.runner.projections),
                    "events_read": read, "positions": ledger.runner.positions()}

    show(run(action), lambda r: out.print(
        literal(tr(message("Rebuilt {names}: positions {positions}",
                           names=tuple(r["rebuilt"]), positions=r["positions"]))),
        highlight=False, soft_wrap=True))


@projections_app.command("status")
def projections_status() -> None:
    """How far each read model has got, against the head of the event log, and which
    `ledger worker` drives each job (PostgreSQL; "-": none, or the service itself)."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            jobs = background_jobs(list(ledger.runner.projections))
            return {"head_position": ledger.store.head_position(),
                    "projections": ledger.runner.positions(),
                    # The lock table: which `ledger worker` drives each job now.
                    "driven_by": drivers(ledger.views, jobs, in_process=False)}

    def render(r: dict[str, Any]) -> None:
        rows = table("projection", "position", "behind", "driven by")
        for name, position in sorted(r["projections"].items()):
            rows.add_row(name, str(position), str(r["head_position"] - position),
                         r["driven_by"].get(projection_job(name), "-"))
        for job, process in r["driven_by"].items():
            if not job.startswith(PROJECTION_JOB):
                rows.add_row(job, "", "", process)
        out.print(rows)

    show(run(action), render)


@policy_app.command("show")
def policy_show() -> None:
    """Print the policy values in force (defaults overlaid by LEDGER_POLICY_FILE)."""
    def action() -> dict[str, Any]:
        refuse_url()  # it reads this machine's policy file, never a service's
        chosen = settings()
        policy = load_service_policy(chosen.policy_file)
        return {"policy_file": str(chosen.policy_file) if chosen.policy_file else None,
                "values": policy.model_dump(mode="json")}

    def render(r: dict[str, Any]) -> None:
        rows = table("setting", "value", title=tr(message(
            "Policy ({file})", file=r["policy_file"] or as_message(N_("defaults")))))
        for key, value in r["values"].items():
            rows.add_row(key, cell(value))
        out.print(rows)

    show(run(action), render)
