"""labkit: the plumbing behind the Zava Retail lab notebooks.

>>> import labkit
>>> labkit.setup()                      # server up, schema applied (idempotent)
>>> with labkit.connect() as conn: ...  # psycopg connection to the lab database
>>> with labkit.as_store("seattle") as conn: ...  # one transaction as mcp_user, seattle only
>>> labkit.embed_catalog()              # embed changed products (offline model by default)
>>> labkit.search("warm winter jacket", store="seattle", k=10)   # a DataFrame, best first

``labkit.search`` is the function; its module is ``labkit.product_search``
(``from labkit.product_search import MODES``), so neither hides the other.

Names and submodules load on first use (``labkit.connect`` imports psycopg,
``labkit.search`` pandas and the embedding model's runtime), so the ``labkit``
command starts without paying for what it does not run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below
    from .db import ADMIN, connect, url
    from .errors import LabError
    from .product_search import embed_catalog, search
    from .schema import reset, setup
    from .tenancy import as_store, side_by_side, visible_rows

#: Each public name and the module it comes from.
_EXPORTS = {
    "ADMIN": "db",
    "connect": "db",
    "url": "db",
    "LabError": "errors",
    "reset": "schema",
    "setup": "schema",
    "embed_catalog": "product_search",
    "search": "product_search",
    "as_store": "tenancy",
    "side_by_side": "tenancy",
    "visible_rows": "tenancy",
}

__all__ = [
    "ADMIN",
    "LabError",
    "as_store",
    "connect",
    "embed_catalog",
    "reset",
    "search",
    "setup",
    "side_by_side",
    "url",
    "visible_rows",
]


def __getattr__(name: str) -> Any:
    """Load a public name, or a submodule (``labkit.catalog``), when it is first used."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
