"""Which HTTP servers run on this data folder: a small file each (pid, URL) while it runs.

Kept apart from ``http`` so that ``labkit status`` reads them without loading the SDK.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from .. import settings


def state_file(port: int) -> Path:
    return settings.load().data_dir / f"mcp-http-{port}.json"


def running() -> list[dict[str, object]]:
    """The HTTP servers this data folder runs, each as {pid, url}; files of dead ones go."""
    found = []
    for path in sorted(settings.load().data_dir.glob("mcp-http-*.json")):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            pid = int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        import psutil  # only when a state file exists: `labkit status` stays fast

        if psutil.pid_exists(pid):
            found.append({"pid": pid, "url": state.get("url")})
        else:  # killed without its clean-up: forget it
            with contextlib.suppress(OSError):
                path.unlink()
    return found


@contextlib.contextmanager
def recorded(port: int, url: str) -> Iterator[None]:
    """Record this process as the server at ``url`` while the block runs."""
    path = state_file(port)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
