"""Tenant isolation attacked from outside labkit, with plain psycopg.

Every probe runs as every lab login and as every role each can SET ROLE to
(read from the catalog), and must learn nothing of another store. Each probe
also runs as the superuser, who bypasses row-level security: that control must
find the other store's data, or the probe could not see a leak and the suite
fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

import labkit
from labkit import contract
from labkit.product_search import _DOCUMENT

from . import rls_data
from .attack_support import Identity, attacker, control, foreign, identities, victim_of

TAG = "attack"
IDENTITIES = identities()
Probe = Callable[[psycopg.Connection[Any], str | None, str], int]


@pytest.fixture(scope="module", autouse=True)
def rows() -> Iterator[dict[str, rls_data.StoreRows]]:
    with labkit.connect(autocommit=True) as admin:
        rls_data.remove(admin, TAG)
        written = rls_data.write(admin, TAG)
        # Statistics that name every email, however many rows earlier tests left (a
        # notebook's lab seed: 2,000): the column_statistics control must find the
        # victim's in pg_stats. A histogram holds every value up to target + 1 of them.
        admin.execute("SET default_statistics_target = 10000")
        admin.execute("ANALYZE retail.customers")
        admin.execute("RESET default_statistics_target")
        yield written
        rls_data.remove(admin, TAG)


@pytest.fixture(scope="module")
def marked_sessions() -> Iterator[None]:
    """Each store's login leaves a query text naming its store, and stays connected."""
    sessions = []
    for login, store in contract.STORE_LOGINS.items():
        conn = labkit.connect(login, autocommit=True)
        conn.execute(f"SELECT 1 /* attack-marker-{store} */")
        sessions.append(conn)
    yield
    for conn in sessions:
        conn.close()


def _victim_emails(conn: psycopg.Connection[Any], victim: str) -> list[str]:
    return [f"{TAG}-{victim}-{i}@test.example" for i in range(2)]


# -- probes: each returns how much it learned of the victim store -----------------


