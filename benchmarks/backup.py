"""Backup and restore at the lab's scale: times and sizes.

On a fresh embedded server in a temporary folder (your lab database is left
alone): the sample data at the lab's scale (2,000 customers, 500 products,
5,000 sales and their items) and, when the offline model is installed, an
embedding per product. Then, per round: ``labkit backup`` (pg_dump plus the
manifest's fingerprint), ``labkit restore`` into a new database (roles, a
temporary name, pg_restore, the rename) and ``labkit verify`` against the
manifest. Baseline, in the same run: pg_dump and pg_restore alone, with the same
flags. Sizes: the database, the dump, the dump gzipped again, and a plain SQL dump.

    python benchmarks/backup.py [--rounds N] [--scales lab,large] [--record]

``large`` (a million sales) is measured once, whatever ``--rounds`` says.
"""

from __future__ import annotations

import gzip
import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from harness import arguments, show, throwaway_server
from psycopg import sql

import labkit
from labkit import backup, binaries, sampledata, schema

Timing = dict[str, list[float]]


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _embed() -> str:
    try:
        search = importlib.import_module("labkit.search")  # the module, not labkit.search()
        report = search.embed_catalog(progress=False)
    except (ImportError, labkit.LabError) as error:
        return f"no embeddings ({error})"
    return f"{sum(report.embedded.values()):,} embeddings ({report.model})"


def _program(name: str, args: list[str], database: str) -> None:
    lab = labkit.db.target()
    params = lab.params(dbname=database)
    result = binaries.run_server_program(
        name, args, lab.settings, connect=params, timeout=None, as_service=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)


def _plain_restore(database: str, args: list[str]) -> None:
    with labkit.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(database))
        )
    _program("pg_restore", args, database)


def measure(scale: str, rounds: int, folder: Path) -> tuple[Timing, dict[str, int], str]:
    sampledata.seed(scale, quiet=True)
    content = f"{scale} scale sample data, {_embed()}"
    times: Timing = {
        name: []
        for name in (
            "labkit backup (pg_dump + manifest)",
            "pg_dump -Fc alone",
            "labkit restore --into (roles, pg_restore, rename)",
            "CREATE DATABASE + pg_restore alone",
            "labkit verify (against the manifest)",
        )
    }
    jobs = str(min(4, os.cpu_count() or 1))
    made = None
    for n in range(rounds):
        started = time.perf_counter()
        made = backup.backup(folder, keep=1)
        times["labkit backup (pg_dump + manifest)"].append(time.perf_counter() - started)
        plain = folder / "plain.dump"
        plain.unlink(missing_ok=True)
        dump = ["--format=custom", f"--file={plain}"]
        times["pg_dump -Fc alone"].append(_timed(partial(_program, "pg_dump", dump, "zava")))
        target = f"bench_restore_{n}"
        times["labkit restore --into (roles, pg_restore, rename)"].append(
            backup.restore(made, into=target).seconds
        )
        times["labkit verify (against the manifest)"].append(
            _timed(partial(backup.verify, made, target))
        )
        baseline = f"bench_plain_{n}"
        restore = ["--exit-on-error", f"--jobs={jobs}", str(plain)]
        times["CREATE DATABASE + pg_restore alone"].append(
            _timed(partial(_plain_restore, baseline, restore))
        )
        for name in (target, baseline):
            backup.drop_database(name)
    assert made is not None
    with labkit.connect() as conn:
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    sql_dump = folder / "plain.sql"
    _program("pg_dump", ["--format=plain", f"--file={sql_dump}"], "zava")
    sizes = {
        "the database on disk": database,
        "custom-format dump (labkit backup)": made.size,
        "the same dump, gzipped again": len(gzip.compress(made.path.read_bytes())),
        "plain SQL dump (pg_dump -Fp)": sql_dump.stat().st_size,
        "manifest (.json)": made.manifest_path.stat().st_size,
    }
    return times, sizes, content


def report(results: list[tuple[str, Timing, dict[str, int], str]], rounds: int) -> str:
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {rounds} rounds (large: 1); "
        "a fresh embedded server (PostgreSQL 18, pg_dump and pg_restore of the same build).",
    ]
    for scale, times, sizes, content in results:
        lines += ["", f"**{scale}**: {content}.", ""]
        lines += ["| step | median (s) | min (s) | max (s) |", "|---|---:|---:|---:|"]
        for name, values in times.items():
            lines.append(
                f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
            )
        lines += ["", "| size | bytes | |", "|---|---:|---:|"]
        for name, value in sizes.items():
            lines.append(f"| {name} | {value:,} | {backup.human_size(value)} |")
        dump = sizes["custom-format dump (labkit backup)"]
        again = sizes["the same dump, gzipped again"]
        lines += [
            "",
            f"gzip on top of the custom format: {again / dump - 1:+.1%} in size, and pg_restore "
            "cannot read the result.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scales", default="lab", help="comma-separated: tiny, lab, large")
    args = parser.parse_args()
    results = []
    with throwaway_server() as scratch:
        schema.setup()
        for scale in args.scales.split(","):
            rounds = 1 if scale == "large" else args.rounds  # a million sales: once
            times, sizes, content = measure(scale, rounds, scratch / "backups")
            results.append((scale, times, sizes, content))
    text = report(results, args.rounds)
    show("Backup and restore (`benchmarks/backup.py`)", text, record_it=args.record)


if __name__ == "__main__":
    main()
