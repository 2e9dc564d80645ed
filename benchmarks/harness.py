"""What every benchmark shares: a throw-away server, so figures never touch .labdata, and
the same command line and report (--record writes benchmarks/RESULTS.md)."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from record import record

from labkit import settings, tenancy
from labkit.server import EmbeddedServer, free_port


@contextmanager
def throwaway_server() -> Iterator[Path]:
    """Point labkit at a new embedded server on a free port; stop and delete it at the end.

    Yields a scratch folder (the server's data lives in ``data/`` below it).
    """
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as scratch:
        os.environ.update({"LABKIT_DATA_DIR": f"{scratch}/data", "LABKIT_PORT": str(free_port())})
        os.environ.pop("DATABASE_URL", None)
        try:
            yield Path(scratch)
        finally:
            tenancy.close_pools()
            EmbeddedServer(settings.load()).stop()


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line: its docstring's first line, and --record."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    return parser


def publish(section: str, measure: Callable[[], str], *, record_it: bool) -> None:
    """Run ``measure`` (it returns the report), print it with the benchmark's whole time,
    and with --record write it as ``section`` of benchmarks/RESULTS.md."""
    started = time.perf_counter()
    text = measure() + f"\n\nWhole benchmark: {time.perf_counter() - started:.0f} s."
    show(section, text, record_it=record_it)


def show(section: str, text: str, *, record_it: bool) -> None:
    """Print a benchmark's report; with --record write it as ``section`` of RESULTS.md."""
    print(text)
    if record_it:
        print(f"\nRecorded in {record(section, text)}")
