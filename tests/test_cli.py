"""The labkit command, run as a newcomer would run it."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from labkit import binaries, catalog, cli, contract, db, schema

from .helpers import free_port, run_labkit, server_env


def dump_schema() -> str:
    """The lab database's DDL, with pg_dump's random restrict key pinned."""
    pg_dump = binaries.program("pg_dump", db.target().settings)
    result = subprocess.run(
        [str(pg_dump), "--schema-only", "--restrict-key=labkit", db.url()],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_url_logs_in_as_the_role_it_names() -> None:
    roles = (contract.OWNER_ROLE, contract.APP_ROLE, *contract.STORE_LOGINS)
    for role, expected in ((None, "postgres"), *((role, role) for role in roles)):
        result = run_labkit("url", *(["--role", role] if role else []))
        assert result.returncode == 0, result.stderr
        url = result.stdout.strip()
        assert conninfo.conninfo_to_dict(url)["user"] == expected
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (expected,)


def test_url_for_sqlalchemy() -> None:
    result = run_labkit("url", "--driver", "psycopg")
    assert result.stdout.startswith("postgresql+psycopg://postgres:")


def test_url_for_an_unknown_role_says_what_to_do() -> None:
    result = run_labkit("url", "--role", "nobody")
    assert result.returncode == 1
    assert result.stderr.startswith("labkit: No password is recorded for role 'nobody'")
    assert "labkit setup" in result.stderr


def test_psql_runs_the_bundled_client() -> None:
    result = run_labkit(
        "psql",
        "--role",
        contract.OWNER_ROLE,
        "-Atc",
        "SELECT current_user, count(*) FROM retail.stores",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{contract.OWNER_ROLE}|4"


def test_setup_twice_changes_nothing() -> None:
    # The first: a test before may have left a database that was never set up (a restore).
    assert run_labkit("setup").returncode == 0
    with db.connect() as conn:
        facts = catalog.snapshot(conn)  # also roles' memberships and settings, grants
    before = dump_schema()
    log = db.target().server.log_file
    log_size = log.stat().st_size
    result = run_labkit("setup")
    assert result.returncode == 0, result.stderr
    assert f"Applied {len(schema.sql_files())} files" in result.stdout
    assert "Set passwords" not in result.stdout
    assert dump_schema() == before
    with db.connect() as conn:
        assert catalog.snapshot(conn) == facts
    new_log = log.read_text(errors="replace")[log_size:]
    assert "ERROR" not in new_log and "FATAL" not in new_log, new_log
    assert "CREATE TABLE retail.products" in before


def test_reset_asks_first_and_then_recreates_the_database(
    scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a server of its own: a reset drops the database every other test uses."""
    for name, value in server_env(scratch_dir, free_port()).items():
        monkeypatch.setenv(name, value)
    own = db.ensure_server()
    try:
        schema.setup()
        with db.connect(contract.OWNER_ROLE) as conn:
            conn.execute(
                "INSERT INTO retail.stores (store_id, store_name) VALUES (%s, %s)",
                ("popup", "Pop-up"),
            )
        refused = run_labkit("reset")
        assert refused.returncode == 1
        assert "--yes" in refused.stderr
        with db.connect() as conn:
            assert conn.execute("SELECT count(*) FROM retail.stores").fetchone() == (5,)
        done = run_labkit("reset", "--yes")
        assert done.returncode == 0, done.stderr
        with db.connect() as conn:
            assert conn.execute("SELECT count(*) FROM retail.stores").fetchone() == (4,)
        assert f"applied {len(schema.sql_files())} files" in done.stdout
    finally:
        own.server.stop()


COMMANDS = ["up", "down", "status", "url", "psql", "setup", "reset", "seed"]
COMMANDS += ["backup", "backups", "restore", "verify", "embed", "mcp"]


def test_help_lists_every_command() -> None:
    """By exact name, as argparse registered them and as --help prints them, in order."""
    commands = next(
        action
        for action in cli.build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert list(commands.choices) == COMMANDS
    result = run_labkit("--help")
    assert result.returncode == 0, result.stderr
    # argparse prints each command at the start of its own line, indented four spaces.
    listed = re.findall(r"^    (\S+)\s", result.stdout, flags=re.MULTILINE)
    assert listed == COMMANDS, result.stdout


#: Modules that only some commands need; importing them costs seconds on a slow laptop.
HEAVY_MODULES = ("pandas", "numpy", "sqlalchemy", "matplotlib", "onnxruntime", "faker", "openai")


def modules_loaded_by(*args: str) -> set[str]:
    """The top-level packages that ``labkit ARGS`` imports, run in a fresh interpreter."""
    probe = (
        "import sys, contextlib, io\n"
        "from labkit import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    cli.main({list(args)!r})\n"
        "print(' '.join(sorted({name.partition('.')[0] for name in sys.modules})))\n"
    )
    # A temporary folder of its own: another lab's drill folder in the shared one (a
    # second suite on the same machine) makes status check for slots, with the driver.
    with tempfile.TemporaryDirectory(prefix="labkit-cli-probe-") as own_tmp:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "TMPDIR": own_tmp},
        )
    return set(result.stdout.split())


def test_help_and_status_import_only_what_they_need() -> None:
    help_modules = modules_loaded_by("--help")
    assert "labkit" in help_modules  # the probe ran
    assert help_modules.isdisjoint({"psycopg", *HEAVY_MODULES}), help_modules
    status_modules = modules_loaded_by("status")
    assert "labkit" in status_modules
    # The embedded server's versions come from the bundled psql: no driver to import.
    assert status_modules.isdisjoint({"psycopg", *HEAVY_MODULES}), status_modules & {
        "psycopg",
        *HEAVY_MODULES,
    }


def test_help_is_plain_text() -> None:
    for args in (["--help"], *([command, "--help"] for command in ("status", "backup", "seed"))):
        result = run_labkit(*args)
        assert result.returncode == 0, result.stderr
        assert "usage: labkit" in result.stdout
        assert "``" not in result.stdout and ":func:" not in result.stdout, result.stdout


def test_a_closed_pipe_ends_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before labkit writes, as after `| head -0`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "labkit", "status"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141


def test_the_package_keeps_its_names_when_they_load_lazily() -> None:
    probe = (
        "import labkit, labkit.product_search, labkit.tenancy\n"
        "from labkit.product_search import MODES\n"
        "assert callable(labkit.search) and labkit.search.__module__ == 'labkit.product_search'\n"
        "assert labkit.as_store is labkit.tenancy.as_store\n"
        "assert labkit.catalog.snapshot and labkit.backup.restore and labkit.LabError\n"
        "assert set(labkit.__all__) <= set(dir(labkit))\n"
        "try:\n"
        "    labkit.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "has no attribute 'no_such_name'" in result.stdout


def test_backup_says_which_older_backups_retention_removed(tmp_path: Path) -> None:
    first = run_labkit("backup", str(tmp_path), "--keep", "1")
    assert first.returncode == 0, first.stderr
    assert "Removed" not in first.stdout  # nothing older to remove
    [kept] = list(tmp_path.glob("*.dump"))
    second = run_labkit("backup", str(tmp_path), "--keep", "1")
    assert second.returncode == 0, second.stderr
    assert f"Removed 1 older backups, keeping the newest 1 (--keep): {kept.name}" in second.stdout
    assert not kept.exists()
