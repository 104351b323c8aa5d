"""Where the CPU of a run went, from /proc: how busy the machine was, and how many seconds
the ledger's processes and PostgreSQL's each spent. Divided by the work done, that is the
CPU one command (or one event) costs, and the cores divided by that cost is the most this
machine could do however the work were spread: the "2-core limit" of issue 13.

Linux only (the benchmarks' machine); elsewhere every figure is 0 and no limit is given.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


class CpuBusy:
    """The share of every core's time spent busy (not idle, not waiting on I/O) while the
    block ran, from /proc/stat: how close a run came to what this machine has. It counts
    every process, this one's clients, the servers, the workers and PostgreSQL alike."""

    def __enter__(self) -> CpuBusy:
        self._start = self._read()
        self.share = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        (busy0, total0), (busy1, total1) = self._start, self._read()
        self.share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0

    @staticmethod
    def _read() -> tuple[int, int]:
        try:
            first = (PROC / "stat").read_text().split("\n")[0]
        except OSError:
            return 0, 0
        fields = [int(value) for value in first.split()[1:8]]
        idle = fields[3] + fields[4]  # idle and iowait
        return sum(fields) - idle, sum(fields)


def _stat(pid: int) -> tuple[str, int, float, float] | None:
    """(name, parent pid, own CPU seconds, reaped children's CPU seconds) of a process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # After the name: state, ppid, ... utime (14th field overall), stime, cutime, cstime.
    own = (int(fields[11]) + int(fields[12])) / _TICK
    reaped = (int(fields[13]) + int(fields[14])) / _TICK
    return name, int(fields[1]), own, reaped


def _processes() -> dict[int, tuple[str, int, float, float]]:
    found = {}
    for entry in PROC.glob("[0-9]*"):
        stat = _stat(int(entry.name))
        if stat is not None:
            found[int(entry.name)] = stat
    return found


def _descendants(roots: Iterable[int], table: dict[int, tuple[str, int, float, float]]
                 ) -> set[int]:
    chosen = {pid for pid in roots if pid in table}
    grew = True
    while grew:
        more = {pid for pid, (_, parent, _, _) in table.items()
                if parent in chosen and pid not in chosen}
        chosen |= more
        grew = bool(more)
    return chosen


def postgres_seconds(database_url: str) -> float:
    """CPU seconds spent so far by the PostgreSQL backends connected to this database (the
    other databases of a shared server, a test suite's say, are not counted). A backend
    that exits between two readings takes its CPU with it: the ledger's pools keep their
    connections for the whole of a run."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        pids = [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()]
    table = _processes()
    return sum(table[pid][2] for pid in pids if pid in table)


def tree_seconds(roots: Iterable[int]) -> float:
    """CPU seconds spent by these processes and every descendant still running, plus what
    they collected from descendants that exited."""
    table = _processes()
    return sum(table[pid][2] + table[pid][3] for pid in _descendants(roots, table))


def limit_per_second(cores: int, cpu_seconds_per_item: float) -> float:
    """The most items a second ``cores`` cores could do at this CPU cost per item."""
    return cores / cpu_seconds_per_item if cpu_seconds_per_item > 0 else 0.0


class CpuSpent:
    """CPU seconds each part spent while the block ran: named process trees (servers,
    workers), PostgreSQL's backends on the run's database, and this process (the
    benchmark's own clients)."""

    def __init__(self, database_url: str, **trees: list[int]) -> None:
        self.database_url = database_url
        self.trees = trees
        self.seconds: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        found = {name: tree_seconds(pids) for name, pids in self.trees.items()}
        return found | {"postgres": postgres_seconds(self.database_url),
                        "clients": time.process_time()}

    def __enter__(self) -> CpuSpent:
        self._start = self._read()
        return self

    def __exit__(self, *_: object) -> None:
        end = self._read()
        self.seconds = {name: end[name] - self._start[name] for name in end}


def per_item_note(parts: dict[str, list[float]], service_parts: tuple[str, ...],
                  unit: str) -> tuple[str, float]:
    """("CPU per <unit>: ..." for each part's median ms, the service's limit per second on
    this machine's cores): the service is ``service_parts`` (the clients are not)."""
    cores = os.cpu_count() or 1
    medians = {name: statistics.median(values) for name, values in parts.items() if values}
    service = sum(medians.get(name, 0.0) for name in service_parts)
    limit = limit_per_second(cores, service)
    spent = ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in medians.items())
    return (f"CPU per {unit}: {spent}; {' + '.join(service_parts)} at most "
            f"{limit:,.0f} {unit}s/s on {cores} cores", limit)
