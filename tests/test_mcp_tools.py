"""The four tools through the SDK's real client, as two stores, over HTTP and stdio.

Every isolation check has its control: the superuser runs the same probe and must
see the other stores' rows, or the test fails (a check that cannot see a leak
proves nothing).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

import labkit
from labkit import embeddings
from labkit.mcp import client, database
from labkit.mcp.tokens import StoreTokens
from tests.mcp_support import (
    JACKET,
    PRODUCTS,
    admin_stores_seen,
    each_store,
    rows,
    run,
    shared_server,
    sql,
    store_rows,
    stores_seen,
    text,
)

STORES = ("seattle", "redmond")
TOOLS = {
    "execute_sales_query": {"postgresql_query"},
    "get_multiple_table_schemas": {"table_names"},
    "semantic_search_products": {"query_description", "max_rows", "similarity_threshold"},
    "get_current_utc_date": set(),
}


@pytest.fixture(scope="module")
def products() -> Iterator[dict[str, set[str]]]:
    with labkit.connect(autocommit=True) as admin, store_rows(admin, "mcptools") as made:
        yield made


@pytest.fixture(scope="module")
def url(products: dict[str, set[str]]) -> Iterator[str]:
    yield shared_server().url


def token(store: str) -> str:
    return StoreTokens().token(store)


async def every_tool(session: Any) -> dict[str, Any]:
    """Each of the four tools once, as whichever store ``session`` is."""
    listed = await session.list_tools()
    schemas = await session.call_tool(
        "get_multiple_table_schemas", {"table_names": ["retail.sales_transactions"]}
    )
    found = await session.call_tool("semantic_search_products", {"query_description": JACKET})
    now = await session.call_tool("get_current_utc_date", {})
    return {
        "tools": {tool.name: set(tool.input_schema["properties"]) for tool in listed.tools},
        "stores": await stores_seen(session),
        "schemas": text(schemas),
        "found": rows(found),
        "now": text(now),
    }


def store_of_products() -> dict[str, str]:
    """product id -> store, as the superuser sees them (the control)."""
    with labkit.connect(autocommit=True) as admin:
        found = admin.execute("SELECT product_id::text, store_id FROM retail.products")
        return dict(found.fetchall())


def check_every_tool(seen: dict[str, dict[str, Any]], products: dict[str, set[str]]) -> None:
    with labkit.connect(autocommit=True) as admin:
        assert admin_stores_seen(admin) >= set(STORES)  # the control sees both stores
    owner = store_of_products()
    for store, got in seen.items():
        assert got["tools"] == TOOLS
        assert got["stores"] == {store}
        assert f"acts for store {store!r} only" in got["schemas"]
        assert "# Table: retail.sales_transactions" in got["schemas"]
        found = {row[-1]: row[0] for row in got["found"]["r"]}
        assert {owner[product] for product in found} == {store}, f"{store} found another store's"
        assert PRODUCTS[store][0] in found.values()  # its own jacket
        others = {name for other, names in PRODUCTS.items() if other != store for name in names}
        assert not others & set(found.values())
        stamp = dt.datetime.fromisoformat(got["now"].removeprefix("Current UTC Date/Time: "))
        assert abs(stamp - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_every_tool_as_two_stores_over_http(url: str, products: dict[str, set[str]]) -> None:
    async def as_store(store: str) -> dict[str, Any]:
        async with client.over_http(url, token(store)) as session:
            return await every_tool(session)

    check_every_tool(each_store(as_store, STORES), products)


@pytest.mark.slow
def test_every_tool_as_two_stores_over_stdio(products: dict[str, set[str]]) -> None:
    async def as_store(store: str) -> dict[str, Any]:
        async with client.over_stdio(store) as session:
            return await every_tool(session)

    check_every_tool(each_store(as_store, STORES), products)


@pytest.mark.slow
def test_a_runaway_query_is_stopped_by_the_timeout_it_cannot_lift(url: str) -> None:
    # The timeout is set for the transaction before the model's statement starts;
    # the statement's own set_config cannot stop the timer already running.
    query = "SELECT pg_catalog.set_config('statement_timeout', '0', true), pg_sleep(60)"

    async def attempt() -> Any:
        async with client.over_http(url, token("seattle")) as session:
            return await sql(session, query)

    result = run(attempt())
    assert result.is_error
    assert "statement timeout" in text(result) and "57014" in text(result)


def test_a_result_over_the_cap_is_cut_with_a_note(url: str) -> None:
    cap = database.ROW_CAP

    async def attempt() -> tuple[Any, Any]:
        async with client.over_http(url, token("seattle")) as session:
            over = await sql(session, f"SELECT n FROM generate_series(1, {cap * 3}) AS n")
            at = await sql(session, f"SELECT n FROM generate_series(1, {cap}) AS n")
            return over, at

    over, at = (rows(result) for result in run(attempt()))
    assert over["n"] == cap and [row[0] for row in over["r"]] == list(range(1, cap + 1))
    assert f"Only the first {cap} rows" in over["note"]
    assert at["n"] == cap and "note" not in at  # exactly the cap: nothing was cut


def test_a_query_error_comes_back_with_postgresql_s_message_and_hint(url: str) -> None:
    async def attempt() -> list[Any]:
        async with client.over_http(url, token("seattle")) as session:
            return [
                await sql(session, "SELECT nope FROM retail.customers"),
                await sql(session, "SELECT * FROM retail.orders"),
                await sql(session, "   "),
            ]

    missing_column, missing_table, empty = run(attempt())
    assert missing_column.is_error and 'column "nope" does not exist' in text(missing_column)
    assert "42703" in text(missing_column) and "get_multiple_table_schemas" in text(missing_column)
    assert missing_table.is_error and "42P01" in text(missing_table)
    assert empty.is_error and "Traceback" not in text(empty)


def test_schemas_pair_composite_keys_and_give_the_store_s_valid_values(
    url: str, products: dict[str, set[str]]
) -> None:
    with labkit.connect(autocommit=True) as admin:
        (fk,) = admin.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'retail.sales_transaction_items'::regclass AND contype = 'f'"
            " AND confrelid = 'retail.sales_transactions'::regclass"
        ).fetchone()
        dates = dict(
            (store, (low, high))
            for store, low, high in admin.execute(
                "SELECT store_id, min(transaction_date)::date, max(transaction_date)::date"
                " FROM retail.sales_transactions GROUP BY 1"
            )
        )
        categories = [
            name
            for (name,) in admin.execute(
                "SELECT category_name FROM retail.product_categories ORDER BY 1"
            )
        ]
    assert fk.startswith("FOREIGN KEY (store_id, transaction_id)")  # the control: composite

    async def as_store(store: str) -> tuple[str, Any]:
        async with client.over_http(url, token(store)) as session:
            tables = ["retail.sales_transaction_items", "sales_transactions", "products"]
            described = await session.call_tool(
                "get_multiple_table_schemas", {"table_names": tables}
            )
            unknown = await session.call_tool(
                "get_multiple_table_schemas", {"table_names": ["orders"]}
            )
            return text(described), unknown

    for store, (described, unknown) in each_store(as_store, STORES).items():
        pair = "(store_id, transaction_id) → retail.sales_transactions (store_id, transaction_id)"
        assert pair in described
        low, high = dates[store]
        assert f"transaction_date: from {low} to {high}" in described
        assert (
            f"categories (product_categories.category_name): {', '.join(categories)}" in described
        )
        assert "seattle (Zava Retail Seattle)" in described and "- product_id: uuid" in described
        assert unknown.is_error and "'orders'" in text(unknown)
        assert "retail.sales_transactions" in text(unknown)  # the valid names are listed


def test_an_unembedded_catalog_says_how_to_embed_it(url: str) -> None:
    with labkit.connect(autocommit=True) as admin:
        saved = admin.execute(
            "SELECT product_id, store_id, embedding_text, embedding::text, embedding_model"
            " FROM retail.product_embeddings WHERE store_id = 'online'"
        ).fetchall()
        admin.execute("DELETE FROM retail.product_embeddings WHERE store_id = 'online'")
        try:

            async def attempt() -> Any:
                async with client.over_http(url, token("online")) as session:
                    return await session.call_tool(
                        "semantic_search_products", {"query_description": JACKET}
                    )

            result = run(attempt())
        finally:
            with admin.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO retail.product_embeddings"
                    " (product_id, store_id, embedding_text, embedding, embedding_model)"
                    " VALUES (%s, %s, %s, %s::vector, %s)",
                    saved,
                )
    assert result.is_error
    assert "No product of store 'online' is embedded" in text(result)
    assert "labkit.embed_catalog()" in text(result)


def test_search_arguments_keep_the_sample_s_meaning(
    url: str, products: dict[str, set[str]]
) -> None:
    async def attempt() -> list[Any]:
        async with client.over_http(url, token("seattle")) as session:
            search = "semantic_search_products"
            return [
                await session.call_tool(search, {"query_description": JACKET, "max_rows": 1}),
                await session.call_tool(
                    search, {"query_description": JACKET, "similarity_threshold": 99.9}
                ),
                await session.call_tool(
                    search, {"query_description": JACKET, "similarity_threshold": 0.7}
                ),
                await session.call_tool(
                    search, {"query_description": JACKET, "similarity_threshold": 300}
                ),
            ]

    one, strict, lenient, wrong = run(attempt())
    assert rows(one)["n"] == 1
    assert rows(strict)["n"] == 0 and "No product is 99.9% similar" in rows(strict)["msg"]
    # 0.7 is a percent here (0.007): every nearest product of the store passes it.
    with labkit.connect(autocommit=True) as admin:
        (embedded,) = admin.execute(
            "SELECT count(*) FROM retail.product_embeddings AS e JOIN retail.products AS p"
            " USING (store_id, product_id) WHERE e.store_id = 'seattle' AND p.is_active"
            " AND e.embedding_model = %s",
            (embeddings.offline().name,),
        ).fetchone()
    lenient_ids = {row[-1] for row in rows(lenient)["r"]}
    assert len(lenient_ids) == min(20, embedded) and embedded >= len(products["seattle"])
    assert {store_of_products()[product] for product in lenient_ids} == {"seattle"}
    assert wrong.is_error and "percent" in text(wrong)


def test_a_store_without_a_login_is_refused_loudly() -> None:
    refused = pytest.raises(labkit.LabError, match="No store login serves store 'everywhere'")
    with refused, database.store_transaction("everywhere"):
        pass


@pytest.mark.parametrize("login", ["redmond_manager", "retail_owner"])
def test_no_other_login_enters_a_store_s_context(login: str) -> None:
    refused = pytest.raises(labkit.LabError, match=f"Cannot act for store 'seattle' as {login}")
    with labkit.connect(login) as conn, refused:
        database.enter_store(conn, "seattle", login)


def test_the_json_shape_is_the_sample_s(url: str) -> None:
    async def attempt() -> Any:
        async with client.over_http(url, token("redmond")) as session:
            return await sql(session, "SELECT 1 AS one, '50%' AS share")

    shape = json.loads(text(run(attempt())))
    assert shape == {"store": "redmond", "c": ["one", "share"], "r": [[1, "50%"]], "n": 1}
