"""Fixtures for the tests against a managed-style server (tests/managed.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import managed
from .helpers import free_port


@pytest.fixture(scope="session")
def managed_server() -> Iterator[managed.ManagedServer]:
    """One managed-style cluster for the session (or LABKIT_TEST_MANAGED_URL), stopped at the end."""
    # In the session's scratch folder: the root conftest stops any server left there.
    scratch = Path(os.environ["LABKIT_DATA_DIR"]).parent
    folder = Path(tempfile.mkdtemp(prefix="managed-", dir=scratch))
    server = managed.start(folder, free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def on_managed(
    managed_server: managed.ManagedServer, monkeypatch: pytest.MonkeyPatch
) -> managed.ManagedServer:
    """This test's labkit (and its child processes) use the managed-style server."""
    monkeypatch.setenv("DATABASE_URL", managed_server.url)
    return managed_server


@pytest.fixture
def emulated(managed_server: managed.ManagedServer) -> managed.ManagedServer:
    """The managed-style cluster itself: a test that plays the provider needs it."""
    if not managed_server.emulated:
        pytest.skip(f"{managed.URL_VARIABLE} points at a real server: no provider login")
    return managed_server
