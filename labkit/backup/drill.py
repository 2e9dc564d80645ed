"""Point-in-time recovery as a drill a notebook runs step by step.

    pit = Drill.start()                  # WAL streaming to an archive, then a base backup
    ...                                   # work goes on; then, before an accident:
    pit.restore_point("before_accident")
    ...                                   # the accident
    pit.finish()                          # the last WAL segment archived, streaming stopped
    with pit.recovered("before_accident") as copy:   # a second server, replayed to the point
        copy.execute("SELECT ...")
    pit.close()                           # the copy's files removed

Each step is one call, so a notebook can put its own changes in between.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .. import db
from ..server import LISTEN_ADDRESS
from . import pitr


@dataclass
class Drill:
    """One point-in-time recovery drill: its workspace, WAL stream and timings."""

    lab: db.Target
    space: pitr.Workspace
    seconds: float = 0.0
    segments: list[str] = field(default_factory=list)
    recovery_seconds: float = 0.0
    _stack: ExitStack = field(default_factory=ExitStack)
    _streaming: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def start(cls) -> Drill:
        """Stream WAL into an archive, then take a base backup (``pg_basebackup -c fast``)."""
        lab = db.ensure_server()
        stack = ExitStack()
        space = stack.enter_context(pitr.workspace())
        drill = cls(lab, space, _stack=stack)
        atexit.register(drill.close)  # a kernel that stops mid-drill leaves nothing running
        try:
            drill._streaming.enter_context(pitr.wal_stream(space, lab))
            drill.seconds = pitr.base_backup(space, lab, sync=False)
        except BaseException:
            drill.close()
            raise
        return drill

    @property
    def base_size(self) -> int:
        """Bytes in the base backup: the whole server, every database."""
        return sum(f.stat().st_size for f in self.space.base.rglob("*") if f.is_file())

    def restore_point(self, name: str) -> str:
        """Name this moment in the WAL (``pg_create_restore_point``); returns its LSN."""
        with psycopg.connect(**self.lab.params(), autocommit=True) as conn:
            row = conn.execute("SELECT pg_catalog.pg_create_restore_point(%s)::text", (name,))
            return str((row.fetchone() or [""])[0])

    def finish(self) -> list[str]:
        """Archive the current WAL segment whole, stop streaming; the archived segments."""
        with psycopg.connect(**self.lab.params(), autocommit=True) as conn:
            pitr.finish_segment(self.space, conn)
        self._streaming.close()
        self.segments = sorted(p.name for p in self.space.archive.iterdir())
        return self.segments

    @contextmanager
    def recovered(self, target_name: str) -> Iterator[psycopg.Connection[Any]]:
        """The base backup started as a second server, replayed up to ``target_name``:
        the administrator connected to its copy of the lab database."""
        started = time.perf_counter()
        with (
            pitr.recovered_copy(
                self.space, self.lab, target_name=target_name, port=_free_port()
            ) as params,
            psycopg.connect(**params, autocommit=True) as conn,
        ):
            self.recovery_seconds = time.perf_counter() - started
            yield conn

    def close(self) -> None:
        """Stop streaming (if still on) and remove the workspace."""
        self._streaming.close()
        self._stack.close()
        shutil.rmtree(self.space.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LISTEN_ADDRESS, 0))
        return int(probe.getsockname()[1])
