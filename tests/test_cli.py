"""The labkit command, run as a newcomer would run it."""

from __future__ import annotations

import subprocess

import psycopg
from psycopg import conninfo

from labkit import binaries, contract, db, schema

from .helpers import run_labkit


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
    before = dump_schema()
    log = db.target().server.log_file
    log_size = log.stat().st_size
    result = run_labkit("setup")
    assert result.returncode == 0, result.stderr
    assert f"Applied {len(schema.sql_files())} files" in result.stdout
    assert "Set passwords" not in result.stdout
    assert dump_schema() == before
    new_log = log.read_text(errors="replace")[log_size:]
    assert "ERROR" not in new_log and "FATAL" not in new_log, new_log
    assert "CREATE TABLE retail.products" in before


def test_reset_asks_first_and_then_recreates_the_database() -> None:
    with db.connect(contract.OWNER_ROLE) as conn:
        conn.execute(
            "INSERT INTO retail.stores (store_id, store_name) VALUES (%s, %s)", ("popup", "Pop-up")
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


def test_help_lists_every_command() -> None:
    result = run_labkit("--help")
    for command in ("up", "down", "status", "url", "psql", "setup", "reset"):
        assert command in result.stdout
