"""Which HTTP servers run on this data folder: a small file each (pid, URL) while it runs,
and beside it the log of one started for a notebook (``background``).

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


def log_file(port: int) -> Path:
    """Where a server started by ``background`` writes its stderr."""
    return _log_beside(state_file(port))


def _log_beside(state: Path) -> Path:
    return state.with_suffix(".log")


def running() -> list[dict[str, object]]:
    """The HTTP servers this data folder runs, each as {pid, url}; files of dead ones go."""
    found = []
    for path in sorted(settings.load().data_dir.glob("mcp-http-*.json")):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            pid = int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid):
            found.append({"pid": pid, "url": state.get("url")})
        else:  # killed without its clean-up: forget it, and its log
            for leftover in (path, _log_beside(path)):
                with contextlib.suppress(OSError):
                    leftover.unlink()
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie that nobody reaped has ended too."""
    import psutil  # only when a state file exists: `labkit status` stays fast

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


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