def spoof_session_setting(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    conn.execute("SELECT set_config('app.current_store_id', %s, false)", (victim,))
    return foreign(conn, "SELECT store_id FROM retail.customers", home)


def spoof_local_setting(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    conn.execute(sql.SQL("SET LOCAL app.current_store_id = {}").format(sql.Literal(victim)))
    return foreign(conn, "SELECT store_id FROM retail.products", home) + foreign(
        conn, "SELECT store_id FROM retail.sales_transaction_items", home
    )


def _seen_beyond_own(
    conn: psycopg.Connection[Any], where: str, params: tuple[Any, ...], home: str | None
) -> int:
    """Rows of other stores that EXPLAIN (ANALYZE) of ``WHERE {where}`` reveals."""
    plan = "\n".join(
        line
        for (line,) in conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
            f" SELECT 1 FROM retail.customers WHERE {where}",
            params,
        )
    )
    # Rows a node removed with a filter on store_id are other stores' rows its index
    # found for the attacker's predicate: the leak. A node that filters the predicate
    # out of rows its index found by store (a store-led index) removes the attacker's
    # own rows, which tells nothing.
    removed, last_filter = 0, ""
    for line in plan.splitlines():
        if line.strip().startswith("Filter:"):
            last_filter = line
        elif match := re.search(r"Rows Removed by Filter: (\d+)", line):
            removed += int(match.group(1)) if "store_id" in last_filter else 0
    (own,) = conn.execute(
        f"SELECT count(*) FROM retail.customers WHERE store_id = %s AND {where}", (home, *params)
    ).fetchone()
    found = int(re.search(r"rows=(\d+)", plan).group(1))
    return max(found - own, 0) + removed


def index_oracle(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    """EXPLAIN (ANALYZE) counts, and the fetched-tuples counter, beyond what is visible:
    for a range of emails, as an attacker halving ranges would ask, and for each of the
    victim's emails, where an index on email alone beats one led by store_id."""
    conn.execute("SET LOCAL enable_seqscan = off")
    where = "email >= 'a' AND email < 'b'"
    learned = _seen_beyond_own(conn, where, (), home)
    for email in _victim_emails(conn, victim):
        learned += _seen_beyond_own(conn, "email = %s", (email,), home)
    (own,) = conn.execute(
        "SELECT count(*) FROM retail.customers WHERE store_id = %s", (home,)
    ).fetchone()
    fetched_before = conn.execute(
        "SELECT pg_stat_get_xact_tuples_fetched('retail.customers'::regclass)"
    ).fetchone()[0]
    conn.execute(f"SELECT 1 FROM retail.customers WHERE {where}").fetchall()
    fetched = (
        conn.execute(
            "SELECT pg_stat_get_xact_tuples_fetched('retail.customers'::regclass)"
        ).fetchone()[0]
        - fetched_before
    )
    return learned + max(fetched - own, 0)


def unique_email_oracle(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    learned = 0
    for email in _victim_emails(conn, victim):
        try:
            with conn.transaction():
                inserted = conn.execute(
                    "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
                    " VALUES (%s, 'Probe', 'Probe', %s) ON CONFLICT DO NOTHING",
                    (home or victim, email),
                ).rowcount
            learned += inserted == 0
        except psycopg.errors.InsufficientPrivilege:
            pass  # refused outright, whether the email exists or not
        except psycopg.errors.UniqueViolation:
            learned += 1
    return learned


def leaky_function_in_where(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    """A function that is not LEAKPROOF fails on the victim's rows: does it ever see one?"""
    try:
        with conn.transaction():
            conn.execute(
                "SELECT count(*) FROM retail.customers"
                " WHERE CASE WHEN store_id = %s THEN 1 / (length(email) - length(email)) ELSE 0 END = 0",
                (victim,),
            )
    except psycopg.errors.DivisionByZero:
        return 1
    return 0


def column_statistics(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    text = " ".join(
        str(row)
        for row in conn.execute(
            "SELECT most_common_vals::text, histogram_bounds::text FROM pg_catalog.pg_stats"
            " WHERE schemaname = 'retail' AND tablename = 'customers'"
        )
    )
    return sum(email in text for email in _victim_emails(conn, victim))


def copy_out(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    learned = 0
    for statement in (
        "COPY retail.customers (store_id) TO STDOUT",
        "COPY (SELECT store_id FROM retail.products) TO STDOUT",
    ):
        with conn.cursor().copy(statement) as copy:
            learned += sum(1 for (store,) in copy.rows() if store != home)
    for statement in (
        "COPY retail.customers (store_id, first_name, last_name, email) FROM STDIN",
        "COPY retail.customers TO '/dev/null'",
    ):
        try:
            with conn.transaction(force_rollback=True):
                if "STDIN" in statement:
                    with conn.cursor().copy(statement) as copy:
                        copy.write_row(
                            (victim, "Copy", "Probe", f"copy-{uuid.uuid4()}@test.example")
                        )
                else:
                    conn.execute(statement)
            learned += 1
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported):
            pass
    return learned


def cross_store_writes(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    changed = 0
    for statement in (
        "UPDATE retail.customers SET first_name = first_name WHERE store_id = %s",
        "DELETE FROM retail.sales_transaction_items WHERE store_id = %s",
        "UPDATE retail.product_embeddings SET embedding_text = embedding_text WHERE store_id = %s",
    ):
        with conn.transaction(force_rollback=True):
            changed += conn.execute(statement, (victim,)).rowcount
    for statement, params in (
        (
            "INSERT INTO retail.customers (store_id, first_name, last_name, email) VALUES (%s, 'X', 'Y', %s)",
            (victim, f"intruder-{uuid.uuid4()}@test.example"),
        ),
        ("UPDATE retail.products SET store_id = %s WHERE store_id IS NOT NULL", (victim,)),
    ):
        try:
            with conn.transaction(force_rollback=True):
                changed += conn.execute(statement, params).rowcount
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.IntegrityError):
            pass  # refused by WITH CHECK (or, for the superuser, by a foreign key)
    return changed


PROBES: dict[str, Probe] = {
    "spoof_session_setting": spoof_session_setting,
    "spoof_local_setting": spoof_local_setting,
    "index_oracle": index_oracle,
    "unique_email_oracle": unique_email_oracle,
    "leaky_function_in_where": leaky_function_in_where,
    "column_statistics": column_statistics,
    "copy_out": copy_out,
    "cross_store_writes": cross_store_writes,
}


def query_texts(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    """Other sessions' statements, in pg_stat_statements and pg_stat_activity."""
    marker = f"%attack-marker-{victim}%"
    statements = conn.execute(
        "SELECT count(*) FROM pg_stat_statements WHERE query LIKE %s", (marker,)
    ).fetchone()[0]
    activity = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_stat_activity"
        " WHERE query LIKE %s AND pid <> pg_backend_pid()",
        (marker,),
    ).fetchone()[0]
    return statements + activity


def audit_trail(conn: psycopg.Connection[Any], home: str | None, victim: str) -> int:
    return foreign(conn, "SELECT store_id FROM retail.audit_log WHERE store_id IS NOT NULL", home)


#: Probes that only tenants must fail: the owner reads every audit row and, as a
#: member of pg_read_all_stats (for retail.slow_queries), every query text.
TENANT_PROBES: dict[str, Probe] = {"query_texts": query_texts, "audit_trail": audit_trail}


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.name)
@pytest.mark.parametrize("probe", list(PROBES))
def test_a_probe_learns_nothing_of_another_store(probe: str, identity: Identity) -> None:
    with attacker(identity) as conn:
        try:
            with conn.transaction():
                learned = PROBES[probe](conn, identity.home, victim_of(identity))
        except psycopg.errors.InsufficientPrivilege:
            learned = 0  # a role without access to the schema at all
        assert learned == 0


@pytest.mark.parametrize("identity", [i for i in IDENTITIES if i.tenant], ids=lambda i: i.name)
@pytest.mark.parametrize("probe", list(TENANT_PROBES))
def test_a_tenant_probe_learns_nothing_of_another_store(
    probe: str, identity: Identity, marked_sessions: None
) -> None:
    with attacker(identity) as conn:
        assert TENANT_PROBES[probe](conn, identity.home, victim_of(identity)) == 0


@pytest.mark.parametrize("probe", [*PROBES, *TENANT_PROBES])
def test_each_probe_finds_the_other_store_as_the_superuser(
    probe: str, marked_sessions: None
) -> None:
    with control() as conn:
        assert {**PROBES, **TENANT_PROBES}[probe](conn, None, "redmond") > 0


def test_the_identities_come_from_the_catalog() -> None:
    names = {identity.name for identity in IDENTITIES}
    assert set(contract.LOGIN_ROLES) <= names
    # The owner can become pg_read_all_stats (06_monitoring grants it with SET).
    assert any(identity.role for identity in IDENTITIES)


# -- roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.name)
def test_no_role_a_login_can_become_chooses_a_store(identity: Identity) -> None:
    with attacker(identity) as conn:
        for target in ("retail_app", contract.AUDIT_ROLE, contract.APP_ROLE, "seattle_manager"):
            if target == identity.login:
                continue
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(target)))
        if identity.role is not None or identity.login == contract.OWNER_ROLE:
            conn.execute("SELECT set_config('app.current_store_id', 'online', true)")
            # Refused (no access to retail at all), or no store.
            with conn.transaction(force_rollback=True):
                try:
                    chosen = conn.execute("SELECT retail.current_store_id()").fetchone()
                except psycopg.errors.InsufficientPrivilege:
                    chosen = (None,)
            assert chosen == (None,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT retail.set_store_context('online')")


def test_the_control_can_set_role_into_the_application_group() -> None:
    with control() as conn:
        conn.execute("SET ROLE retail_app")
        assert conn.execute("SELECT current_user").fetchone() == ("retail_app",)


def test_alter_role_self_set_role_does_not_make_a_login_another_role(
    admin: psycopg.Connection,
) -> None:
    try:
        with labkit.connect("seattle_manager", autocommit=True) as manager:
            manager.execute("ALTER ROLE seattle_manager SET role = 'retail_app'")
        stored = admin.execute(
            "SELECT setconfig FROM pg_catalog.pg_db_role_setting"
            " WHERE setrole = 'seattle_manager'::regrole AND setdatabase = 0"
        ).fetchone()
        assert stored and "role=retail_app" in stored[0], "the control: the setting was accepted"
        with labkit.connect("seattle_manager") as manager:
            who = manager.execute(
                "SELECT current_user, retail.current_store_id(),"
                " (SELECT count(DISTINCT store_id) FROM retail.customers)"
            ).fetchone()
        assert who == ("seattle_manager", "seattle", 1)
    finally:
        admin.execute("ALTER ROLE seattle_manager RESET role")


def test_no_login_is_a_member_of_the_audit_role(admin: psycopg.Connection) -> None:
    members = "SELECT m.member::regrole::text FROM pg_catalog.pg_auth_members AS m WHERE m.roleid = %s::regrole"
    assert admin.execute(members, (contract.AUDIT_ROLE,)).fetchall() == []
    # The control: the same query sees the application group's members.
    assert len(admin.execute(members, ("retail_app",)).fetchall()) == len(contract.LOGIN_ROLES) - 1
    assert admin.execute(
        "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %s", (contract.AUDIT_ROLE,)
    ).fetchone() == (False,)


@pytest.mark.parametrize("login", [contract.APP_ROLE, *contract.STORE_LOGINS])
def test_application_logins_wait_for_locks_at_most_five_seconds(login: str) -> None:
    with labkit.connect(login) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("5s",)


# -- the store context --------------------------------------------------------------------


def test_a_context_copied_into_the_session_is_worthless_in_the_next_transaction() -> None:
    with labkit.connect(contract.APP_ROLE) as conn:
        with conn.transaction():
            conn.execute("SELECT retail.set_store_context('redmond')")
            assert foreign(conn, "SELECT store_id FROM retail.customers", None) > 0  # control
            for setting in ("app.current_store_id", "app.store_context_signature"):
                conn.execute(
                    "SELECT set_config(%s, current_setting(%s), false)", (setting, setting)
                )
        with conn.transaction():
            assert conn.execute("SELECT current_setting('app.current_store_id')").fetchone() == (
                "redmond",
            )
            assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)


def test_an_inactive_store_shows_nothing_whatever_the_setting(admin: psycopg.Connection) -> None:
    assert foreign(admin, "SELECT store_id FROM retail.customers WHERE store_id = 'online'", None)
    before = admin.execute(
        "SELECT count(*) FROM retail.audit_log WHERE action = 'SET_CONTEXT'"
    ).fetchone()
    admin.execute("UPDATE retail.stores SET is_active = false WHERE store_id = 'online'")
    try:
        with labkit.connect(contract.APP_ROLE) as conn, conn.transaction():
            conn.execute("SET LOCAL app.current_store_id = 'online'")
            assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)
            assert (
                conn.execute(
                    "UPDATE retail.customers SET first_name = first_name WHERE store_id = 'online'"
                ).rowcount
                == 0
            )
            with (
                pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState),
                conn.transaction(),
            ):
                conn.execute("SELECT retail.set_store_context('online')")
        with labkit.connect("online_manager") as manager:
            assert manager.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)
    finally:
        admin.execute("UPDATE retail.stores SET is_active = true WHERE store_id = 'online'")
    after = admin.execute(
        "SELECT count(*) FROM retail.audit_log WHERE action = 'SET_CONTEXT'"
    ).fetchone()
    assert after == before


