"""labkit: the plumbing behind the Zava Retail lab notebooks.

>>> import labkit
>>> labkit.setup()                      # server up, schema applied (idempotent)
>>> with labkit.connect() as conn: ...  # psycopg connection to the lab database
"""

from __future__ import annotations

from .db import ADMIN, connect, url
from .errors import LabError
from .schema import reset, setup

__all__ = ["ADMIN", "LabError", "connect", "reset", "setup", "url"]
