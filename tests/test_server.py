"""The embedded server's life cycle, on the session server and on separate ones."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import labkit
from labkit import db, settings, tenancy
from labkit.errors import LabError
from labkit.server import EmbeddedServer

from .helpers import free_port, run_labkit, server_env


def test_status_shows_versions_address_and_log() -> None:
    result = run_labkit("status")
    assert result.returncode == 0, result.stderr
    assert "running" in result.stdout
    assert "PostgreSQL: 18." in result.stdout
    vector = next(line for line in result.stdout.splitlines() if line.startswith("pgvector:"))
    assert tuple(int(part) for part in vector.split()[1].split(".")[:2]) >= (0, 8)
    assert f"127.0.0.1:{os.environ['LABKIT_PORT']}" in result.stdout
    assert "server.log" in result.stdout


def test_it_listens_on_tcp_and_on_a_unix_socket() -> None:
    status = db.target().server.status()
    assert status.running and status.port == int(os.environ["LABKIT_PORT"])
    if sys.platform == "win32":
        return
    assert status.socket_dir is not None
    assert (status.socket_dir / f".s.PGSQL.{status.port}").is_socket()
    params = {**db.target().params(), "host": str(status.socket_dir)}
    with psycopg.connect(**params) as conn:
        assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)


def test_pg_stat_statements_is_preloaded(admin: psycopg.Connection) -> None:
    row = admin.execute("SHOW shared_preload_libraries").fetchone()
    assert row is not None and "pg_stat_statements" in row[0]


def test_password_authentication_is_required() -> None:
    params = db.target().params()
    for password in ("", "wrong"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(**{**params, "password": password}).close()


@pytest.fixture
def persistence_db(admin: psycopg.Connection):
    name = sql.Identifier("persistence_check")
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    yield "persistence_check"
    with labkit.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def test_down_then_up_keeps_the_data(persistence_db: str) -> None:
    with labkit.connect(dbname=persistence_db) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES (%s)", ("still here",))
    down = run_labkit("down")
    try:
        assert down.returncode == 0 and "stopped" in down.stdout
        assert not db.target().server.status().running
        assert run_labkit("down").stdout.strip() == "Server was not running."
    finally:  # up again whatever failed: every later test needs the server
        up = run_labkit("up")
    assert up.returncode == 0 and "started in" in up.stdout, up.stderr
    assert "already running" in run_labkit("up").stdout
    with labkit.connect(dbname=persistence_db) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("still here",)]


def _as_seattle() -> None:
    with labkit.as_store("seattle") as conn:
        conn.execute("SELECT 1")


def test_down_stays_down_until_up() -> None:
    _as_seattle()  # the shared pool exists, with a connection, when the server stops
    stale = tenancy.pool()
    assert run_labkit("down").returncode == 0
    server = db.target().server
    try:
        for attempt in (labkit.connect, db.ensure_server, labkit.setup, _as_seattle):
            # A pool that waited for the server would end in PoolTimeout, not this.
            with pytest.raises(LabError, match=r"The lab server is stopped: run `labkit up`"):
                attempt()
        psql = run_labkit("psql", "-c", "SELECT 1")
        assert psql.returncode == 1 and "run `labkit up`" in psql.stderr
        status = run_labkit("status")
        assert status.returncode == 3 and "stopped by `labkit down`" in status.stdout
        assert not server.status().running, "something started the server again"
    finally:
        up = run_labkit("up")
    assert up.returncode == 0 and "started in" in up.stdout, up.stderr
    with labkit.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # The stopped pool was closed (its workers would otherwise reconnect further and
    # further apart and keep the first request after `labkit up` waiting): a new one serves.
    assert stale.closed and tenancy.pool() is not stale
    _as_seattle()


def test_a_server_that_stopped_without_labkit_down_starts_on_first_connect() -> None:
    """After a reboot or a crash, the first connection starts the server as before."""
    server = db.target().server
    result = server._pg_ctl("stop", "-w", "-m", "fast")
    assert result.returncode == 0, result.stderr
    assert not server.status().running and not server.stopped_on_purpose()
    with labkit.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_server_outlives_a_killed_client() -> None:
    """nbval kills notebook kernels; the server must not go down with them."""
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import labkit, time; labkit.connect(); print('up', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None and client.stdout.readline().strip() == "up"
    client.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    client.wait(timeout=10)
    assert db.target().server.status().running
    with labkit.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_taken_port_gives_a_clear_error_and_starts_nothing(scratch_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_labkit("up", env=server_env(scratch_dir, port))
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.count("\n") == 0, "one line"
    assert f"Port {port}" in message and f"LABKIT_PORT={port + 1}" in message
    server = EmbeddedServer(settings.load(server_env(scratch_dir, port)))
    assert not server.status().running


def test_a_missing_server_binary_gives_a_clear_error(scratch_dir: Path) -> None:
    env = {**server_env(scratch_dir, free_port()), "LABKIT_PG_BIN": str(scratch_dir / "nowhere")}
    result = run_labkit("up", env=env)
    assert result.returncode == 1
    assert "initdb" in result.stderr and "was not found" in result.stderr
    assert "DATABASE_URL" in result.stderr and "pip install" in result.stderr


def test_initdb_refusing_the_data_folder_says_why_and_what_to_do(scratch_dir: Path) -> None:
    env = server_env(scratch_dir, free_port())
    server = EmbeddedServer(settings.load(env))
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "notes.txt").write_text("not a database\n", encoding="utf-8")
    result = run_labkit("up", env=env)
    assert result.returncode == 1
    assert f"initdb failed in {server.pgdata}" in result.stderr, result.stderr
    assert "exists but is not empty" in result.stderr  # initdb's own words
    assert "Remove that folder" in result.stderr
    assert not (server.pgdata / "postgresql.conf").exists() and not server.status().running


def test_concurrent_first_starts_make_one_server(scratch_dir: Path) -> None:
    env = {**os.environ, **server_env(scratch_dir, free_port())}
    command = [sys.executable, "-m", "labkit", "up"]
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda _: subprocess.run(command, env=env, capture_output=True, text=True), range(3)
            )
        )
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert sum("started in" in r.stdout for r in results) == 1
    assert sum("already running" in r.stdout for r in results) == 2
    server = EmbeddedServer(settings.load(env))
    assert server.stop()
    assert not server.status().running


def test_a_long_data_path_moves_the_socket_to_a_short_folder(scratch_dir: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("no unix sockets")
    deep = scratch_dir / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    env = server_env(deep, free_port())
    server = EmbeddedServer(settings.load(env))
    assert server.ensure_running()
    status = server.status()
    try:
        assert status.socket_dir is not None
        assert len(str(status.socket_dir)) < len(str(deep))
        assert (status.socket_dir / f".s.PGSQL.{status.port}").is_socket()
    finally:
        server.stop()
    assert not status.socket_dir.exists(), "the short folder goes with the server"


def test_connect_creates_and_starts_a_server_on_first_use(
    scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server_env(scratch_dir, free_port()).items():
        monkeypatch.setenv(name, value)
    with labkit.connect() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("zava",)
    assert db.target().server.status().running
