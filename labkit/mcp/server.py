"""The MCP server: the sample's four tools, each acting for the store of whoever asks.

``build(store_of)`` makes the server; ``store_of(ctx)`` says which store a call acts
for: a fixed store on stdio, the bearer token's store over HTTP. No tool takes a
store argument, so nothing the model writes can choose one.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import psycopg
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .. import tenancy
from ..errors import LabError
from . import database, products, schemas
from .tokens import StoreTokenVerifier, check_store

NAME = "zava-retail-sales"
StoreOf = Callable[[Context], str]

INSTRUCTIONS = """Answers questions about one Zava Retail store's customers, products and sales.
The store is fixed by the connection (its token), not by anything in a question: every query
sees that store's rows only. Fetch the schemas with get_multiple_table_schemas before writing
SQL, use exact table and column names, and send one read-only PostgreSQL statement per call."""


def build(
    store_of: StoreOf, *, verifier: StoreTokenVerifier | None = None, base_url: str | None = None
) -> MCPServer:
    """The server with its four tools; with ``verifier``, every HTTP request needs a token."""
    auth = None
    if verifier is not None:
        # A resource server only: no OAuth endpoints, no metadata; the issuer URL is required
        # by the settings' model and names this server.
        auth = AuthSettings(issuer_url=base_url or "http://127.0.0.1", resource_server_url=None)
    server: MCPServer = MCPServer(
        NAME, instructions=INSTRUCTIONS, token_verifier=verifier, auth=auth, log_level="WARNING"
    )

    @server.tool(structured_output=False)
    def execute_sales_query(
        postgresql_query: Annotated[str, Field(description="A well-formed PostgreSQL query.")],
        ctx: Context,
    ) -> str:
        """Run one read-only PostgreSQL statement on the store's data and return its rows as
        compact JSON: {"c": columns, "r": rows, "n": count}. Fetch the schemas with
        get_multiple_table_schemas first; use only exact table and column names; never invent
        data. Aggregate where you can and LIMIT results to about 20 rows for readability; at
        most 500 rows come back (a note says when the result was cut). Do not show ids or UUIDs
        to the user: use names."""
        store = store_of(ctx)
        return _as_tool(
            lambda conn: database.run_query(conn, postgresql_query).to_json(store), store
        )

    @server.tool(structured_output=False)
    def get_multiple_table_schemas(
        table_names: Annotated[
            list[str],
            Field(
                description="Table names, e.g. 'retail.customers', 'retail.stores', "
                "'retail.product_categories', 'retail.products', 'retail.sales_transactions', "
                "'retail.sales_transaction_items', 'retail.product_embeddings'."
            ),
        ],
        ctx: Context,
    ) -> str:
        """Columns, types, keys, foreign keys and valid values of the named tables. Use it only
        for tables you have not fetched yet in this conversation."""
        store = store_of(ctx)
        return _as_tool(lambda conn: schemas.describe(conn, store, table_names), store)

    @server.tool(structured_output=False)
    def semantic_search_products(
        query_description: Annotated[
            str,
            Field(
                description="Describe the product in plain words: purpose, features or use, "
                "e.g. 'warm winter jacket' or 'noise cancelling headphones for travel'."
            ),
        ],
        ctx: Context,
        max_rows: Annotated[int, Field(description="The most products to return (1 to 100).")] = 20,
        similarity_threshold: Annotated[
            float,
            Field(description="The lowest similarity, in percent (0 to 100), a product may have."),
        ] = 30.0,
    ) -> str:
        """Find the store's products by meaning (function, form, use), best first, as compact
        JSON: {"c": columns, "r": rows, "n": count}."""
        store = store_of(ctx)
        return _as_tool(
            lambda conn: products.search(
                conn, store, query_description, max_rows, similarity_threshold
            ),
            store,
        )

    @server.tool(structured_output=False)
    def get_current_utc_date() -> str:
        """The current UTC date and time in ISO format, for questions relative to today."""
        return f"Current UTC Date/Time: {dt.datetime.now(dt.UTC).isoformat()}"

    return server


def _as_tool(work: Callable[[psycopg.Connection[Any]], str], store: str) -> str:
    """Run ``work`` in the store's transaction; failures become tool errors the model can read."""
    try:
        with database.store_transaction(store) as conn:
            return work(conn)
    except LabError as error:
        raise ToolError(str(error)) from error
    except psycopg.OperationalError as error:
        if error.diag.sqlstate:  # the server answered: a timeout, a cancelled query
            raise ToolError(str(database.explain(error))) from error
        raise ToolError(
            "The database is not reachable. Check it with `labkit status` (and `labkit up`)"
        ) from error
    except psycopg.Error as error:
        raise ToolError(str(database.explain(error))) from error


def fixed_store(store: str) -> StoreOf:
    """For stdio: every call acts for ``store``."""
    check_store(store)
    return lambda ctx: store


def token_store(ctx: Context) -> str:
    """For HTTP: the store of the token that authenticated this very request."""
    request = ctx.request_context.request
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):
        # Cannot happen behind the SDK's RequireAuthMiddleware; if it ever did, no store
        # is no answer, never every store.
        raise ToolError("This request carries no valid token, so it acts for no store")
    try:
        return check_store(user.access_token.client_id)
    except LabError as error:
        raise ToolError(str(error)) from error


def serve_stdio(store: str) -> None:
    """Serve ``store`` on stdin/stdout until the client closes them, or Ctrl-C."""
    server = build(fixed_store(store))
    # The transport reads stdin in a thread that no cancellation can interrupt, so on
    # Ctrl-C asyncio's own handler would wait for a line that never comes: close the
    # database connections and leave instead.
    signal.signal(signal.SIGINT, _leave)
    signal.signal(signal.SIGTERM, _leave)
    anyio.run(server.run_stdio_async)
    tenancy.close_pools()


def _leave(signum: int, frame: object) -> None:
    tenancy.close_pools()
    sys.stderr.flush()
    os._exit(128 + signum)
