"""What every benchmark shares: a throw-away server, so figures never touch .labdata."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit import settings, tenancy
from labkit.server import EmbeddedServer, free_port


@contextmanager
def throwaway_server() -> Iterator[Path]:
    """Point labkit at a new embedded server on a free port; stop and delete it at the end.

    Yields a scratch folder (the server's data lives in ``data/`` below it).
    """
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as scratch:
        os.environ.update({"LABKIT_DATA_DIR": f"{scratch}/data", "LABKIT_PORT": str(free_port())})
        os.environ.pop("DATABASE_URL", None)
        try:
            yield Path(scratch)
        finally:
            tenancy.close_pools()
            EmbeddedServer(settings.load()).stop()
