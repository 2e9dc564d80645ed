"""libpq connection URLs, which psql, pg_dump, psycopg and SQLAlchemy all accept.

Built with URL quoting rather than psycopg's ``make_conninfo``, so that the commands
that only run a PostgreSQL program (``labkit status``) start without psycopg.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode


def params_to_url(params: Mapping[str, str], *, driver: str | None = None) -> str:
    """``params`` (host, port, user, password, dbname and any other libpq keyword) as a
    ``postgresql://`` URL; ``driver="psycopg"`` gives SQLAlchemy's ``postgresql+psycopg://``."""
    rest = {
        k: v for k, v in params.items() if k not in {"user", "password", "host", "port", "dbname"}
    }
    credentials = quote(params.get("user", ""), safe="")
    if params.get("password"):
        credentials += ":" + quote(params["password"], safe="")
    host = params.get("host", "")
    location = f"[{host}]" if ":" in host else quote(host, safe="")
    if params.get("port"):
        location += f":{params['port']}"
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    query = f"?{urlencode(rest)}" if rest else ""
    return f"{scheme}://{credentials}@{location}/{quote(params.get('dbname', ''), safe='')}{query}"
