"""A point-in-time-recovery drill interrupted at any point leaves nothing that grows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import psycopg
import pytest

import labkit
from labkit import db, leftovers
from labkit.server import MAX_SLOT_WAL_KEEP_SIZE

from .helpers import run_labkit

SLOTS = "SELECT slot_name, active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = %s"


def interrupted_drill() -> Path:
    """Start a drill in a process, then kill that process, as stopping a kernel does."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from labkit.backup import Drill\n"
            "print(Drill.start().root, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    root = Path(child.stdout.readline().strip())
    child.kill()  # no atexit, no finally: exactly what a stopped kernel skips
    child.wait(timeout=30)
    return root


@pytest.mark.slow
def test_status_removes_the_slot_and_folder_of_an_interrupted_drill() -> None:
    root = interrupted_drill()
    slot = leftovers.slot_name(root)
    # The control: the leftovers are there, the slot still held by an orphaned pg_receivewal.
    assert (root / "base").is_dir() and leftovers._size(root) > 0
    with labkit.connect() as conn:
        [(_name, receiver)] = conn.execute(SLOTS, (slot,)).fetchall()
    assert receiver is not None

    status = run_labkit("status")

    assert status.returncode == 0, status.stderr
    assert "cleaned up after interrupted drills" in status.stdout, status.stdout
    assert f"replication slot {slot}" in status.stdout and str(root) in status.stdout
    assert not root.exists()
    with labkit.connect() as conn:
        assert conn.execute(SLOTS, (slot,)).fetchall() == []
    assert not any(
        "pg_receivewal" in " ".join(p.info["cmdline"] or []) and slot in " ".join(p.info["cmdline"])
        for p in psutil.process_iter(["cmdline"])
    ), "the orphaned pg_receivewal still runs"
    assert "drills:" not in run_labkit("status").stdout, "nothing is left to report"


def test_a_running_drill_is_reported_and_left_alone() -> None:
    live = Path(tempfile.mkdtemp(prefix=leftovers.FOLDER_PREFIX))
    try:
        leftovers.claim(live)  # owned by this process, which runs
        (live / "base").mkdir()
        (live / "base" / "segment").write_bytes(b"x" * 4096)
        found = leftovers.clean_up(db.target())
        assert str(live) in found.running and live.is_dir()
        assert "drills still running" in str(found)
        # The same folder owned by a process that is gone (pid 1 did not start at 0):
        (live / leftovers.OWNER_FILE).write_text('{"pid": 1, "started": 0}', encoding="utf-8")
        found = leftovers.clean_up(db.target())
        assert any(str(live) in item for item in found.removed) and not live.exists()
    finally:
        shutil.rmtree(live, ignore_errors=True)


def test_the_lab_server_caps_the_wal_a_slot_may_hold(admin: psycopg.Connection) -> None:
    assert admin.execute("SHOW max_slot_wal_keep_size").fetchone() == (MAX_SLOT_WAL_KEEP_SIZE,)
