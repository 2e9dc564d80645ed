"""Run PostgreSQL programs in the background as the server's own account.

``binaries.run_server_program`` runs one program to its end; point-in-time
recovery also needs one that keeps running (pg_receivewal) and the
administrator's password in its environment, never on its command line.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import binaries, db
from ..errors import LabError


def start(name: str, args: Sequence[str], lab: db.Target, log: Path) -> subprocess.Popen[bytes]:
    """Start a program as the server's account, the administrator's password in its env."""
    env = {
        **os.environ,
        "LC_MESSAGES": "C",
        "PGPASSWORD": lab.params()["password"],
        "PGAPPNAME": "labkit-pitr",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(binaries.program(name, lab.settings)), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            **binaries.service_account(lab.settings),
        )


def wait_for(
    ready: Callable[[], bool], process: subprocess.Popen[bytes] | None, log: Path, name: str
) -> None:
    """Poll ``ready`` for up to 30 s; fail early if ``process`` has ended."""
    deadline = time.monotonic() + 30
    while not ready():
        if (process and process.poll() is not None) or time.monotonic() > deadline:
            raise LabError(f"{name} did not get ready: {tail(log)}", "Run it again")
        time.sleep(0.02)


def tail(log: Path) -> str:
    """The last line of a program's log, for an error message."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no message"
