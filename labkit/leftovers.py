"""What interrupted point-in-time-recovery drills leave behind, found and removed.

A drill (``labkit.backup.Drill``, in ``backup/pitr.py``) works in a folder ``<tmp>/labkit-pitr-<id>`` and
streams WAL through the replication slot ``labkit_pitr_<id>`` of the same id. The
folder holds ``owner.json``, the process that runs the drill. When that process
is gone (a stopped kernel, a crash), the folder and the slot are leftovers: the
folder holds a base backup of the whole server, and the slot keeps the server
from recycling WAL. ``labkit up``, ``status`` and ``down`` and every new drill
remove them; a drill whose process still runs is only reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import binaries, db
from .sizes import human_size

if TYPE_CHECKING:
    import psycopg

FOLDER_PREFIX = "labkit-pitr-"
SLOT_PREFIX = "labkit_pitr_"
OWNER_FILE = "owner.json"
#: A folder without an owner file (a drill starting up, or one run by a labkit from
#: before owner files) counts as left behind once nothing in it changed for this long.
_UNOWNED_GRACE_SECONDS = 3600


@dataclass
class Leftovers:
    """What a clean-up removed, and the drills it left alone because they still run."""

    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    running: list[str] = field(default_factory=list)
    running_bytes: int = 0

    def __bool__(self) -> bool:
        return bool(self.removed or self.running)

    def __str__(self) -> str:
        lines = []
        if self.removed:
            lines.append(
                f"cleaned up after interrupted drills ({human_size(self.removed_bytes)} freed): "
                + ", ".join(self.removed)
            )
        if self.running:
            lines.append(
                f"drills still running ({human_size(self.running_bytes)}): "
                + ", ".join(self.running)
            )
        return "\n".join(lines)


def folder_id(root: Path) -> str:
    return root.name.removeprefix(FOLDER_PREFIX)


def slot_name(root: Path) -> str:
    """The replication slot of the drill working in ``root``."""
    return SLOT_PREFIX + folder_id(root)


def claim(root: Path) -> None:
    """Record this process as the owner of the drill folder ``root``."""
    (root / OWNER_FILE).write_text(json.dumps(_this_process()), encoding="utf-8")


def _this_process() -> dict[str, Any]:
    import psutil

    return {"pid": os.getpid(), "started": psutil.Process().create_time()}


def _owner_alive(root: Path) -> bool:
    import psutil

    try:
        owner = json.loads((root / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return time.time() - _last_change(root) < _UNOWNED_GRACE_SECONDS
    try:
        process = psutil.Process(int(owner["pid"]))
        # The same pid and start time: not another process that reuses the number.
        return abs(process.create_time() - float(owner["started"])) < 1
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _last_change(root: Path) -> float:
    latest = 0.0
    for path in (root, *root.rglob("*")):
        with contextlib.suppress(OSError):
            latest = max(latest, path.stat().st_mtime)
    return latest


def _size(path: Path) -> int:
    total = 0
    for file in path.rglob("*"):
        with contextlib.suppress(OSError):
            if file.is_file() and not file.is_symlink():
                total += file.stat().st_size
    return total


#: The drills' replication slots, with the WAL each holds back (bytes).
SLOTS_QUERY = (
    "SELECT slot_name, active_pid,"
    " coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn),"
    " 0)::bigint"
    " FROM pg_catalog.pg_replication_slots WHERE slot_name LIKE 'labkit\\_pitr\\_%'"
)


def drill_folders() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(FOLDER_PREFIX + "*"))


def clean_up(lab: db.Target | None = None) -> Leftovers:
    """Remove the folders and slots of drills whose process has gone.

    With ``lab`` (a running server), also drop its stale ``labkit_pitr_`` slots,
    ending an orphaned pg_receivewal that still holds one. Without it, folders only.
    """
    found = Leftovers()
    alive: set[str] = set()
    gone: list[tuple[Path, int]] = []
    for root in drill_folders():
        size = _size(root)
        if _owner_alive(root):
            alive.add(slot_name(root))
            found.running.append(str(root))
            found.running_bytes += size
        else:
            gone.append((root, size))
    # The slots first: dropping one ends the orphaned pg_receivewal that holds it, which
    # would otherwise go on writing WAL into the folder while it is being removed.
    if lab is not None:
        _drop_stale_slots(lab, alive, found)
    for root, size in gone:
        _stop_recovered_copy(root, lab)
        _remove(root)
        if not root.exists():
            found.removed.append(f"folder {root} ({human_size(size)})")
            found.removed_bytes += size
    return found


def _remove(root: Path, attempts: int = 20) -> None:
    """rmtree, again while a writer that was just stopped still closes its last file."""
    for _ in range(attempts):
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            return
        time.sleep(0.1)


def _drop_stale_slots(lab: db.Target, alive: set[str], found: Leftovers) -> None:
    import psycopg

    with psycopg.connect(**lab.params(), autocommit=True) as conn:
        slots = conn.execute(SLOTS_QUERY).fetchall()
        for name, active_pid, held in slots:
            if name in alive:
                continue
            if active_pid is not None:  # a pg_receivewal whose drill is gone
                conn.execute("SELECT pg_catalog.pg_terminate_backend(%s, 5000)", (active_pid,))
            try:
                _wait_inactive(conn, name)
                conn.execute("SELECT pg_catalog.pg_drop_replication_slot(%s)", (name,))
            except psycopg.Error:
                continue  # taken again meanwhile; the next clean-up sees it
            found.removed.append(f"replication slot {name} (held {human_size(int(held))} of WAL)")
            found.removed_bytes += int(held)


def _wait_inactive(conn: psycopg.Connection[Any], slot: str) -> None:
    deadline = time.monotonic() + 10
    query = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s"
    while time.monotonic() < deadline:
        row = conn.execute(query, (slot,)).fetchone()
        if not (row and row[0]):
            return
        time.sleep(0.05)


def _stop_recovered_copy(root: Path, lab: db.Target | None) -> None:
    """A recovered copy still running from the folder's base backup: stop it first."""
    base = root / "base"
    if not (base / "postmaster.pid").is_file():
        return
    settings = lab.settings if lab is not None else db.target().settings
    binaries.run_server_program(
        "pg_ctl", ["-D", str(base), "stop", "-m", "immediate", "-w", "-t", "30"], settings
    )
