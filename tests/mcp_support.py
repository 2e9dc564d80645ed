"""Shared pieces of the MCP server tests: rows per store, a probe, and a way to call tools."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from mcp import Client

from labkit import embeddings
from labkit.mcp import background
from tests import rls_data

T = TypeVar("T")
SKU = "MCPTEST-"
#: The probe every isolation check runs: which stores' customers does the caller see?
PROBE = "SELECT store_id, count(*) FROM retail.customers GROUP BY 1 ORDER BY 1"
#: Two products per store for the search tests: a jacket in every store, so a
#: search as one store would find another store's jacket if it could.
PRODUCTS = {
    "seattle": ("Seattle Alpine Down Jacket", "Ceramic Pour-Over Coffee Set"),
    "redmond": ("Redmond Puffer Winter Jacket", "Cordless Drill Kit"),
}
JACKET = "warm winter jacket"


_shared: list[background.Background] = []


def shared_server() -> background.Background:
    """One HTTP server for every MCP test in this run (stopped at exit, and checked then)."""
    if not _shared or not _shared[0].running:
        _shared[:] = [background.start()]
    return _shared[0]


def run(work: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await work

    return asyncio.run(wrapped())


def text(result: Any) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


def rows(result: Any) -> dict[str, Any]:
    """The compact JSON of a successful call; fails on a tool error."""
    assert not result.is_error, text(result)
    decoded: dict[str, Any] = json.loads(text(result))
    return decoded


async def sql(session: Client, query: str) -> Any:
    return await session.call_tool("execute_sales_query", {"postgresql_query": query})


async def stores_seen(session: Client) -> set[str]:
    """The stores whose customers this session sees (the probe, through the tool)."""
    return {store for store, _ in rows(await sql(session, PROBE))["r"]}


def admin_stores_seen(admin: psycopg.Connection[Any]) -> set[str]:
    """The control: the superuser runs the same probe and must see every store."""
    return {store for store, _ in admin.execute(PROBE)}


@contextmanager
def store_rows(admin: psycopg.Connection[Any], tag: str) -> Iterator[dict[str, set[str]]]:
    """Rows in every store (and two embedded products in seattle and redmond); removed after.

    Yields store -> the product ids of the search products, as the superuser knows them.
    """
    rls_data.write(admin, tag)
    model = embeddings.offline()
    products: dict[str, set[str]] = {}
    try:
        for store, names in PRODUCTS.items():
            vectors = model.embed(list(names))
            for index, (name, vector) in enumerate(zip(names, vectors, strict=True)):
                (product,) = admin.execute(
                    "INSERT INTO retail.products (store_id, sku, product_name, product_description, price)"
                    " VALUES (%s, %s, %s, %s, 10) RETURNING product_id",
                    (store, f"{SKU}{tag}-{index}", name, name),
                ).fetchone()
                admin.execute(
                    "INSERT INTO retail.product_embeddings"
                    " (product_id, store_id, embedding_text, embedding, embedding_model)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (product, store, name, embeddings.to_text(vector), model.name),
                )
                products.setdefault(store, set()).add(str(product))
        yield products
    finally:
        admin.execute("DELETE FROM retail.products WHERE sku LIKE %s", (f"{SKU}{tag}-%",))
        rls_data.remove(admin, tag)


def each_store(
    work: Callable[[str], Awaitable[T]], stores: tuple[str, ...] = ("seattle", "redmond")
) -> dict[str, T]:
    """``work(store)`` for each store, all at once."""

    async def all_of() -> dict[str, T]:
        done = await asyncio.gather(*(work(store) for store in stores))
        return dict(zip(stores, done, strict=True))

    return asyncio.run(all_of())
