"""The embedded PostgreSQL server: initialise, start, stop and inspect it.

It runs in the background like a container: started by ``labkit up`` or on first
connect, stopped by ``labkit down``, and shared by every notebook kernel, pytest,
psql and the CLI. Restarting a kernel does not touch it.

Stopped means stopped: ``labkit down`` leaves a marker file in the data folder,
and until ``labkit up`` removes it, connecting raises "the lab server is stopped"
instead of starting the server again behind the person's back. A server that
stopped without ``labkit down`` (a reboot, a crash) still starts on first connect.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import binaries
from .credentials import PasswordStore
from .errors import LabError
from .settings import Settings

if TYPE_CHECKING:
    from filelock import FileLock

SUPERUSER = "postgres"
LISTEN_ADDRESS = "127.0.0.1"
#: Settings fixed when the cluster is created. pg_stat_statements must be
#: preloaded or its views raise an error (the lab text's slow_queries trap).
INIT_SETTINGS = ("shared_preload_libraries=pg_stat_statements",)
#: How much WAL a replication slot may hold back (pg_wal would otherwise grow without
#: limit behind a slot that nothing reads).
MAX_SLOT_WAL_KEEP_SIZE = "512MB"
#: Written by ``labkit down`` into the data folder, removed by ``labkit up``.
STOPPED_MARKER = "stopped-by-labkit-down"
_UNIX_SOCKET_PATH_MAX = 100  # sun_path is 104-108 bytes, depending on the OS


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    data_dir: Path
    log_file: Path
    port: int | None
    socket_dir: Path | None
    pid: int | None


@dataclass(frozen=True)
class EmbeddedServer:
    """The server whose files live in ``settings.data_dir``."""

    settings: Settings

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def passwords(self) -> PasswordStore:
        return PasswordStore(self.data_dir / "passwords.json")

    def _lock(self) -> FileLock:
        from filelock import FileLock  # imports asyncio: only for the commands that need it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.data_dir / "server.lock"), timeout=180)

    # -- state ---------------------------------------------------------------

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    @property
    def stopped_marker(self) -> Path:
        return self.data_dir / STOPPED_MARKER

    def stopped_on_purpose(self) -> bool:
        """True after ``labkit down`` and until ``labkit up``."""
        return self.stopped_marker.is_file()

    def status(self) -> ServerStatus:
        """Read postmaster.pid, trusting it only if its process is alive."""
        pid_file = self.pgdata / "postmaster.pid"
        running = self.initialized() and self._pg_ctl("status").returncode == 0
        fields: list[str] = []
        if running:
            with contextlib.suppress(OSError):
                fields = pid_file.read_text().splitlines()
        return ServerStatus(
            running=running,
            data_dir=self.data_dir,
            log_file=self.log_file,
            pid=int(fields[0]) if len(fields) > 0 else None,
            port=int(fields[3]) if len(fields) > 3 else None,
            socket_dir=Path(fields[4]) if len(fields) > 4 and fields[4] else None,
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle -----------------------------------------------------------

    def ensure_running(self, *, requested: bool = False) -> bool:
        """Initialise and start the server if needed. True when this call started it.

        ``requested`` is ``labkit up``: it starts a server that ``labkit down``
        stopped. Without it (a connection wanting a server), such a server stays
        stopped and the call raises an error that says to run ``labkit up``.
        """
        with self._lock():
            if not self.initialized():
                self._initdb()
            status = self.status()
            if requested:
                self.stopped_marker.unlink(missing_ok=True)
            if status.running:
                self._check_port(status)
                return False
            if self.stopped_on_purpose():
                raise stopped_error()
            self._start()
            return True

    def stop(self, *, stay_down: bool = True) -> bool:
        """Stop the server (fast shutdown). Returns False if it was not running.

        ``stay_down`` (``labkit down``) leaves the marker that keeps connections
        from starting it again; a restart passes False.
        """
        with self._lock():
            if stay_down:
                self.stopped_marker.write_text(
                    "Stopped by `labkit down`; `labkit up` starts the server again.\n",
                    encoding="utf-8",
                )
            status = self.status()
            if not status.running:
                return False
            failed = ("The server did not stop", f"Look at its log, {self.log_file}")
            self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast", failed=failed)
            short = status.socket_dir
            if short is not None and short != self.pgdata:
                # The short folder a long data path needed (_socket_dir): empty now.
                with contextlib.suppress(OSError):
                    short.rmdir()
            return True

    def restart(self) -> None:
        """Stop and start again (for settings read only at start-up)."""
        self.stop(stay_down=False)
        self.ensure_running()

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if binaries.running_as_root():
            binaries.ensure_service_account()
            binaries.hand_over(self.pgdata)
        password = self.passwords.get_or_create(SUPERUSER)
        pwfile = self._temporary_password_file(password)
        try:
            binaries.run_server_program(
                "initdb",
                [
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    # The builtin provider needs no OS locale: same on Windows, macOS, Linux.
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    *(arg for setting in INIT_SETTINGS for arg in ("-c", setting)),
                ],
                self.settings,
                failed=(
                    f"initdb failed in {self.pgdata}",
                    "Remove that folder (or set LABKIT_DATA_DIR to a new one) and run labkit up",
                ),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# Port, address and socket, rewritten by labkit at every start.\n")
            conf.write("include_if_exists = 'labkit.conf'\n")

    def _temporary_password_file(self, password: str) -> Path:
        # Beside pgdata, not in it: initdb wants an empty folder.
        fd, name = tempfile.mkstemp(prefix="pwfile-", dir=self.data_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(password + "\n")
        path = Path(name)
        if binaries.running_as_root():
            binaries.hand_over(path)
        return path

    def _start(self) -> None:
        port = self.settings.port
        if port_in_use(port):
            raise port_taken_error(port)
        socket_dir = self._socket_dir(port)
        lines = [
            "# Written by labkit at every start; change other settings with ALTER SYSTEM.",
            f"listen_addresses = '{LISTEN_ADDRESS}'",
            f"port = {port}",
            f"unix_socket_directories = '{conf_quote(str(socket_dir or ''))}'",
            # A replication slot nobody reads (a drill whose kernel was stopped) may
            # keep at most this much WAL; beyond it the server drops the slot's claim.
            f"max_slot_wal_keep_size = '{MAX_SLOT_WAL_KEEP_SIZE}'",
        ]
        (self.pgdata / "labkit.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
        if result.returncode != 0:
            tail = self.log_tail(5)
            if "Address already in use" in tail:
                raise port_taken_error(port)
            said = binaries.first_error(result.stderr or result.stdout)
            raise LabError(
                f"The server did not start (pg_ctl: {said}). Its log ends with:\n{tail}\n",
                f"Read the whole log at {self.log_file}",
            )

    def _socket_dir(self, port: int) -> Path | None:
        """The unix socket folder: the data folder itself unless its path is too long."""
        if sys.platform == "win32":
            return None
        if len(str(self.pgdata / f".s.PGSQL.{port}")) <= _UNIX_SOCKET_PATH_MAX:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"labkit-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        if binaries.running_as_root():
            binaries.hand_over(short)
        return short

    def _check_port(self, status: ServerStatus) -> None:
        if status.port is not None and status.port != self.settings.port:
            raise LabError(
                f"The lab server in {self.data_dir} is running on port {status.port}, "
                f"not on {self.settings.port} as configured",
                "Run `labkit down` and then `labkit up` to move it to the configured port",
            )

    def _pg_ctl(
        self, *args: str, failed: tuple[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return binaries.run_server_program(
            "pg_ctl", ["-D", str(self.pgdata), *args], self.settings, failed=failed
        )


def stopped_error() -> LabError:
    return LabError(
        "The lab server is stopped: run `labkit up` to start it again",
        "`labkit down` stopped it, so labkit does not start it on its own",
    )


def port_in_use(port: int, host: str = LISTEN_ADDRESS) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As PostgreSQL does: connections of a server that just stopped linger in
        # TIME_WAIT and must not count as "in use"; a listening socket still does.
        if sys.platform == "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def port_taken_error(port: int) -> LabError:
    return LabError(
        f"Port {port} on {LISTEN_ADDRESS} is already in use by another program "
        "(perhaps another PostgreSQL, or a lab server started from another folder)",
        f"Stop that program, or pick a free port: set LABKIT_PORT={port + 1} and run labkit up",
    )


def conf_quote(value: str) -> str:
    """``value`` escaped for a single-quoted string in postgresql.conf."""
    return value.replace("\\", "\\\\").replace("'", "''")


def free_port(host: str = LISTEN_ADDRESS) -> int:
    """A TCP port nothing listens on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
