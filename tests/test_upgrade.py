"""An existing lab database, made by the version before store isolation, is upgraded
in place by the current ``sql/``, and a second run changes nothing.

``tests/data/sql_before_isolation`` holds that version's files as they were. The
database is a scratch one on the session's server; roles are the server's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import labkit
from labkit import catalog, contract, schema

BEFORE = Path(__file__).parent / "data" / "sql_before_isolation"
DATABASE = "zava_upgrade_test"
SEARCH_INDEX = "SELECT pg_catalog.pg_get_indexdef('retail.products_search_idx'::regclass)"


@pytest.fixture
def old_database(admin: psycopg.Connection) -> Iterator[psycopg.Connection[Any]]:
    name = sql.Identifier(DATABASE)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        with labkit.connect(dbname=DATABASE, autocommit=True) as conn:
            yield conn
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        # The old files' memberships (SET TRUE) are the server's: put the current ones back.
        schema.apply_file(admin, schema.sql_file("roles"))


def test_the_previous_version_is_upgraded_in_place(old_database: psycopg.Connection) -> None:
    conn = old_database
    for path in sorted(BEFORE.glob("*.sql")):
        schema.apply_file(conn, path)
    conn.execute("GRANT retail_app TO seattle_manager WITH INHERIT TRUE, SET TRUE")
    conn.execute(
        "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
        " VALUES ('seattle', 'Old', 'Row', 'old.row@test.example')"
    )
    old_trail = conn.execute("SELECT log_id, action FROM retail.audit_log").fetchall()
    assert old_trail and conn.execute(
        "SELECT relkind FROM pg_catalog.pg_class WHERE oid = 'retail.audit_log'::regclass"
    ).fetchone() == ("r",)
    old_search_index = str(conn.execute(SEARCH_INDEX).fetchone())
    assert "model" not in old_search_index

    for path in schema.sql_files():
        schema.apply_file(conn, path)
    # The log moved, rows and all, behind a view of the same name.
    assert conn.execute("SELECT log_id, action FROM retail.audit_log").fetchall() == old_trail
    owners = conn.execute(
        "SELECT c.oid::regclass::text, c.relkind, pg_catalog.pg_get_userbyid(c.relowner)"
        " FROM pg_catalog.pg_class AS c WHERE c.relname = 'audit_log' AND c.relkind IN ('r', 'v')"
        " ORDER BY 1"
    ).fetchall()
    assert owners == [
        ("retail.audit_log", "v", contract.OWNER_ROLE),
        ("retail_audit.audit_log", "r", contract.AUDIT_ROLE),
    ]
    assert conn.execute(
        "SELECT pg_catalog.pg_has_role('seattle_manager', 'retail_app', 'SET')"
    ).fetchone() == (False,)
    keys = conn.execute(
        "SELECT conname FROM pg_catalog.pg_constraint WHERE conrelid = 'retail.customers'::regclass"
        " AND contype = 'u' ORDER BY 1"
    ).fetchall()
    assert keys == [("customers_store_email_key",), ("customers_store_id_customer_id_key",)]
    for gone in (
        "retail.audit_store_context()",
        "retail.audit_changes()",
        "retail.refuse_audit_change()",
    ):
        assert conn.execute("SELECT to_regprocedure(%s)", (gone,)).fetchone() == (None,), gone
    triggers = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_trigger"
        " WHERE tgname = 'audit_changes' AND tgfoid = 'retail_audit.record_change()'::regprocedure"
    ).fetchone()
    assert triggers == (len(contract.PER_STORE_TABLES),)

    # The full-text index of name and description was rebuilt to read model and brand too.
    definition = str(conn.execute(SEARCH_INDEX).fetchone())
    assert "COALESCE(model" in definition and "COALESCE(brand" in definition, definition
    assert definition != old_search_index

    upgraded = catalog.snapshot(conn)
    index_oid = "SELECT 'retail.products_search_idx'::regclass::oid"
    built = conn.execute(index_oid).fetchone()
    for path in schema.sql_files():
        schema.apply_file(conn, path)
    assert catalog.snapshot(conn) == upgraded, "a second run changes nothing"
    assert conn.execute(index_oid).fetchone() == built, "nor rebuilds the search index"


def test_a_search_index_that_reads_no_brand_is_rebuilt(admin: psycopg.Connection) -> None:
    """The version before: name, description and model. Its index is replaced, in place."""
    with admin.transaction(force_rollback=True):
        admin.execute("DROP INDEX retail.products_search_idx")
        admin.execute(
            "CREATE INDEX products_search_idx ON retail.products USING gin (to_tsvector("
            "'english'::regconfig, product_name || ' ' || coalesce(product_description, '')"
            " || ' ' || coalesce(model, '')))"
        )
        before = str(admin.execute(SEARCH_INDEX).fetchone())
        schema.apply_file(admin, schema.sql_file("schema"))
        after = str(admin.execute(SEARCH_INDEX).fetchone())
    assert "COALESCE(model" in before and "brand" not in before  # the control
    assert "COALESCE(brand" in after, after
