"""Streamable HTTP on 127.0.0.1 at ``/mcp``, following the MCP security best practices.

* Every request needs ``Authorization: Bearer TOKEN``; the token alone decides the store.
  A missing, unknown or rotated token gets 401 and nothing else (the SDK's
  ``RequireAuthMiddleware``), never a fall-back to some or all stores.
* ``Origin`` and ``Host`` must name this server (DNS rebinding): a page on another
  origin gets 403, another Host 421 (the SDK's transport security).
* MCP session IDs are random (uuid4) and bound to the token that opened the session:
  the same ID with another token, another store's or a rotated one, is answered as if
  the session did not exist (404); with no token, 401.

While it runs, the server records its pid and URL in the data folder (``state``),
which ``labkit status`` shows.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

import psutil
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from . import server as mcp_server
from . import state
from .tokens import StoreTokens, StoreTokenVerifier

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PATH = "/mcp"


def url(port: int) -> str:
    return f"http://{HOST}:{port}{PATH}"


def app(port: int, tokens: StoreTokens | None = None) -> Starlette:
    """The ASGI app: the four tools behind bearer tokens, Origin and Host checks."""
    verifier = StoreTokenVerifier(tokens or StoreTokens())
    server = mcp_server.build(
        mcp_server.token_store, verifier=verifier, base_url=f"http://{HOST}:{port}"
    )
    names = (f"{HOST}:{port}", f"localhost:{port}")
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(names),
        allowed_origins=[f"http://{name}" for name in names],
    )
    return server.streamable_http_app(
        streamable_http_path=PATH, host=HOST, transport_security=security
    )


def _stop_with(server: uvicorn.Server, parent: int, orphaned: threading.Event) -> None:
    """Stop ``server`` when process ``parent`` ends (a notebook kernel that died)."""

    def watch() -> None:
        with contextlib.suppress(psutil.Error):
            psutil.Process(parent).wait()
        orphaned.set()
        server.should_exit = True

    threading.Thread(target=watch, name="labkit-mcp-parent", daemon=True).start()


def serve(port: int = DEFAULT_PORT, *, exit_with: int | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM, or the end of process ``exit_with``)."""
    config = uvicorn.Config(
        app(port), host=HOST, port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    # A launcher that ignores SIGINT (a shell script's background job, some CI steps)
    # passes that on. uvicorn stops on SIGINT all the same, but re-raises it once shut
    # down, and an ignored one made the exit code 0: Python's own handler, as in a
    # terminal, ends a Ctrl-C with 130 however the server was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    orphaned = threading.Event()
    if exit_with is not None:
        _stop_with(server, exit_with, orphaned)
    print(f"MCP server on {url(port)}; tokens: labkit mcp token STORE", file=sys.stderr)
    with state.recorded(port, url(port)):
        server.run()
    if orphaned.is_set():  # nobody is left to read or remove the log it started
        with contextlib.suppress(OSError):
            state.log_file(port).unlink()
