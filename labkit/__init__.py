"""labkit: the plumbing behind the Zava Retail lab notebooks.

>>> import labkit
>>> labkit.setup()                      # server up, schema applied (idempotent)
>>> with labkit.connect() as conn: ...  # psycopg connection to the lab database
>>> with labkit.as_store("seattle") as conn: ...  # one transaction as mcp_user, seattle only
>>> labkit.embed_catalog()              # embed changed products (offline model by default)
>>> labkit.search("warm winter jacket", store="seattle", k=10)   # a DataFrame, best first

``labkit.search`` is the function; its module's other names import as usual
(``from labkit.search import embedding_text``).
"""

from __future__ import annotations

from .db import ADMIN, connect, url
from .errors import LabError
from .schema import reset, setup
from .search import embed_catalog, search
from .tenancy import as_store, side_by_side, visible_rows

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
