"""Every test, notebooks included, runs against a throw-away embedded server.

This file sits at the root so that it applies however pytest is started:
`pytest notebooks/07_backup_restore.ipynb` alone must not touch .labdata either.

The server gets its own data folder and a free port, so the attendee's
``.labdata`` is never touched, and it is stopped at the end of the session even
when nbval kills notebook kernels (the server runs apart from any kernel).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import labkit
from labkit import settings
from labkit.server import EmbeddedServer
from tests.helpers import free_port

_scratch: Path | None = None
#: Set by ``make mutate``: LABKIT_DATA_DIR and LABKIT_PORT name a server it started
#: and set up once, which every one of its many short test runs shares.
_PREPARED = os.environ.get("LABKIT_TESTS_PREPARED_SERVER") == "1"


def pytest_configure(config: pytest.Config) -> None:
    global _scratch
    # make mutate's runs go in its own folder: a run it stops at a timeout cannot clean up.
    beside = Path(os.environ["LABKIT_DATA_DIR"]).parent if _PREPARED else None
    _scratch = Path(tempfile.mkdtemp(prefix="labkit-tests-", dir=beside))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("LABKIT_PG_BIN", None)
    if not _PREPARED:
        # Notebook kernels started by nbval inherit these, so they use this server too.
        os.environ["LABKIT_DATA_DIR"] = str(_scratch / "data")
        os.environ["LABKIT_PORT"] = str(free_port())
    os.environ["PLOOMBER_STATS_ENABLED"] = "false"
    os.environ["PLOOMBER_VERSION_CHECK_DISABLED"] = "true"
    os.environ["MPLBACKEND"] = "Agg"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _PREPARED:
        labkit.setup()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-randomly shuffles the tests before this hook runs; a notebook's cells, run by
    nbval, must keep their order, so they go back into their slots in notebook order."""
    slots = [index for index, item in enumerate(items) if hasattr(item, "cell_num")]
    cells = sorted((items[i] for i in slots), key=lambda c: (str(c.path), c.cell_num))  # type: ignore[attr-defined]
    for slot, cell in zip(slots, cells, strict=True):
        items[slot] = cell


def pytest_unconfigure(config: pytest.Config) -> None:
    if _scratch is None:
        return
    for data_dir in _scratch.iterdir():
        if (data_dir / "pgdata").is_dir():
            env = {**os.environ, "LABKIT_DATA_DIR": str(data_dir)}
            EmbeddedServer(settings.load(env)).stop()
    shutil.rmtree(_scratch, ignore_errors=True)


@pytest.fixture
def scratch_dir() -> Path:
    """A folder under the session's scratch folder; servers in it are stopped at exit."""
    assert _scratch is not None
    return Path(tempfile.mkdtemp(dir=_scratch))


@pytest.fixture
def admin() -> Iterator[psycopg.Connection]:
    with labkit.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner() -> Iterator[psycopg.Connection]:
    with labkit.connect("retail_owner") as conn:
        yield conn
