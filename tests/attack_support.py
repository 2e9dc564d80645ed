"""Who attacks, from where: every lab login, and every role it can SET ROLE to.

The identities are read from the catalog (``pg_has_role(login, role, 'SET')``),
so a membership added later is attacked automatically. Each identity has a
home store (the one it may legitimately see) and a victim (one it must not).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

import labkit
from labkit import contract

VICTIM = "redmond"
#: Tenants: the roles whose SQL may be written by someone else (a person in psql,
#: a language model behind the MCP server).
TENANT_LOGINS: tuple[str, ...] = (contract.APP_ROLE, *contract.STORE_LOGINS)
_REACHABLE = """
    SELECT r.rolname FROM pg_catalog.pg_roles AS r
    WHERE pg_catalog.pg_has_role(%s, r.oid, 'SET') AND r.rolname <> %s
    ORDER BY r.rolname
"""


@dataclass(frozen=True)
class Identity:
    login: str
    role: str | None = None  # a SET ROLE target, or None for the login itself

    @property
    def name(self) -> str:
        return self.login if self.role is None else f"{self.login}>{self.role}"

    @property
    def tenant(self) -> bool:
        return self.login in TENANT_LOGINS

    @property
    def home(self) -> str | None:
        """The store this identity may act for: mcp_user chooses seattle."""
        if self.role is not None:
            return None
        if self.login == contract.APP_ROLE:
            return "seattle"
        return contract.STORE_LOGINS.get(self.login)


def identities() -> list[Identity]:
    """Every lab login, then every role each one can SET ROLE to."""
    found: list[Identity] = []
    with labkit.connect(autocommit=True) as admin:
        for login in contract.LOGIN_ROLES:
            found.append(Identity(login))
            for (role,) in admin.execute(_REACHABLE, (login, login)):
                found.append(Identity(login, role))
    return found


def victim_of(identity: Identity) -> str:
    return "seattle" if identity.home == VICTIM else VICTIM


@contextmanager
def attacker(identity: Identity) -> Iterator[psycopg.Connection[Any]]:
    """A plain psycopg connection as ``identity``, in a transaction rolled back at
    the end; mcp_user has chosen its home store, as the application would."""
    with labkit.connect(identity.login) as conn, conn.transaction(force_rollback=True):
        if identity.role is not None:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(identity.role)))
        if identity.login == contract.APP_ROLE and identity.role is None:
            conn.execute("SELECT retail.set_store_context(%s)", (identity.home,))
        yield conn


@contextmanager
def control() -> Iterator[psycopg.Connection[Any]]:
    """The superuser, who bypasses row-level security: the probe's control."""
    with labkit.connect() as conn, conn.transaction(force_rollback=True):
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        yield conn


def foreign(conn: psycopg.Connection[Any], query: str, home: str | None, *args: Any) -> int:
    """How many rows ``query`` (which returns store_id) shows of stores other than ``home``."""
    return sum(1 for (store,) in conn.execute(query, args or None) if store != home)
