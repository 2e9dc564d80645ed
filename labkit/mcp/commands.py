"""``labkit mcp serve`` and ``labkit mcp token``: imports the SDK only when they run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_commands(add: Add) -> None:
    """Register ``labkit mcp ...`` with ``labkit``'s parser."""
    parser = add("mcp", _usage, "the lab's MCP server: serve one store's data to an assistant")
    commands = parser.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve over stdio (--store) or streamable HTTP (--http)",
        description="Serve the four tools: for one store on stdio, or for each token's store"
        " on http://127.0.0.1:PORT/mcp.",
    )
    serve.set_defaults(handler=_serve)
    how = serve.add_mutually_exclusive_group(required=True)
    how.add_argument("--store", help="stdio: act for this store (seattle, redmond, ...)")
    how.add_argument("--http", action="store_true", help="streamable HTTP; tokens choose stores")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default: 8765)")
    # For notebooks: stop when the kernel that started the server is gone.
    serve.add_argument("--exit-with", type=int, metavar="PID", help=argparse.SUPPRESS)
    token = commands.add_parser(
        "token",
        help="print a store's bearer token (made on first use)",
        description="Print the store's bearer token for the HTTP server, made on first use"
        " and kept in the data folder (mode 600).",
    )
    token.set_defaults(handler=_token)
    token.add_argument("store", help="seattle, redmond, bellevue or online")
    token.add_argument(
        "--rotate", action="store_true", help="replace it; the old one stops working"
    )


def _usage(args: argparse.Namespace) -> int:
    print("usage: labkit mcp serve --store STORE | --http [--port PORT]; labkit mcp token STORE")
    return 2


def _serve(args: argparse.Namespace) -> int:
    from ..errors import LabError

    if args.http:
        from . import http

        if not 1024 <= args.port <= 65535:
            raise LabError(f"--port {args.port} is not usable", "Pick a port from 1024 to 65535")
        _log_one_line_per_record()
        http.serve(args.port, exit_with=args.exit_with)
        return 0
    from . import server

    server.fixed_store(args.store)  # an unknown store fails here, before any client connects
    _log_one_line_per_record()
    print(f"MCP server for store {args.store!r} on stdio", file=sys.stderr)
    server.serve_stdio(args.store)
    return 0


def _log_one_line_per_record() -> None:
    """Before the SDK installs its own handler (which is then left out): that one wraps
    every line at 80 columns when stderr is a file, a log. Only once the command is
    valid: a refused one, run in-process (tests), leaves the caller's logging alone."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _token(args: argparse.Namespace) -> int:
    from .tokens import StoreTokens

    tokens = StoreTokens()
    print(tokens.rotate(args.store) if args.rotate else tokens.token(args.store))
    return 0
