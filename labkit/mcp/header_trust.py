"""The sample server's design in a few lines, reproduced to watch it fail open. Never copy it.

What it does, as ``mcp_server/sales_analysis.py`` in the companion sample does:

* the store comes from an ``x-rls-user-id`` request header, which any caller can set:
  even with the context set properly (here: ``mcp_user`` and ``set_store_context`` in
  one transaction), a forged header is another store's data;
* a missing header means a placeholder that stands for every store (head office),
  served by the superuser (the sample's default login, ``postgres``), which bypasses
  every policy, with a session-wide ``set_config(..., false)`` outside any transaction.

Notebook 08 runs it next to the lab's own server and sends both the same requests.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

from .. import db, tenancy
from ..server import free_port

EVERY_STORE = "00000000-0000-0000-0000-000000000000"


def build() -> MCPServer:
    server: MCPServer = MCPServer("header-trust-sample", log_level="WARNING")

    @server.tool(structured_output=False)
    def execute_sales_query(postgresql_query: str, ctx: Context) -> str:
        """Runs any SQL for the store named by the x-rls-user-id header."""
        store = (ctx.headers or {}).get("x-rls-user-id")
        if store is None:  # no header: head office, every store, as the superuser
            with db.connect(autocommit=True) as conn:
                conn.execute("SELECT set_config('app.current_store_id', %s, false)", (EVERY_STORE,))
                return _rows(conn.execute(postgresql_query.encode()))
        with tenancy.as_store(store) as conn:  # whichever store the header names
            return _rows(conn.execute(postgresql_query.encode()))

    return server


def _rows(cursor: psycopg.Cursor[Any]) -> str:
    names = [column.name for column in cursor.description or []]
    return json.dumps({"c": names, "r": [list(row) for row in cursor.fetchall()]}, default=str)


@dataclass
class Running:
    """The reproduction, served on 127.0.0.1 from a thread of this process."""

    port: int
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start() -> Running:
    port = free_port()
    app: Any = build().streamable_http_app(host="127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="header-trust-sample", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return Running(port, server, thread)
