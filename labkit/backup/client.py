"""Run pg_dump and pg_restore as clients of the lab's server, and check their version.

They run as the current user over TCP with the connection parameters of
``labkit.db``. The password goes to the child process in its environment
(``PGPASSWORD``), never on its command line, where ``ps`` would show it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .. import binaries
from ..db import Target
from ..errors import LabError


def conninfo(params: dict[str, str]) -> str:
    """A libpq conninfo string of ``params`` without the password."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{key: value for key, value in params.items() if key != "password"})


def version(program: Path) -> tuple[int, int]:
    """A PostgreSQL program's (major, minor) version, from ``--version``."""
    output = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    found = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", output)
    if found is None:
        raise LabError(
            f"{program} did not report a PostgreSQL version ({output.strip() or 'no output'})",
            "Point LABKIT_PG_BIN at a folder of PostgreSQL programs, or unset it",
        )
    return int(found[1]), int(found[2] or 0)


def check_version(program: Path, server_version_num: int) -> str:
    """Refuse a client program older than the server; return its version as text.

    pg_dump reads servers of its own major version and older ones, never newer:
    an older pg_dump stops with "server version mismatch".
    """
    major, minor = version(program)
    server_major = server_version_num // 10000
    if major < server_major:
        raise LabError(
            f"{program.name} {major}.{minor} is older than the server, PostgreSQL {server_major}, "
            "and cannot read it",
            f"Install the PostgreSQL {server_major} client programs and set LABKIT_PG_BIN to "
            "their folder (or use the lab's embedded server)",
        )
    return f"{major}.{minor}"


def run(
    name: str,
    args: Sequence[str],
    lab: Target,
    *,
    role_params: dict[str, str],
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client program with the password in its environment only.

    Interrupted (Ctrl-C, a timeout, any exception), the program is killed and
    waited for before the exception goes on, so the caller can clean up after it.
    """
    command = [str(binaries.program(name, lab.settings)), *args]
    env = {**os.environ, "LC_MESSAGES": "C", "LANG": "C", "PGCONNECT_TIMEOUT": "10"}
    env.pop("PGPASSWORD", None)
    if role_params.get("password"):
        env["PGPASSWORD"] = role_params["password"]
    # Files, not pipes: pg_restore --jobs writes from several processes.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command, env=env, text=True, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            process.kill()
            process.wait()
            raise LabError(
                f"{name} did not finish within {timeout:g} s and was stopped",
                "Nothing it started was kept; run it again, with a longer timeout if needed",
            ) from error
        except BaseException:
            process.kill()
            process.wait()
            raise
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(), err.read())


def first_error(stderr: str) -> str:
    """The line of a client program's output that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[-1] if lines else "no message"


def toc(path: Path, lab: Target | None = None) -> list[str]:
    """The table of contents of a custom-format dump (``pg_restore --list``), one entry a line."""
    from .. import db

    lab = lab or db.target()
    result = run("pg_restore", ["--list", str(path)], lab, role_params={})
    if result.returncode != 0:
        raise LabError(
            f"pg_restore cannot read {path.name}: {first_error(result.stderr)}",
            "Restore a file written by pg_dump --format=custom, as it was written",
        )
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]
