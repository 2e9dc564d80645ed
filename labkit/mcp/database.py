"""Every tool call is one transaction as the store's own login, in the store's context.

The server never logs in as the superuser, the owner or ``mcp_user`` (which may act
for any store): it uses the store's login (``seattle_manager`` for seattle), so the
database itself, not this code, keeps the model's SQL inside the store. Each call:

1. borrows a connection from the login's small pool (reset when given back);
2. calls ``retail.set_store_context`` and checks that the context took;
3. makes the transaction READ ONLY and gives it a statement and a lock timeout;
4. runs the tool's work, then ROLLs BACK, so nothing the model ran (a ``SET``, say)
   outlives the call.

The model's SQL goes through the extended query protocol (``cursor.stream``), which
runs exactly one statement: PostgreSQL refuses a string holding several.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, LiteralString, cast

import psycopg

from .. import contract, tenancy
from ..errors import LabError

STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 1_000
#: Rows a query may return; more are cut, with a note saying so.
ROW_CAP = 500

_LOGINS = {store: login for login, store in contract.STORE_LOGINS.items()}
_LIMITS = (
    "SELECT pg_catalog.set_config('statement_timeout', %s, true),"
    " pg_catalog.set_config('lock_timeout', %s, true)"
)


def login_for(store: str) -> str:
    """The store's own login role."""
    try:
        return _LOGINS[store]
    except KeyError:
        raise LabError(
            f"No store login serves store {store!r}", f"Pick one of: {', '.join(_LOGINS)}"
        ) from None


@contextlib.contextmanager
def store_transaction(store: str) -> Iterator[psycopg.Connection[Any]]:
    """A read-only transaction as ``store``'s login, in ``store``'s context; rolled back."""
    login = login_for(store)
    with tenancy.pool(login).connection() as conn:
        try:
            enter_store(conn, store, login)
            yield conn
        finally:
            if not conn.closed:
                conn.rollback()


def enter_store(conn: psycopg.Connection[Any], store: str, login: str) -> None:
    try:
        conn.execute("SELECT retail.set_store_context(%s)", (store,))
    except psycopg.Error as error:
        raise LabError(
            f"Cannot act for store {store!r} as {login}: {error.diag.message_primary}",
            error.diag.message_hint or "Run `labkit setup`, which creates the store logins",
        ) from error
    # A missing store is loud: a context that did not take would show 0 rows, not an error.
    row = conn.execute("SELECT retail.current_store_id()").fetchone()
    if not row or row[0] != store:
        raise LabError(
            f"The store context is {row[0] if row else None!r} after setting {store!r} as {login}",
            "Run `labkit setup` so that retail.set_store_context and the store logins match",
        )
    # Read-only from here on: set_store_context itself writes an audit row first.
    conn.execute("SET TRANSACTION READ ONLY")
    conn.execute(_LIMITS, (str(STATEMENT_TIMEOUT_MS), str(LOCK_TIMEOUT_MS)))


@dataclass
class Result:
    """What a query returned, at most ``ROW_CAP`` rows of it."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    cut: bool = False
    status: str | None = None

    def to_json(self, store: str) -> str:
        """The sample server's compact shape: c(olumns), r(ows), n, plus the store and notes."""
        shape: dict[str, Any] = {
            "store": store,
            "c": self.columns,
            "r": self.rows,
            "n": len(self.rows),
        }
        if self.cut:
            shape["note"] = (
                f"Only the first {ROW_CAP} rows are shown: the result has more. "
                "Aggregate, or add ORDER BY and LIMIT."
            )
        elif not self.rows:
            shape["msg"] = "No rows" if self.status is None else self.status
        return json.dumps(shape, separators=(",", ":"), default=str)


def run_query(conn: psycopg.Connection[Any], query: str) -> Result:
    """Run one statement of the model's, streaming at most ``ROW_CAP`` rows."""
    rows: list[tuple[Any, ...]] = []
    cut = False
    with conn.cursor() as cursor:
        # stream() always uses the extended protocol (one statement) and, with no
        # parameters, passes the text on as it is (a % in it stays a %).
        stream = cursor.stream(cast(LiteralString, query))
        try:
            for row in stream:
                if len(rows) == ROW_CAP:
                    cut = True  # closing the stream below cancels the rest
                    break
                rows.append(row)
        except psycopg.ProgrammingError as error:
            if "didn't produce a result" not in str(error):
                raise
            return Result([], [], status=_NOT_A_QUERY)
        finally:
            stream.close()
        columns = [column.name for column in cursor.description or []]
    return Result(columns, rows, cut)


_NOT_A_QUERY = (
    "The statement returns no rows (it is not a query); whatever it set ended with this call"
)


def explain(error: psycopg.Error) -> LabError:
    """A tool error from a PostgreSQL error: its message, detail and hint, and what to do."""
    diag = error.diag
    what = f"PostgreSQL refused the query: {diag.message_primary or str(error).strip()}"
    if diag.sqlstate:
        what += f" (SQLSTATE {diag.sqlstate})"
    if diag.message_detail:
        what += f". Detail: {diag.message_detail.rstrip('.')}"
    fix = diag.message_hint or _FIXES.get(diag.sqlstate or "", "Fix the query and try again")
    if diag.sqlstate == "42601" and "multiple commands" in (diag.message_primary or ""):
        fix = "Send one SQL statement per call"
    return LabError(what, fix)


_FIXES = {
    "57014": f"Queries may run {STATEMENT_TIMEOUT_MS // 1000} s at most: filter, aggregate or LIMIT",
    "25006": "This server only reads: ask a question with SELECT",
    "42501": "This server reads the store's own sales data only, with the store's own rights",
    "42P01": "Call get_multiple_table_schemas for the tables and their exact names",
    "42703": "Call get_multiple_table_schemas for the columns and their exact names",
    "55P03": "Another session holds a lock this query needs; try again later",
}
