"""The schema in the live catalog matches SPEC.md, and sql/ behaves as promised."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

import labkit
from labkit import catalog, contract, schema
from labkit.errors import LabError


def test_every_table_and_column_matches_the_spec(admin: psycopg.Connection) -> None:
    found = catalog.columns(admin)
    expected = contract.schema_tables()
    assert found == expected
    # Same order as SPEC.md lists them, so SELECT * reads as the lab text does.
    assert {t: list(c) for t, c in found.items()} == {t: list(c) for t, c in expected.items()}


def test_reference_data_is_the_four_stores_and_seven_categories(admin: psycopg.Connection) -> None:
    stores = admin.execute(
        "SELECT store_id, store_name, store_type, region FROM retail.stores ORDER BY store_id"
    ).fetchall()
    assert stores == sorted((key, *values) for key, values in contract.STORES.items())
    categories = admin.execute("SELECT category_name FROM retail.product_categories").fetchall()
    assert sorted(name for (name,) in categories) == sorted(contract.CATEGORIES)


def test_the_owner_owns_everything_and_is_not_privileged(admin: psycopg.Connection) -> None:
    owners = admin.execute(
        "SELECT DISTINCT tableowner FROM pg_catalog.pg_tables WHERE schemaname = %s",
        (contract.SCHEMA,),
    ).fetchall()
    assert owners == [(contract.OWNER_ROLE,)]
    role = admin.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin"
        " FROM pg_catalog.pg_roles WHERE rolname = %s",
        (contract.OWNER_ROLE,),
    ).fetchone()
    assert role == (False, False, False, False, True)


def test_extensions_and_builtin_uuids(admin: psycopg.Connection) -> None:
    versions = dict(
        admin.execute("SELECT extname, extversion FROM pg_catalog.pg_extension").fetchall()
    )
    assert tuple(int(p) for p in versions["vector"].split(".")[:2]) >= (0, 8)
    assert "pg_stat_statements" in versions
    assert not {"uuid-ossp", "pgcrypto"} & set(versions)
    row = admin.execute("SELECT gen_random_uuid()").fetchone()
    assert row is not None and row[0].version == 4
    # pg_stat_statements is preloaded and counting: a statement just run is in it. Found
    # by its query id, not its text: an entry keeps the text of the first statement of
    # its shape (aliases and constants do not count), such as another test's SELECT 1.
    probe = "SELECT 1 AS labkit_statements_probe"
    plan = "\n".join(line for (line,) in admin.execute("EXPLAIN (VERBOSE) " + probe))
    query_id = int(re.search(r"Query Identifier: (-?\d+)", plan).group(1))
    before = admin.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE queryid = %s", (query_id,)
    ).fetchone()
    admin.execute(probe).fetchone()
    after = admin.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE queryid = %s", (query_id,)
    ).fetchone()
    assert before is not None and after is not None
    assert after[0] == before[0] + 1, "pg_stat_statements counted nothing"


def test_the_hnsw_index_serves_the_labs_embedding_model(admin: psycopg.Connection) -> None:
    row = admin.execute(
        "SELECT indexdef FROM pg_catalog.pg_indexes WHERE schemaname = 'retail' AND indexdef LIKE %s",
        (f"%USING hnsw%{contract.EMBEDDING_MODEL}%",),
    ).fetchone()
    assert row is not None
    assert "vector_cosine_ops" in row[0] and "vector(1536)" in row[0]
    assert contract.EMBEDDING_MODEL in row[0]


@pytest.fixture
def in_rollback(admin: psycopg.Connection):
    """Constraint checks as the superuser: row-level security is not the subject here."""
    with admin.transaction(force_rollback=True):
        yield admin


def _customer(conn: psycopg.Connection, store: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
        " VALUES (%s, 'Ada', 'Lovelace', %s) RETURNING customer_id",
        (store, f"{uuid.uuid4()}@example.com"),
    ).fetchone()
    assert row is not None
    return row[0]


def test_a_sale_cannot_name_another_stores_customer(in_rollback: psycopg.Connection) -> None:
    seattle_customer = _customer(in_rollback, "seattle")
    sale = "INSERT INTO retail.sales_transactions (store_id, customer_id) VALUES (%s, %s)"
    in_rollback.execute(sale, ("seattle", seattle_customer))
    with pytest.raises(psycopg.errors.ForeignKeyViolation), in_rollback.transaction():
        in_rollback.execute(sale, ("redmond", seattle_customer))


def test_a_sku_is_unique_per_store_only(in_rollback: psycopg.Connection) -> None:
    insert = "INSERT INTO retail.products (store_id, sku, product_name, price) VALUES (%s, 'SKU-1', 'Mug', 9.99)"
    in_rollback.execute(insert, ("seattle",))
    in_rollback.execute(insert, ("redmond",))
    with pytest.raises(psycopg.errors.UniqueViolation), in_rollback.transaction():
        in_rollback.execute(insert, ("seattle",))


@pytest.mark.parametrize(
    ("column", "value"),
    [("transaction_type", "refund"), ("payment_method", "cheque")],
)
def test_checks_reject_values_outside_the_spec(
    in_rollback: psycopg.Connection, column: str, value: str
) -> None:
    query = psycopg.sql.SQL(
        "INSERT INTO retail.sales_transactions (store_id, {}) VALUES ('seattle', %s)"
    ).format(psycopg.sql.Identifier(column))
    with pytest.raises(psycopg.errors.CheckViolation):
        in_rollback.execute(query, (value,))


def test_updated_at_is_kept_by_the_database(in_rollback: psycopg.Connection) -> None:
    customer = _customer(in_rollback, "bellevue")
    row = in_rollback.execute(
        "UPDATE retail.customers SET updated_at = '2000-01-01', phone = '555'"
        " WHERE customer_id = %s RETURNING updated_at = now()",
        (customer,),
    ).fetchone()
    assert row == (True,), "the trigger overrides whatever a client writes"


def test_deleting_a_product_deletes_its_embeddings(in_rollback: psycopg.Connection) -> None:
    row = in_rollback.execute(
        "INSERT INTO retail.products (store_id, sku, product_name, price) VALUES ('online', 'E-1', 'Lamp', 20)"
        " RETURNING product_id"
    ).fetchone()
    assert row is not None
    in_rollback.execute(
        "INSERT INTO retail.product_embeddings (product_id, store_id, embedding_text, embedding)"
        " VALUES (%s, 'online', 'Lamp', %s::vector)",
        (row[0], "[" + ",".join(["0.1"] * 1536) + "]"),
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation), in_rollback.transaction():
        in_rollback.execute(
            "INSERT INTO retail.product_embeddings"
            " (product_id, store_id, embedding_text, embedding, embedding_model)"
            " VALUES (%s, 'seattle', 'Lamp', '[1,2,3]', 'another-model')",
            (row[0],),
        )
    in_rollback.execute("DELETE FROM retail.products WHERE product_id = %s", (row[0],))
    left = in_rollback.execute(
        "SELECT count(*) FROM retail.product_embeddings WHERE product_id = %s", (row[0],)
    )
    assert left.fetchone() == (0,)


def test_each_file_has_named_sections() -> None:
    assert [p.name for p in schema.sql_files()][:2] == ["00_roles.sql", "01_extensions.sql"]
    parts = schema.sections("schema")
    assert set(contract.TABLES) <= set(parts)
    assert parts["stores"].startswith("-- section: stores")
    assert "CREATE TABLE IF NOT EXISTS retail.stores" in schema.section("02_schema.sql", "stores")
    with pytest.raises(LabError, match="Pick one of"):
        schema.section("schema", "nonexistent")
    with pytest.raises(LabError, match=r"00_roles\.sql"):
        schema.sql_file("nonexistent")


def test_a_failing_file_keeps_nothing(tmp_path: Path, admin: psycopg.Connection) -> None:
    broken = tmp_path / "99_broken.sql"
    broken.write_text("CREATE TABLE retail.half_done (id int);\nSELECT 1 / 0;\n")
    with pytest.raises(LabError, match=r"99_broken\.sql failed: division by zero"):
        labkit.setup(files=[broken])
    assert admin.execute("SELECT to_regclass('retail.half_done')").fetchone() == (None,)
