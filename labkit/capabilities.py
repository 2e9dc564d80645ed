"""What the administrator may do on this server, read from the catalog before trying.

On the embedded server the administrator is a superuser and may do everything.
On a managed server (Azure, RDS, Cloud SQL) it is not: notebooks ask here first
and skip a superuser-only step with one line that says why and what the
provider offers instead, rather than failing halfway through a cell.

``every_store()`` (a block) and ``Truth`` (a reader kept for a whole notebook)
are how notebooks read the truth, every store's rows, on either server without
a superuser: as the owner, with FORCE lifted inside a transaction that is
always rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from . import contract, db, provider
from .errors import LabError

_ATTRIBUTES = """
    SELECT r.rolsuper, r.rolbypassrls, r.rolreplication,
           pg_catalog.has_parameter_privilege(current_user, 'work_mem', 'ALTER SYSTEM'),
           pg_catalog.has_function_privilege(current_user, 'pg_catalog.pg_show_all_file_settings()',
                                             'EXECUTE'),
           coalesce((SELECT bool_or(pg_catalog.has_function_privilege(current_user, p.oid, 'EXECUTE'))
                     FROM pg_catalog.pg_proc AS p
                     WHERE p.proname = 'pg_stat_statements_reset'), false)
    FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user
"""


@dataclass(frozen=True)
class Capabilities:
    """The administrator's powers, each one the catalog's answer."""

    user: str
    superuser: bool
    bypass_rls: bool
    replication: bool
    alter_system: bool
    read_file_settings: bool
    reset_statements: bool
    embedded: bool
    provider: provider.Provider

    @property
    def auto_explain(self) -> bool:
        # LOAD of a library outside $libdir/plugins needs a superuser.
        return self.superuser

    @property
    def point_in_time_recovery(self) -> bool:
        # Streams WAL and starts a second server from the files: this machine's server only.
        return self.embedded and (self.superuser or self.replication)

    @property
    def full_backup(self) -> bool:
        return self.superuser or self.bypass_rls

    def allows(self, step: str) -> bool:
        """True if ``step`` can run here; otherwise print one line on why and the alternative."""
        allowed, why, instead = self._steps()[step]
        if not allowed:
            print(f"Skipped here: {why}; {instead}.")
        return allowed

    def _steps(self) -> dict[str, tuple[bool, str, str]]:
        settings = provider.settings_hint(self.provider)
        login = f"{self.user!r} is not a superuser"
        return {
            "alter_system": (
                self.alter_system,
                f"{login} and may not ALTER SYSTEM",
                f"change server settings in {settings}",
            ),
            "file_settings": (
                self.read_file_settings,
                f"{login} and may not read the server's configuration files (pg_file_settings)",
                f"see each setting and its source in {settings}",
            ),
            "reset_statements": (
                self.reset_statements,
                f"{login} and may not run pg_stat_statements_reset()",
                "compare the counters before and after instead (or ask the provider: Azure "
                "and RDS grant it to their admin roles on request)",
            ),
            "replication_slots": (
                self.superuser or self.replication,
                f"{login} and has no REPLICATION attribute, so it may not create replication slots",
                f"the provider streams and keeps WAL itself: use {provider.recovery_hint(self.provider)}",
            ),
            "point_in_time_recovery": (
                self.point_in_time_recovery,
                "point-in-time recovery replays WAL into a second server started from this "
                "machine's files, which only the embedded server offers",
                f"use {provider.recovery_hint(self.provider)}",
            ),
            "auto_explain": (
                self.auto_explain,
                f"{login}, and only a superuser may LOAD 'auto_explain'",
                f"add auto_explain to session_preload_libraries in {settings} and read the plans "
                "in the provider's server logs",
            ),
            "bypass_policies": (
                self.superuser or self.bypass_rls,
                f"{login} and has no BYPASSRLS, so a query it runs sees no store's rows",
                "a login that bypasses row-level security (the sample's default, the "
                "superuser postgres) sees every store's",
            ),
            "full_backup": (
                self.full_backup,
                f"{login} and has no BYPASSRLS, so pg_dump would see no store's rows",
                "ask the provider for BYPASSRLS, or use its automated backups "
                f"and {provider.recovery_hint(self.provider)}",
            ),
        }


def of(conn: psycopg.Connection[Any] | None = None) -> Capabilities:
    """The capabilities of ``conn``'s login (default: the lab's administrator)."""
    if conn is None:
        with db.connect(autocommit=True) as own:
            return of(own)
    row = conn.execute(_ATTRIBUTES).fetchone()
    assert row is not None
    return Capabilities(
        conn.info.user, *row, embedded=db.target().embedded, provider=provider.detect(conn)
    )


@contextmanager
def every_store(
    tables: tuple[str, ...] = contract.PER_STORE_TABLES, *, dbname: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """A connection that sees every store's rows, in a transaction that is rolled back.

    As the owner (not a superuser) with FORCE ROW LEVEL SECURITY lifted on
    ``tables``: owners bypass policies that are not forced. ALTER TABLE is
    transactional and locks the tables until the rollback, so no other session
    ever sees them unforced; keep the block short, and do not query as another
    role inside it (that session would wait for the lock).
    """
    with (
        db.connect(contract.OWNER_ROLE, dbname=dbname) as conn,
        conn.transaction(force_rollback=True),
    ):
        _lift_force(conn, tables)
        yield conn


#: How long lifting FORCE waits for other sessions' locks before saying so.
LOCK_TIMEOUT = "10s"


def _lift_force(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> None:
    conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, true)", (LOCK_TIMEOUT,))
    try:
        for table in tables:
            conn.execute(
                sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(
                    sql.Identifier(contract.SCHEMA, table)
                )
            )
    except psycopg.errors.LockNotAvailable as error:
        raise LabError(
            f"Reading every store's rows waited {LOCK_TIMEOUT} for another session's lock",
            "Another transaction is open on the lab's tables (often a `with labkit.as_store(...)`"
            " block around this call): read the truth before or after it, not inside",
        ) from error
    conn.execute("SELECT pg_catalog.set_config('lock_timeout', '0', true)")


class Truth:
    """A long-lived reader of every store's rows, for a notebook's checks.

    Each ``execute`` runs in its own ``every_store()``-style transaction, rolled
    back at once, so between statements no lock is held and the lab runs on as
    usual. ``with truth.transaction():`` groups statements in one such
    transaction (always rolled back). Works with any administrator.
    """

    def __init__(self, tables: tuple[str, ...] = contract.PER_STORE_TABLES) -> None:
        self._tables = tables
        self._conn = db.connect(contract.OWNER_ROLE, autocommit=True)
        self._inside = False

    @contextmanager
    def transaction(self, force_rollback: bool = True) -> Iterator[Truth]:
        """One rolled-back transaction that sees every store (``force_rollback`` is always on)."""
        if self._inside:
            yield self
            return
        with self._conn.transaction(force_rollback=True):
            _lift_force(self._conn, self._tables)
            self._inside = True
            try:
                yield self
            finally:
                self._inside = False

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None
    ) -> psycopg.Cursor[Any]:
        """Run one statement that sees every store; its rows stay readable afterwards."""
        with self.transaction():
            return self._conn.execute(query, params, prepare=prepare)

    def close(self) -> None:
        self._conn.close()
