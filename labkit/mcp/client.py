"""Connecting to the lab's server with the SDK's own client, as any MCP client would.

async with client.over_http(url, token) as session:
    result = await session.call_tool("execute_sales_query", {"postgresql_query": "SELECT 1"})
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


@asynccontextmanager
async def over_http(
    url: str, token: str | None, *, mode: str = "auto", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """A connected client; the token goes in ``Authorization: Bearer``, as for any client.

    ``mode="legacy"`` uses the initialize handshake and an MCP session (Mcp-Session-Id);
    ``"auto"`` the newest protocol the server speaks.
    """
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    # Longer than the server's statement timeout, so a slow query's error arrives.
    timeout = httpx2.Timeout(30.0, read=120.0)
    async with (
        httpx2.AsyncClient(headers=sent, timeout=timeout) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as connected,
    ):
        yield connected


def stdio_parameters(store: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """``labkit mcp serve --store STORE`` as a child process speaking MCP on stdin/stdout.

    It gets this process's environment (LABKIT_*, DATABASE_URL: the same lab database),
    not the SDK's minimal default one.
    """
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "labkit", "mcp", "serve", "--store", store],
        env=dict(os.environ) if env is None else env,
    )


@asynccontextmanager
async def over_stdio(store: str, env: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """A client of a stdio server for ``store``, started for it and stopped with it."""
    async with Client(stdio_parameters(store, env)) as connected:
        yield connected