REVOCATIONS = {
    "the store is deactivated": (
        "UPDATE retail.stores SET is_active = false WHERE store_id = 'redmond'",
        "UPDATE retail.stores SET is_active = true WHERE store_id = 'redmond'",
    ),
    "the chooser is delisted": (
        "DELETE FROM retail_audit.store_choosers WHERE role_name = 'mcp_user'",
        "INSERT INTO retail_audit.store_choosers (role_name) VALUES ('mcp_user')",
    ),
}


@pytest.mark.parametrize("revocation", list(REVOCATIONS))
def test_a_chosen_context_ends_at_the_next_statement_once_revoked(
    revocation: str, admin: psycopg.Connection
) -> None:
    revoke, restore = REVOCATIONS[revocation]
    with labkit.connect(contract.APP_ROLE) as conn, conn.transaction():
        conn.execute("SELECT retail.set_store_context('redmond')")
        assert foreign(conn, "SELECT store_id FROM retail.customers", None) > 0  # control
        admin.execute(revoke)  # committed by another session, mid-transaction
        try:
            assert conn.execute("SELECT count(*) FROM retail.customers").fetchone() == (0,)
        finally:
            admin.execute(restore)
        assert foreign(conn, "SELECT store_id FROM retail.customers", None) > 0  # restored


