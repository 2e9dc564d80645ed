"""labkit: the plumbing behind the Zava Retail lab notebooks.

>>> import labkit
>>> labkit.setup()                      # server up, schema applied (idempotent)
>>> with labkit.connect() as conn: ...  # psycopg connection to the lab database
>>> with labkit.as_store("seattle") as conn: ...  # one transaction as mcp_user, seattle only
"""

from __future__ import annotations

from .db import ADMIN, connect, url
from .errors import LabError
from .schema import reset, setup
from .tenancy import as_store, side_by_side, visible_rows

__all__ = [
    "ADMIN",
    "LabError",
    "as_store",
    "connect",
    "reset",
    "setup",
    "side_by_side",
    "url",
    "visible_rows",
]
