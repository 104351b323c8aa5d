"""(f) Backups: ``ledger backup full`` and ``ledger backup restore`` over a sealed store, and
the restore drill's time to recover.

Figures: events/s of a full backup (one snapshot; every record and seal read, written as
JSON lines, compressed, AES-256-GCM encrypted in 1 MiB chunks, the manifest signed), and of
a restore of that backup into an empty database of the same backend (every file checked
and the chain walked first, then records, seals and checkpoints inserted in one
transaction, then the restored chain verified). Baseline, same run: the same bytes moved
raw: on SQLite a file copy of the database file, on PostgreSQL ``COPY ledger_events TO
STDOUT`` read to the end. The drill's RTO (restore, open, rebuild every read model) is
judged against the same raw copy's seconds.

The store is the verify benchmark's: real ledger events copied under new ids until the log
holds 50 events per customer (100,000 at full size), sealed with checkpoints (untimed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.context import Backend, BenchContext
from bench.harness import Result, Stats, Stopwatch, interleave, rate
from bench.verify import sealed_store
from ledger.settings import Settings, sqlite_path_of
from service.backup_drill import drill
from service.bootstrap import bootstrap, open_database

NAME = "backup"
TITLE = "backup and restore"


def raw_copy_sqlite(path: Path, into: Path) -> int:
    shutil.copyfile(path, into)
    size = into.stat().st_size
    into.unlink()
    return size


def raw_copy_postgres(url: str) -> int:
    size = 0
    with psycopg.connect(url) as connection, connection.cursor() as cursor, cursor.copy(
            "COPY ledger_events TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    return size


def run(ctx: BenchContext, backend: Backend, progress: Any) -> list[Result]:
    offsite = Path(tempfile.mkdtemp(prefix="ledger-bench-backups-"))
    try:
        with ctx.fresh_database(backend, stem="backup") as location:
            progress("building and sealing the store")
            sealed, events = sealed_store(ctx, backend, location)
            chosen = Settings.model_validate(sealed.model_dump() | {
                "backup_dir": offsite / "events", "backup_keys_dir": offsite / "keys"})
            with bootstrap(chosen, start_projections=False) as ledger:
                assert ledger.backups is not None
                backups = ledger.backups
                place = backups.place
                made: list[str] = []

                def full() -> float:
                    with Stopwatch() as watch:
                        manifest = backups.events("full", "bench").manifest
                    if manifest.records != events:
                        raise RuntimeError(f"the backup holds {manifest.records} of {events}")
                    made.append(manifest.backup_id)
                    return rate(events, watch.seconds)

                def restore() -> float:
                    with ctx.fresh_database(backend, stem="restored") as target:
                        url = f"sqlite:///{target}" if backend == "sqlite" else target
                        with Stopwatch() as watch:
                            result = place.restore(made[-1], url, open_database=open_database)
                        keys = (Path(target).with_name(Path(target).stem + ".keys.sqlite3")
                                if backend == "sqlite" else None)
                        if keys is not None and keys.exists():
                            keys.unlink()
                    if not result["chain_verified"] or result["records"] != events:
                        raise RuntimeError(f"the restore failed: {result}")
                    return rate(events, watch.seconds)

                def raw() -> float:
                    with Stopwatch() as watch:
                        if backend == "sqlite":
                            raw_copy_sqlite(sqlite_path_of(chosen.database_url),
                                            offsite / "raw-copy")
                        else:
                            raw_copy_postgres(location)
                    return rate(events, watch.seconds)

                backups.events("full", "bench")  # warm-up, untimed
                stats = interleave(ctx.sizes.runs, {"full": full, "raw": raw}, progress,
                                   budget=ctx.sizes.budget)
                stats |= interleave(ctx.sizes.runs, {"restore": restore}, progress,
                                    budget=ctx.sizes.budget)
                progress("drill")
                ledger.runner.catch_up()
                report = drill(ledger, place, actor="bench")
                if report["mismatched"]:
                    raise RuntimeError(f"the drill did not match: {report['mismatched']}")
                raw_seconds = Stats(tuple(events / value for value in stats["raw"].values))
    finally:
        shutil.rmtree(offsite, ignore_errors=True)
    baseline = ("events/s of a raw file copy of the database file" if backend == "sqlite"
                else "events/s of COPY ledger_events TO STDOUT, read to the end")
    return [
        Result(benchmark=f"{TITLE}: full backup", backend=backend, unit="events/s",
               figure=stats["full"], baseline=stats["raw"], baseline_label=baseline,
               notes=[f"{events:,} sealed events; snapshot, JSON lines, zlib, AES-256-GCM "
                      "in 1 MiB chunks, signed manifest"]),
        Result(benchmark=f"{TITLE}: restore", backend=backend, unit="events/s",
               figure=stats["restore"], baseline=stats["raw"], baseline_label=baseline,
               notes=["into an empty database: every file checked and the chain walked, "
                      "then inserted in one transaction, then the restored chain verified"]),
        Result(benchmark=f"{TITLE}: drill RTO", backend=backend, unit="s",
               figure=Stats((float(report["rto_seconds"]),)), baseline=raw_seconds,
               baseline_label="seconds of the same raw copy", higher_is_better=False,
               notes=["restore into a scratch SQLite file, open, rebuild every read model; "
                      f"outcome {report['outcome']}"]),
    ]


def benchmark(ctx: BenchContext, progress: Any) -> list[Result]:
    return [result for backend in ctx.backends() for result in run(ctx, backend, progress)]
