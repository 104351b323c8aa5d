"""Where the figures were measured: machine, versions, and the database settings in force."""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg

POSTGRES_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method",
                     "shared_buffers", "commit_delay", "max_connections")


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _filesystem(path: str) -> str:
    """The file system type of the mount that holds ``path`` (Linux), or "?"."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and path.startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    memory = _first("/proc/meminfo", "MemTotal")
    ram = f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory else "?"
    temp = tempfile.gettempdir()
    return {
        "CPU": _first("/proc/cpuinfo", "model name") or platform.processor() or "?",
        "Cores": f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})",
        "RAM": ram,
        "OS": platform.platform(),
        "SQLite files": f"{temp} ({_filesystem(temp)})",
    }


def load() -> tuple[float, float | None]:
    """The 1-minute load average, and the share of the last minute some task waited for a
    CPU (Linux pressure stall information), in percent, if the kernel reports it."""
    average = os.getloadavg()[0]
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        fields = dict(part.split("=") for part in some.split()[1:])
        return average, float(fields["avg60"])
    except (OSError, IndexError, KeyError, ValueError):
        return average, None


def describe_load(start: tuple[float, float | None], end: tuple[float, float | None]) -> str:
    cores = os.cpu_count() or 1
    text = (f"1-minute load average (this run and its PostgreSQL server included) "
            f"{start[0]:.2f} at the start, {end[0]:.2f} at the end")
    if start[1] is not None and end[1] is not None:
        text += (f"; CPU pressure (share of the last minute a task waited for a CPU) "
                 f"{start[1]:.0f}% at the start, {end[1]:.0f}% at the end")
    # The bench itself keeps about one core busy; beyond the cores, someone else is running.
    if max(start[0], end[0]) > cores:
        text += (f". Other processes competed for the {cores} cores during this run: the "
                 "absolute figures are depressed, the same-run ratios are the meaningful part")
    return text


def versions() -> dict[str, str]:
    return {
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "eventsourcing": _package("eventsourcing"),
        "psycopg": _package("psycopg"),
        "pydantic": _package("pydantic"),
    }


def sqlite_settings() -> dict[str, str]:
    """What a connection made like the library's gets: WAL journal, default synchronous."""
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(str(Path(folder) / "probe.sqlite3"), isolation_level=None)
        try:
            journal = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            connection.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {"journal_mode": str(journal), "synchronous": names.get(synchronous, str(synchronous))}


def postgres_info(admin_url: str) -> tuple[str, dict[str, str]]:
    """The server's version and the settings that decide commit cost, read from the server."""
    with psycopg.connect(admin_url, connect_timeout=3) as connection:
        server = str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        settings = {}
        for name in POSTGRES_SETTINGS:
            row = connection.execute(
                "SELECT setting, unit FROM pg_settings WHERE name = %s", (name,)).fetchone()
            if row is not None:
                settings[name] = str(row[0]) + (f" x {row[1]}" if row[1] else "")
        shown = connection.execute("SHOW shared_buffers").fetchone()
        if shown is not None:
            settings["shared_buffers"] = str(shown[0])
    return server, settings
