"""The lab's MCP server: the sample's four tools, for the store of whoever asks.

    labkit mcp serve --store seattle        # stdio, for one store (VS Code, Claude Desktop)
    labkit mcp serve --http --port 8765     # streamable HTTP; each token is one store's
    labkit mcp token seattle [--rotate]     # that store's bearer token

| module | what it holds |
|---|---|
| ``tokens`` | the stores' bearer tokens and the SDK's token verifier |
| ``database`` | one read-only transaction per call, as the store's own login |
| ``schemas`` | ``get_multiple_table_schemas``: the catalog as the login sees it |
| ``products`` | ``semantic_search_products``: search by meaning for the store |
| ``server`` | the four tools on the SDK's ``MCPServer``; stdio |
| ``http`` | streamable HTTP: tokens, Origin and Host checks, sessions bound to tokens |
| ``state`` | the running HTTP server's pid and URL, for ``labkit status`` |
| ``background`` | the HTTP server as a child process, for notebooks |
| ``client`` | the SDK's client, connected over HTTP (with a token) or stdio |
| ``header_trust`` | the sample's header-trust design, reproduced for notebook 08 to watch it fail open |
| ``commands`` | the ``labkit mcp`` command |

This package imports nothing heavy itself, so ``labkit --help`` stays fast.
"""
