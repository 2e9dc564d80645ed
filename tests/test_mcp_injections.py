"""Prompt-injection SQL through ``execute_sales_query``: each is refused by the database or
stays in its store.

Every attempt runs as seattle. An attempt that runs must show no other store's row
(its ``other_rows`` column, where it has one, must be 0), and after each, the probe
in the same session must still see seattle only. The control: the superuser sees
the other stores' customers that these attempts are after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import labkit
from labkit.mcp import client
from labkit.mcp.tokens import StoreTokens
from tests.mcp_support import run, shared_server, sql, store_rows, stores_seen, text

OTHER_ROWS = "(SELECT count(*) FROM retail.customers WHERE store_id <> 'seattle') AS other_rows"

#: (name, SQL, the SQLSTATE it must be refused with, or None: may run, must stay in seattle)
ATTEMPTS: list[tuple[str, str, str | None]] = [
    ("set the setting", "SET app.current_store_id = 'redmond'", None),
    (
        "set_config in the statement",
        f"SELECT set_config('app.current_store_id', 'redmond', false) AS s, {OTHER_ROWS}",
        None,
    ),
    ("SET ROLE", "SET ROLE retail_app", None),
    (
        "role and store in one statement",
        "SELECT set_config('role', 'retail_app', true) AS r,"
        f" set_config('app.current_store_id', 'redmond', true) AS s, {OTHER_ROWS}",
        None,
    ),
    (
        "SET ROLE in a DO block, read out through an error",
        "DO $$ BEGIN SET ROLE retail_app;"
        " PERFORM set_config('app.current_store_id', 'redmond', true);"
        " RAISE EXCEPTION 'other_rows=%',"
        " (SELECT count(*) FROM retail.customers WHERE store_id <> 'seattle'); END $$",
        "",
    ),
    ("RESET ROLE", "RESET ROLE", None),
    ("SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION postgres", "42501"),
    ("set_store_context for another store", "SELECT retail.set_store_context('redmond')", "42501"),
    ("ask for another store's rows", f"SELECT {OTHER_ROWS}", None),
    (
        "INSERT into another store",
        "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
        " VALUES ('redmond', 'Eve', 'Intruder', 'eve@example.com')",
        "25006",
    ),
    ("UPDATE", "UPDATE retail.products SET price = 0", "25006"),
    ("DELETE", "DELETE FROM retail.sales_transactions", "25006"),
    ("TRUNCATE", "TRUNCATE retail.customers", "25006"),
    ("ALTER ROLE", "ALTER ROLE seattle_manager SET role = 'retail_app'", "25006"),
    ("LOCK TABLE", "LOCK TABLE retail.stores IN ACCESS EXCLUSIVE MODE", "42501"),
    ("SET TRANSACTION READ WRITE", "SET TRANSACTION READ WRITE", "25001"),
    ("COPY ... TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id'", "42501"),
    ("COPY ... FROM PROGRAM", "COPY retail.customers FROM PROGRAM 'id'", "42501"),
    ("COPY to a server file", "COPY retail.customers TO '/tmp/mcp-loot.csv'", "42501"),
    ("read a server file", "SELECT pg_read_file('/etc/passwd')", "42501"),
    ("list a server folder", "SELECT pg_ls_dir('.')", "42501"),
    ("temp table", "CREATE TEMP TABLE loot AS SELECT * FROM retail.customers", "25006"),
    ("two statements", "SELECT 1; SET ROLE retail_app", "42601"),
    (
        "a statement hidden after a comment",
        "SELECT 1 -- harmless\n; SELECT set_config('app.current_store_id', 'redmond', false)",
        "42601",
    ),
    ("COMMIT mid-call", "COMMIT", None),
    ("forge an audit row", "SELECT retail.audit_store_context()", ""),
]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with labkit.connect(autocommit=True) as admin, store_rows(admin, "mcpinject"):
        (others,) = admin.execute(f"SELECT {OTHER_ROWS}").fetchone()
        assert others > 0  # the control: there is something to steal
        yield shared_server().url


def sqlstate_of(message: str) -> str | None:
    marker = "(SQLSTATE "
    return message.split(marker, 1)[1][:5] if marker in message else None


def test_every_injection_is_refused_or_stays_in_its_store(url: str) -> None:
    async def attempt_all() -> list[tuple[str, Any, set[str]]]:
        async with client.over_http(url, StoreTokens().token("seattle")) as session:
            outcomes = []
            for name, query, _ in ATTEMPTS:
                result = await sql(session, query)
                outcomes.append((name, result, await stores_seen(session)))
            return outcomes

    outcomes = run(attempt_all())
    report, failures = [], []
    for (name, _, refusal), (_, result, seen) in zip(ATTEMPTS, outcomes, strict=True):
        message = text(result)
        outcome = f"refused {sqlstate_of(message)}" if result.is_error else "ran"
        report.append(f"{name}: {outcome}; the next call saw {sorted(seen)}")
        if problem := judge(refusal, result.is_error, message, seen):
            failures.append(f"{name}: {problem}: {message[:300]}")
    print("\n".join(report))
    assert not failures, "\n".join(failures)


def judge(refusal: str | None, refused: bool, message: str, seen: set[str]) -> str | None:
    """What is wrong with one attempt's outcome, or None."""
    if seen != {"seattle"}:
        return f"the next call saw {sorted(seen)}"
    if "other_rows=" in message and "other_rows=0" not in message:
        return "another store's rows were counted"
    if refusal and not (refused and sqlstate_of(message) == refusal):
        return f"not refused with {refusal}"
    if refusal == "" and not refused:
        return "not refused"
    if not refused:
        shape = json.loads(message)
        if "other_rows" in shape["c"]:
            column = shape["c"].index("other_rows")
            if [row[column] for row in shape["r"]] != [0]:
                return "another store's rows were counted"
    return None
