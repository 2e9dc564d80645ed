"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from labkit.server import free_port

__all__ = ["free_port", "run_labkit", "server_env"]


def run_labkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``labkit`` command as a newcomer would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    """Environment for a second, separate embedded server."""
    return {"LABKIT_DATA_DIR": str(data_dir), "LABKIT_PORT": str(port)}
