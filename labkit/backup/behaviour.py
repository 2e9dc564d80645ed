"""The behaviour a restore must keep: store isolation, and the vector search.

Both run as ``mcp_user``, the application's login, in one repeatable-read
transaction that imports the fingerprint's snapshot and is rolled back at the
end (``set_store_context`` writes an audit row each time, which must not stay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from .. import contract
from ..db import Target
from ..errors import LabError
from . import queries
from .queries import CANONICAL

if TYPE_CHECKING:
    from .fingerprint import Fingerprint

NO_STORE = "(no store)"
SEARCH_RESULTS = 10


def behaviour(lab: Target, database: str, into: Fingerprint, *, snapshot: str) -> None:
    """Fill in ``into.isolation`` and ``into.search``, as seen in ``snapshot``."""
    try:
        params = lab.params(contract.APP_ROLE, dbname=database)
    except LabError as error:
        into.notes["isolation"] = into.notes["search"] = error.what
        return
    with psycopg.connect(**params, options=CANONICAL) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        stores = _stores(conn)
        if stores is None:
            into.notes["isolation"] = into.notes["search"] = (
                "there is no retail.stores or retail.set_store_context to act for a store"
            )
        else:
            _isolation(conn, stores, into)
            _search(conn, stores, into)
        conn.rollback()


def _stores(conn: psycopg.Connection[Any]) -> list[str] | None:
    ready = conn.execute(
        "SELECT to_regclass('retail.stores') IS NOT NULL"
        " AND to_regprocedure('retail.set_store_context(varchar)') IS NOT NULL"
    ).fetchone()
    if not (ready and ready[0]):
        return None
    query = "SELECT store_id FROM retail.stores WHERE is_active ORDER BY store_id"
    return [store for (store,) in conn.execute(query)]


def _each_store(
    conn: psycopg.Connection[Any], stores: list[str], action: Callable[[str], None]
) -> None:
    """Run ``action`` with no store, then as each store (set_store_context)."""
    conn.execute("SELECT pg_catalog.set_config(%s, '', true)", (contract.STORE_SETTING,))
    action(NO_STORE)
    for store in stores:
        conn.execute("SELECT retail.set_store_context(%s)", (store,))
        action(store)


def _isolation(conn: psycopg.Connection[Any], stores: list[str], into: Fingerprint) -> None:
    tables = conn.execute(queries.RLS_TABLES).fetchall()
    isolation: dict[str, dict[str, int]] = {f"{s}.{t}": {} for s, t, _ in tables}
    leaks = 0

    def count(store: str) -> None:
        nonlocal leaks
        for schema_name, table, has_store in tables:
            other = sql.SQL("0")
            if has_store:
                other = sql.SQL("count(*) FILTER (WHERE store_id IS DISTINCT FROM {})").format(
                    sql.Literal(store)
                )
            query = sql.SQL("SELECT count(*), {} FROM {}").format(
                other, sql.Identifier(schema_name, table)
            )
            seen, foreign = conn.execute(query).fetchone() or (0, 0)
            isolation[f"{schema_name}.{table}"][store] = seen
            # With no store, every visible row is a leak; with one, another store's rows.
            leaks += seen if store == NO_STORE else foreign

    _each_store(conn, stores, count)
    into.isolation, into.leaks = isolation, leaks


def _search(conn: psycopg.Connection[Any], stores: list[str], into: Fingerprint) -> None:
    """Top results per store, for the first embedding of the store's most used model."""
    found = conn.execute(queries.SEARCH_FUNCTION, (contract.SCHEMA, "%vector%")).fetchone()
    if found is None:
        into.notes["search"] = "retail.search_products_by_similarity(vector, ...) does not exist"
        return
    table = conn.execute("SELECT to_regclass('retail.product_embeddings') IS NOT NULL").fetchone()
    if not (table and table[0]):
        into.notes["search"] = "there is no retail.product_embeddings table"
        return
    function, types, names = found
    values = [sql.SQL("probe.embedding"), sql.Literal(-1), sql.Literal(SEARCH_RESULTS)]
    if len(types) >= 4 and names[3:4] == ["embedding_model"]:
        values.append(sql.SQL("probe.embedding_model"))  # the lab's optional 4th argument
    arguments = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(value, sql.SQL(type_name))
        for value, type_name in zip(values, types, strict=False)
    )
    query = sql.SQL(
        "SELECT r.product_id::text, round(r.similarity_score::numeric, 6)::text"
        " FROM ({probe}) AS probe, LATERAL {function}({arguments}) AS r"
    ).format(probe=sql.SQL(queries.PROBE), function=sql.SQL(function), arguments=arguments)
    results: dict[str, list[str]] = {}
    errors: list[str] = []

    def search(store: str) -> None:
        if store == NO_STORE:
            return
        try:
            with conn.transaction():  # a savepoint: an error must not end the transaction
                rows = conn.execute(query).fetchall()
        except psycopg.Error as error:
            errors.append(str(error.diag.message_primary or error))
            return
        # Best first; equal scores by product, so ties cannot reorder two copies.
        rows.sort(key=lambda row: (-float(row[1]), row[0]))
        if rows:
            results[store] = [f"{product} {score}" for product, score in rows]

    _each_store(conn, stores, search)
    if errors and not results:
        into.notes["search"] = f"the search function failed ({errors[0]})"
    elif not results:
        into.notes["search"] = "there are no product embeddings to search with"
    else:
        into.search = results
        if errors:
            into.notes["search"] = f"failed for some stores ({errors[0]})"
