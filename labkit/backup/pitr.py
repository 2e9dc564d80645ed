"""Point-in-time recovery, as a drill a notebook runs step by step.

A dump loses everything written since it was taken. PITR keeps a base backup
(``pg_basebackup``) and every WAL segment written since (``pg_receivewal``), and
replays a copy of the server to a restore point set just before an accident::

    pit = Drill.start()                  # WAL streaming to an archive, then a base backup
    pit.restore_point("before_accident")
    pit.finish()                          # the last segment archived, streaming stopped
    with pit.recovered("before_accident") as copy:   # a second server, replayed
        copy.execute("SELECT ...")
    pit.close()                           # the copy's files removed

Every step can be repeated without changing anything. A drill interrupted at any
point leaves a folder and a slot that ``labkit up``, ``status`` and ``down`` remove
(``leftovers``). Server programs run as the service account when labkit is root.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg

from .. import binaries, db, leftovers
from ..errors import LabError
from ..server import LISTEN_ADDRESS, conf_quote, free_port

_BASE_BACKUP_OPTIONS = ("--checkpoint=fast", "--wal-method=stream", "--no-sync", "--no-password")
_AGAIN = "Start a new drill: run the cell with Drill.start() again, then the ones after it"


@dataclass
class Drill:
    """One point-in-time recovery drill: its workspace, WAL stream and timings."""

    lab: db.Target
    root: Path
    seconds: float = 0.0
    segments: list[str] = field(default_factory=list)
    recovery_seconds: float = 0.0
    restore_points: dict[str, str] = field(default_factory=dict)
    recovered_to: str | None = None
    finished: bool = False
    closed: bool = False
    _streaming: ExitStack = field(default_factory=ExitStack)
    #: The drills this process has open; a new one closes them (one at a time).
    _open: ClassVar[list[Drill]] = []

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def archive(self) -> Path:
        return self.root / "wal_archive"

    @classmethod
    def start(cls) -> Drill:
        """Stream WAL into an archive, then take a base backup; first close this process's
        open drill and remove what interrupted drills left behind."""
        for earlier in list(cls._open):
            earlier.close()
        lab = db.ensure_server()
        leftovers.clean_up(lab)
        drill = cls(lab, Path(tempfile.mkdtemp(prefix=leftovers.FOLDER_PREFIX)))
        leftovers.claim(drill.root)
        cls._open.append(drill)
        atexit.register(drill.close)  # a kernel that stops mid-drill leaves nothing running
        try:
            drill.archive.mkdir()
            if binaries.running_as_root():
                binaries.ensure_service_account()
                for folder in (drill.root, drill.archive):
                    binaries.hand_over(folder)
            drill._streaming.enter_context(drill._wal_stream())
            started = time.perf_counter()
            # fast: an immediate checkpoint, not a spread one (up to 5 minutes);
            # --no-sync: a throw-away copy. Replication takes the whole server.
            args = ["-D", str(drill.base), *_BASE_BACKUP_OPTIONS]
            hint = "The server must allow replication (max_wal_senders > 0)"
            binaries.run_server_program(
                "pg_basebackup",
                args,
                lab.settings,
                connect=lab.params(),
                timeout=300,
                failed=("pg_basebackup failed", hint),
            )
            drill.seconds = time.perf_counter() - started
        except BaseException:
            drill.close()
            raise
        return drill

    @property
    def base_size(self) -> int:
        """Bytes in the base backup: the whole server, every database."""
        return sum(f.stat().st_size for f in self.base.rglob("*") if f.is_file())

    def restore_point(self, name: str) -> str:
        """Name this moment in the WAL; its LSN. A name set already keeps its first
        moment (recovery stops at the first point of a name)."""
        if name in self.restore_points:
            return self.restore_points[name]
        self._check_open()
        if self.finished:
            raise LabError(
                f"This drill has stopped streaming WAL, so a restore point {name!r} set now"
                " would not be in its archive",
                _AGAIN,
            )
        with self._admin() as conn:
            query = "SELECT pg_catalog.pg_create_restore_point(%s)::text"
            self.restore_points[name] = str(db.scalar(conn, query, (name,)))
        return self.restore_points[name]

    def finish(self) -> list[str]:
        """Archive the current WAL segment whole, stop streaming; the archived segments."""
        if self.finished:
            return self.segments
        self._check_open()
        with self._admin() as conn:
            segment = str(
                db.scalar(conn, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())")
            )
        log = self.root / "pg_receivewal.log"
        _wait_for(lambda: (self.archive / segment).is_file(), None, log, f"WAL segment {segment}")
        self._streaming.close()
        self.finished = True
        self.segments = sorted(p.name for p in self.archive.iterdir())
        return self.segments

    @contextmanager
    def recovered(self, target_name: str) -> Iterator[psycopg.Connection[Any]]:
        """The base backup started as a second server, replayed up to the restore point
        ``target_name``: the administrator on its copy of the lab database. Again with
        the same point: the copy, recovered and promoted already, starts once more."""
        self._check_open()
        if not self.finished:
            raise LabError(
                "The drill is still streaming WAL", "Call finish() first, then recovered()"
            )
        if self.recovered_to not in (None, target_name):
            raise LabError(
                f"This drill's copy was recovered to {self.recovered_to!r} already, and a"
                f" recovered copy cannot go back to {target_name!r}",
                _AGAIN,
            )
        started, port = time.perf_counter(), free_port()
        if self.recovered_to is None:
            # PostgreSQL replaces %f and %p; a % of the path itself is written %%.
            where = str(self.archive).replace("%", "%%")
            if sys.platform == "win32":
                restore = f'copy "{where}\\%f" "%p"'
            else:
                restore = f"cp {shlex.quote(where)}/%f %p"
            settings = {
                "restore_command": restore,
                "recovery_target_name": target_name,
                "recovery_target_action": "promote",
            }
            (self.base / "recovery.signal").touch()
            with (self.base / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
                conf.writelines(f"{k} = '{conf_quote(v)}'\n" for k, v in settings.items())
            if binaries.running_as_root():
                # chown only: hand_over would also open the data folder's mode, which the
                # server refuses (it wants 0700 or 0750).
                account = binaries.service_account(self.lab.settings)
                for name in ("recovery.signal", "postgresql.auto.conf"):
                    os.chown(self.base / name, account["user"], account["group"])
        log = self.root / "recovered.log"
        options = f"-p {port} -c unix_socket_directories=''"
        ctl = ["-D", str(self.base), "-l", str(log), "-o", options, "-w", "-t", "60"]
        ran = binaries.run_server_program("pg_ctl", [*ctl, "start"], self.lab.settings)
        if ran.returncode != 0:
            raise LabError(f"The recovered copy did not start: {_tail(log)}", f"Read {log}")
        params = {**self.lab.params(), "host": LISTEN_ADDRESS, "port": str(port)}
        try:
            with psycopg.connect(**params, autocommit=True) as conn:
                in_recovery = "SELECT pg_catalog.pg_is_in_recovery()"
                _wait_for(lambda: not db.scalar(conn, in_recovery), None, log, "The recovered copy")
                self.recovered_to = target_name
                self.recovery_seconds = time.perf_counter() - started
                yield conn
        finally:
            stop = ["-D", str(self.base), "stop", "-m", "fast", "-w"]
            binaries.run_server_program("pg_ctl", stop, self.lab.settings)

    def close(self) -> None:
        """Stop streaming (if still on) and remove the workspace. Again: nothing to do."""
        self._streaming.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self.closed = True
        Drill._open[:] = [drill for drill in Drill._open if drill is not self]

    def _check_open(self) -> None:
        if self.closed:
            raise LabError("This drill is closed and its files are gone", _AGAIN)

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.lab.params(), autocommit=True)

    @contextmanager
    def _wal_stream(self) -> Iterator[None]:
        """pg_receivewal copying every WAL segment into the archive while the block runs,
        through a slot: without one, a checkpoint may recycle a segment before it is
        read. The slot is dropped at the end: a forgotten one keeps WAL forever."""
        slot = leftovers.slot_name(self.root)
        log = self.root / "pg_receivewal.log"
        query = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s"
        with self._admin() as conn:
            conn.execute("SELECT pg_catalog.pg_create_physical_replication_slot(%s, true)", (slot,))

            def active() -> bool:
                return bool(db.scalar(conn, query, (slot,)))

            try:
                args = ["-D", str(self.archive), "--no-loop", f"--slot={slot}", "--no-password"]
                process = binaries.start_server_program(
                    "pg_receivewal", args, self.lab.settings, log=log, connect=self.lab.params()
                )
                try:
                    _wait_for(active, process, log, "pg_receivewal")
                    yield
                finally:
                    process.terminate()  # pg_receivewal ends cleanly on SIGTERM, as on SIGINT
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            finally:
                _wait_for(lambda: not active(), None, log, "pg_receivewal's slot")
                conn.execute("SELECT pg_catalog.pg_drop_replication_slot(%s)", (slot,))


def _wait_for(
    ready: Callable[[], bool], process: subprocess.Popen[bytes] | None, log: Path, name: str
) -> None:
    """Poll ``ready`` for up to 60 s; fail early if ``process`` has ended."""
    deadline = time.monotonic() + 60
    while not ready():
        if (process and process.poll() is not None) or time.monotonic() > deadline:
            raise LabError(
                f"{name} did not get ready within 60 s: {_tail(log)}",
                f"Its log is {log}. {_AGAIN}",
            )
        time.sleep(0.02)


def _tail(log: Path) -> str:
    """What a program's log says went wrong, for an error message."""
    try:
        return binaries.first_error(log.read_text(errors="replace"))
    except OSError:
        return "no log"
