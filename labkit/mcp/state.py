"""Which HTTP server runs on this data folder: a small file (pid, URL) while it runs.

Kept apart from ``http`` so that ``labkit status`` reads it without loading the SDK.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import psutil

from .. import settings


def state_file() -> Path:
    return settings.load().data_dir / "mcp-http.json"


def running() -> dict[str, object] | None:
    """The HTTP server this data folder runs (pid, url), or None."""
    try:
        state = json.loads(state_file().read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not psutil.pid_exists(pid):
        return None
    return {"pid": pid, "url": state.get("url")}


@contextlib.contextmanager
def recorded(url: str) -> Iterator[None]:
    """Record this process as the server at ``url`` while the block runs."""
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
