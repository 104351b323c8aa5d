"""``ledger`` commands and servers in processes of their own, forked from one that has
already imported the command line (``tests/e2e/fork_server.py``).

``run_ledger`` answers like ``subprocess.run([LEDGER, ...], capture_output=True,
text=True, timeout=...)`` and ``spawn_ledger`` gives a handle like ``subprocess.Popen``'s,
so the scenarios read the same; each command still runs in a real separate process with
its own environment, working directory, streams and exit code. Scenarios about the
executable itself (its start-up, the README's commands as typed, several server processes)
start the installed ``ledger`` instead."""

from __future__ import annotations

import atexit
import json
import locale
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LEDGER = str(Path(sys.executable).with_name("ledger"))
FORK_SERVER_START_TIMEOUT = 120.0


class ForkServer:
    """One fork server per test process, started on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # One request at a time, so the pid answered is the pid of this request's child.
        self.forking = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.started: list[tuple[int, int]] = []
        self.ended: dict[int, int] = {}
        self.changed = threading.Condition(self.lock)

    def fork(self, request: dict[str, Any]) -> tuple[int, int]:
        """Send one request; the new child's pid and number."""
        with self.forking, self.changed:
            process = self._running()
            assert process.stdin is not None
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
            deadline = time.monotonic() + FORK_SERVER_START_TIMEOUT
            while not self.started:
                if process.poll() is not None:
                    raise RuntimeError(f"the fork server exited with {process.returncode}")
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("the fork server did not fork within "
                                       f"{FORK_SERVER_START_TIMEOUT}s")
            return self.started.pop(0)

    def returncode(self, child: int, timeout: float | None) -> int | None:
        """Child number ``child``'s exit status once it has ended; None if it has not
        within ``timeout`` seconds (0: just look)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while child not in self.ended:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError("the fork server ended before its child did")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self.changed.wait(timeout=remaining)
            return self.ended[child]

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.started.clear()
            self.ended.clear()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.fork_server"], cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            threading.Thread(target=self._read_answers, args=(self.process,),
                             daemon=True).start()
        return self.process

    def _read_answers(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            message = json.loads(line)
            with self.changed:
                if "started" in message:
                    self.started.append((message["started"], message["child"]))
                else:
                    self.ended[message["child"]] = message["returncode"]
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


FORK_SERVER = ForkServer()
atexit.register(FORK_SERVER.close)


class ForkedProcess:
    """The part of ``subprocess.Popen`` the scenarios use, for a forked ``ledger``."""

    def __init__(self, started: tuple[int, int], args: list[str]) -> None:
        self.pid, self.child = started
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = FORK_SERVER.returncode(self.child, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = FORK_SERVER.returncode(self.child, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def spawn_ledger(args: list[str], *, cwd: Path, env: dict[str, str], log: Path
                 ) -> ForkedProcess:
    """``ledger args`` started with stdout and stderr appended to ``log``, stdin empty."""
    argv = [LEDGER, *args]
    started = FORK_SERVER.fork({"argv": argv, "env": env, "cwd": str(cwd), "stdin": None,
                                "stdout": str(log), "stderr": "stdout"})
    return ForkedProcess(started, argv)


def run_ledger(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``ledger args`` to its end, as ``subprocess.run(..., capture_output=True,
    text=True, check=False)`` would run it (stdin empty unless ``input``)."""
    argv = [LEDGER, *args]
    encoding = locale.getpreferredencoding(False)
    with tempfile.TemporaryDirectory(prefix="ledger-run-") as streams:
        stdin = None
        if input is not None:
            stdin = str(Path(streams, "stdin"))
            Path(stdin).write_text(input, encoding=encoding)
        stdout, stderr = Path(streams, "stdout"), Path(streams, "stderr")
        process = ForkedProcess(FORK_SERVER.fork({
            "argv": argv, "env": env, "cwd": str(cwd), "stdin": stdin,
            "stdout": str(stdout), "stderr": str(stderr)}), argv)
        try:
            returncode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
            raise subprocess.TimeoutExpired(argv, timeout, read(stdout, encoding),
                                            read(stderr, encoding)) from None
        return subprocess.CompletedProcess(argv, returncode, read(stdout, encoding),
                                           read(stderr, encoding))


def read(path: Path, encoding: str) -> str:
    return path.read_text(encoding=encoding) if path.exists() else ""
