"""Point-in-time recovery, small enough to run in a notebook.

A dump is a photograph: restoring it loses everything written since. PITR keeps
a *base backup* (a copy of the server's files, ``pg_basebackup``) and every
write-ahead-log (WAL) segment written since (``archive_command``, or
``pg_receivewal`` streaming them, as here, without restarting the server), and
brings a copy of the server forward, replaying the WAL, to any moment: here a
named restore point set just before an accident.

Server programs and the copy run as the service account when labkit runs as
root (PostgreSQL refuses root), like the lab's own server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .. import binaries, db
from ..errors import LabError
from ..server import LISTEN_ADDRESS, port_in_use
from . import service

#: Replication slots of the drill are named so; leftovers are dropped at the next one.
SLOT_PREFIX = "labkit_pitr_"


@dataclass(frozen=True)
class Workspace:
    """Folders for one drill: the base backup, the WAL archive, and logs."""

    root: Path

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def archive(self) -> Path:
        return self.root / "wal_archive"


@contextmanager
def workspace() -> Iterator[Workspace]:
    """A temporary workspace, reachable by the service account, removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="labkit-pitr-"))
    try:
        space = Workspace(root)
        space.archive.mkdir()
        if binaries.running_as_root():
            binaries.ensure_service_account()
            for folder in (root, space.archive):
                binaries.hand_over(folder)
        yield space
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _replication_args(lab: db.Target) -> list[str]:
    params = lab.params()
    return ["-h", params["host"], "-p", params["port"], "-U", params["user"], "--no-password"]


@contextmanager
def wal_stream(space: Workspace, lab: db.Target) -> Iterator[subprocess.Popen[bytes]]:
    """pg_receivewal copying every WAL segment into the archive while the block runs.

    It streams through a replication slot: without one, a checkpoint (the base
    backup's own) may recycle a segment before pg_receivewal has read it, and
    the archive would have a hole. The slot is dropped at the end, since a
    forgotten slot keeps WAL on the server's disk forever.
    """
    slot = f"{SLOT_PREFIX}{secrets.token_hex(4)}"
    with psycopg.connect(**lab.params(), autocommit=True) as conn:
        _drop_stale_slots(conn)
        conn.execute("SELECT pg_catalog.pg_create_physical_replication_slot(%s, true)", (slot,))
        try:
            process = service.start(
                "pg_receivewal",
                ["-D", str(space.archive), "--no-loop", f"--slot={slot}", *_replication_args(lab)],
                lab,
                space.root / "pg_receivewal.log",
            )
            try:
                _wait_for_slot(conn, slot, True, process, space)
                yield process
            finally:
                process.send_signal(signal.SIGINT if sys.platform != "win32" else signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            _wait_for_slot(conn, slot, False, None, space)
            conn.execute("SELECT pg_catalog.pg_drop_replication_slot(%s)", (slot,))


def _wait_for_slot(
    conn: psycopg.Connection[Any],
    slot: str,
    active: bool,
    process: subprocess.Popen[bytes] | None,
    space: Workspace,
) -> None:
    """Wait until pg_receivewal streams through ``slot`` (or, ``active=False``, has let go)."""
    query = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s"

    def ready() -> bool:
        row = conn.execute(query, (slot,)).fetchone()
        return bool(row and row[0]) == active

    service.wait_for(ready, process, space.root / "pg_receivewal.log", "pg_receivewal")


def _drop_stale_slots(conn: psycopg.Connection[Any]) -> None:
    """Drop slots an earlier drill left behind when it was killed."""
    conn.execute(
        "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
        " WHERE slot_name LIKE %s AND NOT active",
        (SLOT_PREFIX.replace("_", "\\_") + "%",),
    )


def base_backup(space: Workspace, lab: db.Target, *, sync: bool = True) -> float:
    """``pg_basebackup -c fast`` of the whole server into the workspace; seconds taken.

    ``-c fast`` asks for an immediate checkpoint; without it the backup waits for
    a spread one, up to checkpoint_timeout (5 minutes by default).
    """
    started = time.perf_counter()
    args = ["-D", str(space.base), "-c", "fast", "-X", "stream", *_replication_args(lab)]
    if not sync:
        args.append("--no-sync")  # a throw-away copy; a real backup waits for the disk
    process = service.start("pg_basebackup", args, lab, space.root / "pg_basebackup.log")
    if process.wait(timeout=300) != 0:
        raise LabError(
            f"pg_basebackup failed: {service.tail(space.root / 'pg_basebackup.log')}",
            "The server must allow replication connections (max_wal_senders > 0)",
        )
    return time.perf_counter() - started


def finish_segment(space: Workspace, conn: psycopg.Connection[Any]) -> str:
    """End the current WAL segment and wait until the archive holds it whole."""
    row = conn.execute("SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())").fetchone()
    assert row is not None
    segment = str(row[0])
    deadline = time.monotonic() + 30
    while not (space.archive / segment).is_file():
        if time.monotonic() > deadline:
            raise LabError(
                f"WAL segment {segment} did not reach the archive "
                f"(pg_receivewal: {service.tail(space.root / 'pg_receivewal.log')}; "
                f"archive: {sorted(p.name for p in space.archive.iterdir())})",
                "Run it again",
            )
        time.sleep(0.05)
    return segment


@contextmanager
def recovered_copy(
    space: Workspace, lab: db.Target, *, target_name: str, port: int
) -> Iterator[dict[str, str]]:
    """Start the base backup as a second server, replaying the archived WAL up to
    the restore point ``target_name``; yield its connection parameters; stop it."""
    if port_in_use(port):
        raise LabError(f"Port {port} is in use", "Pick another port for the recovered copy")
    restore = (
        f'copy "{space.archive}\\%f" "%p"'
        if sys.platform == "win32"
        else f'cp "{space.archive}/%f" "%p"'
    )
    (space.base / "recovery.signal").touch()
    with (space.base / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"restore_command = '{restore}'\n")
        conf.write(f"recovery_target_name = '{target_name}'\n")
        conf.write("recovery_target_action = 'promote'\n")
    if binaries.running_as_root():
        # chown only: hand_over would also open the data folder's mode, which the
        # server refuses (it wants 0700 or 0750).
        account = binaries.service_account(lab.settings)
        for path in (space.base / "recovery.signal", space.base / "postgresql.auto.conf"):
            os.chown(path, account["user"], account["group"])
    log = space.root / "recovered.log"
    options = f"-p {port} -c unix_socket_directories=''"
    ctl = ["-D", str(space.base), "-l", str(log), "-o", options, "-w", "-t", "60"]
    started = binaries.run_server_program("pg_ctl", [*ctl, "start"], lab.settings)
    if started.returncode != 0:
        raise LabError(f"The recovered copy did not start: {service.tail(log)}", f"Read {log}")
    params = {**lab.params(dbname=lab.database), "host": LISTEN_ADDRESS, "port": str(port)}
    try:
        with psycopg.connect(**params, autocommit=True) as conn:
            query = "SELECT pg_catalog.pg_is_in_recovery()"
            deadline = time.monotonic() + 60
            while (row := conn.execute(query).fetchone()) and row[0]:
                if time.monotonic() > deadline:
                    raise LabError("The recovered copy did not finish recovery", f"Read {log}")
                time.sleep(0.05)
        yield params
    finally:
        binaries.run_server_program(
            "pg_ctl", ["-D", str(space.base), "stop", "-m", "fast", "-w"], lab.settings
        )
