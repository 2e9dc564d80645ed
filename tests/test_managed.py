"""The lab on a managed-style server: an admin that is not a superuser (tests/managed.py).

Every step runs as a newcomer would run it, through ``DATABASE_URL``; set
``LABKIT_TEST_MANAGED_URL`` to run the same steps against a real managed server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import labkit
from labkit import capabilities, contract
from labkit.embeddings.standin import StandIn

from . import managed
from .helpers import run_labkit

EXTENSIONS = ["pg_stat_statements", "vector"]


def installed_extensions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT extname FROM pg_catalog.pg_extension WHERE extname = ANY(%s) ORDER BY 1",
            (EXTENSIONS,),
        ).fetchall()
    return [name for (name,) in rows]


def labkit_ok(*args: str, url: str) -> str:
    result = run_labkit(*args, env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_admin_is_what_a_provider_hands_out(on_managed: managed.ManagedServer) -> None:
    with psycopg.connect(on_managed.url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_catalog.pg_roles"
            " WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False, True, True)


def test_setup_twice_url_seed_embed_search_as_the_application(
    on_managed: managed.ManagedServer,
) -> None:
    first = labkit_ok("setup", url=on_managed.url)
    assert "Applied 7 files" in first
    # The admin may not grant pg_read_all_stats: the file says so, and setup shows it.
    assert "Notice: cannot grant pg_read_all_stats to retail_owner" in first
    second = labkit_ok("setup", url=on_managed.url)
    assert "Set passwords" not in second, "a second setup changes nothing"
    url = labkit_ok("url", "--role", contract.APP_ROLE, url=on_managed.url).strip()
    assert url == labkit.url(contract.APP_ROLE)
    for role in contract.LOGIN_ROLES:
        with psycopg.connect(labkit.url(role)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
    with psycopg.connect(on_managed.url) as conn:
        able = conn.execute(
            "SELECT pg_catalog.pg_has_role(current_user, 'retail_owner', 'SET'),"
            " pg_catalog.pg_has_role(current_user, 'retail_owner', 'USAGE')"
        ).fetchone()
    assert able == (True, True), "the admin granted itself SET and INHERIT"

    assert "Seeded" in labkit_ok("seed", "--scale", "tiny", "--quiet", url=on_managed.url)
    report = labkit.embed_catalog(embedder=StandIn(), progress=False)
    assert sum(report.embedded.values()) + sum(report.unchanged.values()) > 0
    with labkit.as_store("seattle") as conn:
        name = conn.execute("SELECT product_name FROM retail.products LIMIT 1").fetchone()
    assert name is not None
    found = labkit.search(name[0], store="seattle", k=3, embedder=StandIn())
    assert name[0] in set(found["product_name"])

    # Each tenant login sees one store; the control, every store's rows, finds more.
    with capabilities.every_store() as conn:
        every = conn.execute("SELECT DISTINCT store_id FROM retail.customers").fetchall()
    assert len(every) == len(contract.STORES)
    for role in (contract.APP_ROLE, "seattle_manager"):
        with psycopg.connect(labkit.url(role)) as conn, conn.transaction():
            conn.execute("SELECT retail.set_store_context('seattle')")
            stores = conn.execute("SELECT DISTINCT store_id FROM retail.customers").fetchall()
        assert stores == [("seattle",)], role


def test_reset_keeps_the_database_and_the_providers_extensions(
    on_managed: managed.ManagedServer,
) -> None:
    labkit_ok("setup", url=on_managed.url)
    labkit_ok("seed", "--scale", "tiny", "--quiet", url=on_managed.url)
    with psycopg.connect(on_managed.url) as conn:
        oid = conn.execute(
            "SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()"
        ).fetchone()
    out = labkit_ok("reset", "--yes", url=on_managed.url)
    assert "the database and its extensions stay: pg_stat_statements, vector" in out
    assert installed_extensions(on_managed.url) == EXTENSIONS
    with psycopg.connect(on_managed.url) as conn:
        assert (
            conn.execute(
                "SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()"
            ).fetchone()
            == oid
        ), "the database itself was kept"
        assert conn.execute("SELECT count(*) FROM retail.stores").fetchone() == (4,)
    owner = labkit_ok("url", "--role", contract.OWNER_ROLE, url=on_managed.url).strip()
    with psycopg.connect(owner) as conn:
        assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)


def test_the_admin_creates_allow_listed_extensions_in_a_database_it_creates(
    emulated: managed.ManagedServer,
) -> None:
    url = emulated.url_for(managed.ADMIN, "zava_fresh")
    out = labkit_ok("setup", url=url)
    assert "Created the lab database." in out
    assert installed_extensions(url) == EXTENSIONS
    with psycopg.connect(url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT pg_catalog.pg_get_userbyid(extowner) FROM pg_catalog.pg_extension"
            " WHERE extname = ANY(%s)",
            (EXTENSIONS,),
        ).fetchall()
    assert owners == [(managed.ADMIN,)]
    labkit_ok("reset", "--yes", url=url)
    assert installed_extensions(url) == EXTENSIONS


def test_extensions_not_allow_listed_say_where_to_allow_them(
    emulated: managed.ManagedServer,
) -> None:
    url = managed.provider_database(emulated, "zava_bare", managed.BARE_ADMIN)
    result = run_labkit("setup", env={"DATABASE_URL": url})
    assert result.returncode == 1
    message = result.stderr
    assert "01_extensions.sql failed: 'bare_admin' may not create the extension(s)" in message
    assert "00_roles" not in message, "checked before anything changed"
    assert "pg_stat_statements, vector" in message
    assert "azure.extensions" in message and "rds_superuser" in message
    assert installed_extensions(url) == []


def test_no_createrole_says_what_the_lab_needs(emulated: managed.ManagedServer) -> None:
    url = managed.provider_database(emulated, "zava_limited", managed.LIMITED_ADMIN)
    with emulated.provider("zava_limited") as conn:
        for extension in EXTENSIONS:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    result = run_labkit("setup", env={"DATABASE_URL": url})
    assert result.returncode == 1
    # Whether the lab's roles exist yet (made by another admin) or not, it cannot go on.
    assert "00_roles.sql failed: 'limited_admin' may not " in result.stderr
    assert "CREATEROLE" in result.stderr


def test_no_createdb_says_where_to_create_the_database(emulated: managed.ManagedServer) -> None:
    url = emulated.url_for(managed.LIMITED_ADMIN, "zava_nowhere")
    result = run_labkit("setup", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert "'limited_admin' may not create the lab database 'zava_nowhere'" in result.stderr
    assert "az postgres flexible-server db create" in result.stderr


def test_a_backup_without_bypassrls_says_what_to_do(on_managed: managed.ManagedServer) -> None:
    labkit_ok("setup", url=on_managed.url)
    result = run_labkit("backup", env={"DATABASE_URL": on_managed.url})
    assert result.returncode == 1
    assert "cannot read every row" in result.stderr and "BYPASSRLS" in result.stderr


@pytest.fixture
def bypassrls(emulated: managed.ManagedServer) -> Iterator[managed.ManagedServer]:
    """The provider grants the admin BYPASSRLS (what the backup error asks for), then takes it back."""
    with emulated.provider() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(sql.Identifier(managed.ADMIN)))
    try:
        yield emulated
    finally:
        with emulated.provider() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(managed.ADMIN)))
            conn.execute("DROP DATABASE IF EXISTS zava_restored WITH (FORCE)")


@pytest.mark.slow
def test_backup_verify_then_restore_by_an_admin_without_bypassrls(
    bypassrls: managed.ManagedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bypassrls.url
    monkeypatch.setenv("DATABASE_URL", url)
    labkit_ok("setup", url=url)
    labkit_ok("seed", "--scale", "tiny", "--quiet", url=url)
    out = labkit_ok("backup", str(tmp_path), url=url)
    dump = next(tmp_path.glob("*.dump"))
    manifest = json.loads(dump.with_suffix(".json").read_text(encoding="utf-8"))
    assert managed.ADMIN not in manifest["roles"], "the admin is this server's, not the lab's"
    assert set(manifest["roles"]) <= {
        contract.OWNER_ROLE,
        "retail_app",
        "retail_audit",
        *contract.LOGIN_ROLES,
    }
    assert "Wrote" in out
    labkit_ok("verify", str(dump), url=url)  # exit status 0: the restored copy matches

    with bypassrls.provider() as conn:  # the admin as the provider hands it out again
        conn.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(managed.ADMIN)))
    restored = labkit_ok("restore", str(dump), "--into", "zava_restored", url=url)
    assert "Restored" in restored and "Skipped here:" in restored and "BYPASSRLS" in restored
    tenant_tables = {f"{contract.SCHEMA}.{table}" for table in contract.PER_STORE_TABLES}
    rows = {
        table: entry[0]
        for table, entry in manifest["fingerprint"]["tables"].items()
        if table in tenant_tables
    }
    assert rows.keys() == tenant_tables
    with capabilities.every_store(dbname="zava_restored") as conn:
        for table, count in rows.items():
            found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(table)))
            assert found.fetchone() == (count,), table
    assert sum(rows.values()) > 0
    with psycopg.connect(bypassrls.url_for(managed.ADMIN, "zava_restored")) as conn:
        forced = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relforcerowsecurity"
            " AND relnamespace = 'retail'::regnamespace"
        ).fetchone()
    assert forced is not None and forced[0] >= len(contract.PER_STORE_TABLES), "FORCE is back"
