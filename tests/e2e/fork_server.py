"""A process that has imported the ``ledger`` command line once and forks a child for each
command a scenario runs (``python -m tests.e2e.fork_server``; the client is
``tests/e2e/forked.py``).

Each child is a process of its own, as ``subprocess`` would start it: its own argv,
environment, working directory, standard streams (files the client names) and exit code,
and no other open descriptor. What it skips is the interpreter's start and the imports,
about four fifths of a short command's CPU, paid here once instead of once per command.

Protocol, one JSON object per line: requests on stdin ``{"argv", "env", "cwd", "stdin",
"stdout", "stderr"}`` (``stderr`` may be ``"stdout"``: both to one file); answers on stdout
``{"started": pid, "child": n}`` for each request in order, and ``{"exited": pid,
"child": n, "returncode": code}`` when a child ends (``-code`` for a signal, as
``subprocess`` reports it). ``n`` counts the children: a pid is reused once its process
has ended, so it does not name a child alone. End of stdin ends
this process; its children are left to finish, like ``subprocess``'s."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import selectors
import signal
import sys
import threading
import traceback
import types
from typing import Any


def serve() -> None:
    import service.cli  # noqa: F401  - the expensive part, once

    if threading.active_count() != 1:
        # A fork copies only the forking thread: a lock another thread held would stay
        # held in every child for ever.
        sys.exit("fork_server: importing the command line started a thread; not forking")
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "requests")
    selector.register(wake_read, selectors.EVENT_READ, "children")
    pending = b""
    children: dict[int, int] = {}
    numbers = itertools.count(1)
    while True:
        for key, _ in selector.select():
            if key.data == "children":
                os.read(wake_read, 4096)
                report_ended_children(children)
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    run_child(json.loads(line))
                children[pid] = next(numbers)
                answer({"started": pid, "child": children[pid]})
        report_ended_children(children)


def report_ended_children(children: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        answer({"exited": pid, "child": children.pop(pid),
                "returncode": os.waitstatus_to_exitcode(status)})


def answer(message: dict[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def run_child(request: dict[str, Any]) -> None:
    """Become the command: never returns."""
    code = 1
    try:
        stdin = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
        stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        stderr = (stdout if request["stderr"] == "stdout" else
                  os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        for source, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(source, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        encoding, errors = sys.stdout.encoding, sys.stdout.errors
        sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding=encoding, errors="backslashreplace",  # noqa: SIM115
                          closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        # As the installed script runs: __main__ is that file (the command line names
        # itself after it in its usage lines), not this module.
        script = types.ModuleType("__main__")
        script.__file__ = sys.argv[0]
        sys.modules["__main__"] = script
        from service.cli import main

        code = exit_code_of(main)
        # What the interpreter does on its way out: wait for the threads it must, then
        # the exit handlers (the command's own clean-up), then flush.
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def exit_code_of(main: Any) -> int:
    """``main()``'s exit status as the interpreter would make it from a ``SystemExit``."""
    try:
        main()
    except SystemExit as done:
        if done.code is None:
            return 0
        if isinstance(done.code, int):
            return done.code
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    serve()
