"""Row-level security, tried the way a determined tester would.

The isolation matrix runs every per-store table x SELECT, COPY TO, INSERT,
UPDATE and DELETE, as mcp_user, for every store's context against every other
store, plus no context and an empty one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import labkit
from labkit import contract
from labkit.tenancy import store_transaction

from . import rls_data
from .rls_data import KEYS

TAG = "rls"
STORES = list(contract.STORES)
NO_CONTEXT, EMPTY_CONTEXT = None, ""


@pytest.fixture(scope="module")
def rows() -> Iterator[dict[str, rls_data.StoreRows]]:
    with labkit.connect(autocommit=True) as admin:
        rls_data.remove(admin, TAG)
        written = rls_data.write(admin, TAG)
        yield written
        rls_data.remove(admin, TAG)


@pytest.fixture
def admin_truth(rows: dict, admin: psycopg.Connection) -> dict[str, dict[uuid.UUID, str]]:
    return rls_data.truth(admin)


def _open(conn: psycopg.Connection, context: str | None) -> Any:
    """A transaction as the given context: a store, none at all, or an empty setting."""
    if context:
        return store_transaction(conn, context)
    transaction = conn.transaction()
    if context == EMPTY_CONTEXT:
        conn.execute("SELECT set_config('app.current_store_id', '', true)")
    return transaction


def _insert(
    conn: psycopg.Connection, table: str, store: str, rows: dict[str, rls_data.StoreRows]
) -> None:
    theirs = rows[store]
    statements = {
        "customers": (
            "INSERT INTO retail.customers (store_id, first_name, last_name, email) VALUES (%s, 'X', 'Y', %s)",
            (store, f"intruder-{uuid.uuid4()}@test.example"),
        ),
        "products": (
            "INSERT INTO retail.products (store_id, sku, product_name, price) VALUES (%s, %s, 'X', 1)",
            (store, f"intruder-{uuid.uuid4()}"),
        ),
        "sales_transactions": (
            "INSERT INTO retail.sales_transactions (store_id) VALUES (%s)",
            (store,),
        ),
        "sales_transaction_items": (
            "INSERT INTO retail.sales_transaction_items"
            " (transaction_id, product_id, quantity, unit_price, total_price) VALUES (%s, %s, 1, 1, 1)",
            (theirs.first("sales_transactions"), theirs.first("products")),
        ),
        "product_embeddings": (
            "INSERT INTO retail.product_embeddings"
            " (product_id, store_id, embedding_text, embedding, embedding_model)"
            " VALUES (%s, %s, 'X', '[1,1,1]', %s)",
            (theirs.keys["products"][1], store, f"intruder-{uuid.uuid4()}"),
        ),
    }
    query, params = statements[table]
    conn.execute(query, params)


@pytest.mark.parametrize(
    "context", [*STORES, NO_CONTEXT, EMPTY_CONTEXT], ids=[*STORES, "no-context", "empty"]
)
@pytest.mark.parametrize("table", contract.PER_STORE_TABLES)
def test_isolation_matrix(
    table: str, context: str | None, rows: dict, admin_truth: dict, admin: psycopg.Connection
) -> None:
    key = KEYS[table]
    mine = {k for k, store in admin_truth[table].items() if store == context}
    before = rls_data.fingerprint(admin)
    foreign_stores = [store for store in STORES if store != context]
    with labkit.connect(contract.APP_ROLE) as conn, _open(conn, context):
        # SELECT: exactly this store's rows, none of another's.
        seen = {k for (k,) in conn.execute(f"SELECT {key} FROM retail.{table}")}
        assert seen == mine
        # COPY TO obeys the same policy.
        with conn.cursor().copy(f"COPY retail.{table} ({key}) TO STDOUT") as copy:
            copied = {uuid.UUID(row[0]) for row in copy.rows()}
        assert copied == mine
        for target in foreign_stores:
            theirs = rows[target].keys[table]
            # INSERT into another store: refused by WITH CHECK.
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                conn.transaction(),
            ):
                _insert(conn, table, target, rows)
            # UPDATE and DELETE cannot even see another store's rows.
            for statement in (
                f"UPDATE retail.{table} SET {key} = {key}",
                f"DELETE FROM retail.{table}",
            ):
                changed = conn.execute(f"{statement} WHERE {key} = ANY(%s)", (theirs,)).rowcount
                assert changed == 0, (statement, target)
    # Committed, and nothing was half-written.
    assert rls_data.fingerprint(admin) == before


@pytest.mark.parametrize(
    "table", ["customers", "products", "sales_transactions", "product_embeddings"]
)
def test_a_row_cannot_be_moved_to_another_store(table: str, rows: dict) -> None:
    key = KEYS[table]
    own = rows["seattle"].first(table)
    with labkit.connect(contract.APP_ROLE) as conn, store_transaction(conn, "seattle"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(f"UPDATE retail.{table} SET store_id = 'redmond' WHERE {key} = %s", (own,))
        assert conn.execute(
            f"SELECT store_id FROM retail.{table} WHERE {key} = %s", (own,)
        ).fetchone() == ("seattle",)


def test_an_item_cannot_name_another_stores_product(rows: dict) -> None:
    """A composite foreign key refuses it, for every role; the policy is not even needed."""
    sale, foreign_product = (
        rows["seattle"].first("sales_transactions"),
        rows["redmond"].first("products"),
    )
    item = (
        "INSERT INTO retail.sales_transaction_items"
        " (transaction_id, product_id, quantity, unit_price, total_price) VALUES (%s, %s, 1, 1, 1)"
    )
    with (
        labkit.connect(contract.APP_ROLE) as conn,
        conn.transaction(force_rollback=True),
        store_transaction(conn, "seattle"),
    ):
        with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
            conn.execute(item, (sale, foreign_product))
        # Inserted without a store_id, an item takes its transaction's.
        own = conn.execute(item + " RETURNING store_id", (sale, rows["seattle"].first("products")))
        assert own.fetchall() == [("seattle",)]


# -- store logins ---------------------------------------------------------------


@pytest.mark.parametrize(("login", "home"), list(contract.STORE_LOGINS.items()))
def test_a_store_login_sees_its_own_store_and_cannot_spoof_another(
    login: str, home: str, rows: dict, admin_truth: dict
) -> None:
    own_customers = {k for k, s in admin_truth["customers"].items() if s == home}
    other = next(store for store in STORES if store != home)
    with labkit.connect(login) as conn:
        with conn.transaction():
            assert {
                k for (k,) in conn.execute("SELECT customer_id FROM retail.customers")
            } == own_customers
        # Setting the context by hand to another store is ignored: still its own store...
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('app.current_store_id', %s, true)", (other,))
            assert {
                k for (k,) in conn.execute("SELECT customer_id FROM retail.customers")
            } == own_customers
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                _insert(conn, "customers", other, rows)
        # ...and the function refuses outright.
        with (
            pytest.raises(
                psycopg.errors.InsufficientPrivilege, match=f"may act only for store '{home}'"
            ),
            conn.transaction(),
        ):
            conn.execute("SELECT retail.set_store_context(%s)", (other,))
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT retail.set_store_context(%s)", (home,))
            stores = conn.execute("SELECT DISTINCT store_id FROM retail.customers").fetchall()
            assert stores == [(home,)]


# -- set_store_context ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("nowhere", psycopg.errors.InvalidParameterValue, "unknown store: 'nowhere'"),
        (None, psycopg.errors.InvalidParameterValue, "a store id is required"),
        ("", psycopg.errors.InvalidParameterValue, "a store id is required"),
        ("   ", psycopg.errors.InvalidParameterValue, "a store id is required"),
        ("seattle' OR '1'='1", psycopg.errors.InvalidParameterValue, "unknown store"),
        (
            "seattle'; DROP TABLE retail.stores; --",
            psycopg.errors.InvalidParameterValue,
            "unknown store",
        ),
        ("SEATTLE", psycopg.errors.InvalidParameterValue, "unknown store"),
    ],
)
def test_set_store_context_rejects_bad_input_and_changes_nothing(
    value: str | None, error: type[Exception], message: str, admin: psycopg.Connection
) -> None:
    audit_rows = admin.execute("SELECT count(*) FROM retail.audit_log").fetchone()
    with labkit.connect(contract.APP_ROLE) as conn, conn.transaction():
        with pytest.raises(error, match=message) as raised, conn.transaction():
            conn.execute("SELECT retail.set_store_context(%s)", (value,))
        assert raised.value.diag.message_hint, "the error says what to do"
        setting = conn.execute("SELECT current_setting('app.current_store_id', true)").fetchone()
        assert setting in ((None,), ("",))
    assert admin.execute("SELECT count(*) FROM retail.audit_log").fetchone() == audit_rows
    assert admin.execute("SELECT count(*) FROM retail.stores").fetchone() == (len(contract.STORES),)


def test_an_inactive_store_is_refused(admin: psycopg.Connection) -> None:
    admin.execute("UPDATE retail.stores SET is_active = false WHERE store_id = 'online'")
    try:
        with (
            pytest.raises(labkit.LabError, match="'online' is not active"),
            labkit.as_store("online"),
        ):
            pass
    finally:
        admin.execute("UPDATE retail.stores SET is_active = true WHERE store_id = 'online'")


def test_the_context_lasts_one_transaction(rows: dict) -> None:
    with labkit.connect(contract.APP_ROLE) as conn:
        with conn.transaction():
            conn.execute("SELECT retail.set_store_context('seattle')")
            assert conn.execute("SELECT count(*) > 0 FROM retail.customers").fetchone() == (True,)
        with conn.transaction():
            assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)
        conn.autocommit = True  # outside a transaction block, it ends with its statement
        conn.execute("SELECT retail.set_store_context('seattle')")
        assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)


# -- audit ------------------------------------------------------------------------


def test_changes_are_audited_with_their_own_keys(rows: dict, admin: psycopg.Connection) -> None:
    with labkit.as_store("bellevue") as conn:
        (customer,) = conn.execute(
            "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
            " VALUES ('bellevue', 'Audit', 'Me', %s) RETURNING customer_id",
            (f"audit-{uuid.uuid4()}@test.example",),
        ).fetchone()
        (product,) = conn.execute(
            "INSERT INTO retail.products (store_id, sku, product_name, price)"
            " VALUES ('bellevue', %s, 'Audited', 5) RETURNING product_id",
            (f"audit-{uuid.uuid4()}",),
        ).fetchone()
        (sale,) = conn.execute(
            "INSERT INTO retail.sales_transactions (store_id, customer_id) VALUES ('bellevue', %s)"
            " RETURNING transaction_id",
            (customer,),
        ).fetchone()
        conn.execute("UPDATE retail.products SET price = 6 WHERE product_id = %s", (product,))
        conn.execute("DELETE FROM retail.sales_transactions WHERE transaction_id = %s", (sale,))
    trail = admin.execute(
        "SELECT table_name, action, record_id, store_id, user_name, old_values ->> 'price', new_values ->> 'price'"
        " FROM retail.audit_log WHERE record_id = ANY(%s) ORDER BY created_at, log_id",
        ([customer, product, sale],),
    ).fetchall()
    assert sorted(trail, key=str) == sorted(
        [
            ("customers", "INSERT", customer, "bellevue", contract.APP_ROLE, None, None),
            ("products", "INSERT", product, "bellevue", contract.APP_ROLE, None, "5.00"),
            ("sales_transactions", "INSERT", sale, "bellevue", contract.APP_ROLE, None, None),
            ("products", "UPDATE", product, "bellevue", contract.APP_ROLE, "5.00", "6.00"),
            ("sales_transactions", "DELETE", sale, "bellevue", contract.APP_ROLE, None, None),
        ],
        key=str,
    )
    admin.execute("DELETE FROM retail.products WHERE product_id = %s", (product,))
    admin.execute("DELETE FROM retail.customers WHERE customer_id = %s", (customer,))


def test_setting_the_context_is_audited(admin: psycopg.Connection) -> None:
    marker = admin.execute("SELECT now()").fetchone()[0]
    with labkit.as_store("redmond"):
        pass
    logged = admin.execute(
        "SELECT user_name, store_id FROM retail.audit_log WHERE action = 'SET_CONTEXT' AND created_at >= %s",
        (marker,),
    ).fetchall()
    assert (contract.APP_ROLE, "redmond") in logged


@pytest.mark.parametrize("role", [contract.APP_ROLE, "seattle_manager", contract.OWNER_ROLE])
@pytest.mark.parametrize("log", ["retail.audit_log", "retail_audit.audit_log"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {log} SET action = 'FORGED'",
        "DELETE FROM {log}",
        "TRUNCATE {log}",
        "INSERT INTO {log} (table_name, action, store_id) VALUES ('stores', 'SET_CONTEXT', 'online')",
        "ALTER TABLE {log} DISABLE TRIGGER USER",
    ],
)
def test_audit_rows_cannot_be_altered(role: str, log: str, statement: str) -> None:
    with labkit.connect(role) as conn, conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('app.current_store_id', 'seattle', true)")
        # TRUNCATE and ALTER TABLE on the view are refused for what it is.
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.WrongObjectType)):
            conn.execute(statement.format(log=log))


def test_the_owner_writes_its_own_entries_under_its_own_name(admin: psycopg.Connection) -> None:
    with labkit.connect(contract.OWNER_ROLE) as owner, owner.transaction(force_rollback=True):
        (user_name, login) = owner.execute(
            "INSERT INTO retail.audit_log (table_name, action, user_name, metadata)"
            " VALUES ('*', 'MAINTENANCE', 'someone_else', '{\"login\": \"nobody\"}')"
            " RETURNING user_name, metadata ->> 'login'"
        ).fetchone()
    assert (user_name, login) == (contract.OWNER_ROLE, contract.OWNER_ROLE)


def test_a_store_reads_only_its_own_audit_rows(rows: dict) -> None:
    with labkit.as_store("seattle") as conn:
        stores = conn.execute("SELECT DISTINCT store_id FROM retail.audit_log").fetchall()
    assert stores == [("seattle",)]


# -- roles, privileges and the catalog ------------------------------------------------


def test_the_application_roles_are_unprivileged(admin: psycopg.Connection) -> None:
    roles = [contract.APP_ROLE, *contract.STORE_LOGINS]
    flags = admin.execute(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin"
        " FROM pg_catalog.pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
        (roles,),
    ).fetchall()
    assert flags == [(role, False, False, False, False, True) for role in sorted(roles)]
    owned = admin.execute(
        "SELECT count(*) FROM pg_catalog.pg_class WHERE pg_catalog.pg_get_userbyid(relowner) = ANY(%s)",
        (roles,),
    ).fetchone()
    assert owned == (0,)
    for role in roles:
        for table in contract.TABLES:
            truncate = admin.execute(
                "SELECT has_table_privilege(%s, %s, 'TRUNCATE')", (role, f"retail.{table}")
            ).fetchone()
            assert truncate == (False,), (role, table)
        assert admin.execute(
            "SELECT has_schema_privilege(%s, 'retail', 'CREATE')", (role,)
        ).fetchone() == (False,)


def test_every_per_store_table_is_forced(admin: psycopg.Connection) -> None:
    flags = admin.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class"
        " WHERE relnamespace = 'retail'::regnamespace AND relname = ANY(%s) ORDER BY relname",
        (list(contract.PER_STORE_TABLES),),
    ).fetchall()
    assert flags == [(table, True, True) for table in sorted(contract.PER_STORE_TABLES)]


def test_every_function_pins_its_search_path(admin: psycopg.Connection) -> None:
    functions = admin.execute(
        "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig, p.prosqlbody IS NOT NULL"
        " FROM pg_catalog.pg_proc AS p WHERE p.pronamespace IN ('retail'::regnamespace, 'retail_audit'::regnamespace)"
    ).fetchall()
    assert any(definer for _, definer, _, _ in functions)
    for name, definer, config, parsed in functions:
        paths = [c for c in config or [] if c.startswith("search_path=")]
        # A SQL-standard body (RETURN ...) is parsed when created: no lookup at call time.
        assert parsed or (paths and paths[0].startswith("search_path=pg_catalog")), name
        if definer:  # it runs as its owner: nothing a caller can create may be found first
            assert paths == ["search_path=pg_catalog, pg_temp"], name


def test_policies_read_the_setting_once_per_statement(rows: dict) -> None:
    with labkit.as_store("seattle") as conn:
        plan = "\n".join(
            line
            for (line,) in conn.execute(
                "EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM retail.customers"
            )
        )
    # current_store_id() is inlined: the plan calls the verification it wraps, once,
    # in an InitPlan, and the scan compares against that InitPlan's value.
    assert "InitPlan" in plan and plan.count("verified_store_id()") == 1, plan
    assert "(InitPlan 1).col1" in plan, plan


def test_the_owner_sees_everything_until_forced_and_a_superuser_always(
    rows: dict, admin: psycopg.Connection, admin_truth: dict
) -> None:
    everyone = len(admin_truth["customers"])
    assert admin.execute("SELECT count(*) FROM retail.customers").fetchone() == (everyone,)
    with labkit.connect(contract.OWNER_ROLE) as owner, owner.transaction(force_rollback=True):
        assert owner.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)
        owner.execute("ALTER TABLE retail.customers NO FORCE ROW LEVEL SECURITY")
        assert owner.execute("SELECT count(*) FROM retail.customers").fetchone() == (everyone,)