@pytest.mark.parametrize("login", list(contract.STORE_LOGINS))
def test_a_store_login_cannot_log_a_context_switch_into_another_store(
    login: str, admin: psycopg.Connection
) -> None:
    other = victim_of(Identity(login))
    count = "SELECT count(*) FROM retail.audit_log WHERE action = 'SET_CONTEXT' AND user_name = %s AND store_id = %s"
    before = admin.execute(count, (login, other)).fetchone()
    with labkit.connect(login) as conn:
        for statement in (
            "SELECT retail.set_store_context(%s)",
            "INSERT INTO retail.audit_log (table_name, action, store_id) VALUES ('stores', 'SET_CONTEXT', %s)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement, (other,))
        assert conn.execute(
            "SELECT to_regprocedure('retail.audit_store_context()')"
        ).fetchone() == (None,)
    assert admin.execute(count, (login, other)).fetchone() == before
    # The control: mcp_user, a store chooser, does log a switch to that store.
    with labkit.connect(contract.APP_ROLE) as conn, conn.transaction():
        conn.execute("SELECT retail.set_store_context(%s)", (other,))
    assert admin.execute(count, (contract.APP_ROLE, other)).fetchone()[0] > 0


# -- the catalog: what an attacker could build on -------------------------------------------


_DEFINERS = """
    SELECT p.oid::regprocedure::text, p.proconfig
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
"""


def _unpinned_definers(conn: psycopg.Connection[Any]) -> list[str]:
    return [
        name
        for name, config in conn.execute(_DEFINERS)
        if [c for c in config or [] if c.startswith("search_path=")]
        != ["search_path=pg_catalog, pg_temp"]
    ]


def test_every_security_definer_function_pins_its_search_path(admin: psycopg.Connection) -> None:
    assert len(admin.execute(_DEFINERS).fetchall()) >= 4
    assert _unpinned_definers(admin) == []
    # The control: a definer planted without a pinned search_path is found.
    with admin.transaction(force_rollback=True):
        admin.execute(
            "CREATE FUNCTION public.attack_unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'"
        )
        assert _unpinned_definers(admin) == ["attack_unpinned()"]


_CREATABLE = """
    SELECT n.nspname FROM pg_catalog.pg_namespace AS n
    WHERE pg_catalog.has_schema_privilege(current_user, n.oid, 'CREATE')
    UNION ALL
    SELECT 'TEMPORARY' WHERE pg_catalog.has_database_privilege(current_database(), 'TEMPORARY')
"""


@pytest.mark.parametrize("identity", [i for i in IDENTITIES if i.tenant], ids=lambda i: i.name)
def test_a_tenant_can_create_nothing_to_hijack_or_stash_with(identity: Identity) -> None:
    with attacker(identity) as conn:
        assert conn.execute(_CREATABLE).fetchall() == []
        for statement in (
            "CREATE TEMP TABLE loot AS SELECT * FROM retail.customers",
            "CREATE FUNCTION pg_temp.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
            "CREATE FUNCTION public.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
    with control() as conn:
        assert {"public", "TEMPORARY"} <= {name for (name,) in conn.execute(_CREATABLE)}


_NOT_STORE_LED = """
    SELECT i.indexrelid::regclass::text
    FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS t ON t.oid = i.indrelid
    JOIN pg_catalog.pg_class AS x ON x.oid = i.indexrelid
    JOIN pg_catalog.pg_am AS am ON am.oid = x.relam
    WHERE t.relnamespace IN ('retail'::regnamespace, 'retail_audit'::regnamespace)
      AND t.relname = ANY(%s) AND NOT i.indisprimary AND am.amname = 'btree'
      AND (i.indkey[0] = 0 OR (SELECT a.attname FROM pg_catalog.pg_attribute AS a
                               WHERE a.attrelid = t.oid AND a.attnum = i.indkey[0]) <> 'store_id')
"""


def test_every_btree_index_on_store_rows_leads_with_store_id(admin: psycopg.Connection) -> None:
    tables = [*contract.PER_STORE_TABLES, "audit_log"]
    assert admin.execute(_NOT_STORE_LED, (tables,)).fetchall() == []
    with admin.transaction(force_rollback=True):  # the control: a planted oracle is found
        admin.execute("CREATE INDEX attack_email_idx ON retail.customers (email)")
        assert admin.execute(_NOT_STORE_LED, (tables,)).fetchall() == [("retail.attack_email_idx",)]


def test_the_gin_indexes_are_no_oracle_because_their_operators_are_not_leakproof(
    admin: psycopg.Connection,
) -> None:
    operators = admin.execute(
        "SELECT DISTINCT p.proleakproof FROM pg_catalog.pg_operator AS o"
        " JOIN pg_catalog.pg_proc AS p ON p.oid = o.oprcode"
        " WHERE o.oprname IN ('@@', '@>', '<@', '&&')"
        "   AND o.oprleft IN ('tsvector'::regtype, 'anyarray'::regtype)"
    ).fetchall()
    assert operators == [(False,)]
    search = (  # keyword search's own predicate, which the index's expression matches
        f"EXPLAIN (COSTS OFF) SELECT 1 FROM retail.products AS p WHERE {_DOCUMENT}"
        " @@ plainto_tsquery('english', 'test') OR tags @> ARRAY['x']"
    )
    with attacker(Identity("seattle_manager")) as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        tenant_plan = " ".join(line for (line,) in conn.execute(search))
    with control() as conn:  # the control: without row-level security the GIN indexes serve it
        conn.execute("SET LOCAL enable_seqscan = off")
        admin_plan = " ".join(line for (line,) in conn.execute(search))
    assert "products_search_idx" in admin_plan and "products_tags_idx" in admin_plan
    assert "products_search_idx" not in tenant_plan and "products_tags_idx" not in tenant_plan
