"""Bulk loading as the owner, with row-level security and audit triggers lifted.

Seeding writes rows for every store at once, as ``retail_owner``. Two things the
lab turns on for safety would get in its way: FORCE ROW LEVEL SECURITY (which
holds the owner to the policies, so one load could only write one store) and the
per-row audit triggers (a million audit rows for a million inserts). Both are
lifted inside the caller's transaction and put back before it commits: ALTER
TABLE is transactional and its lock keeps every other session out meanwhile, so
nobody ever sees the tables unforced or unaudited, and a failed load rolls the
changes back with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from . import contract

_STATE = """
    SELECT c.relname, c.relforcerowsecurity,
           coalesce(array_agg(t.tgname ORDER BY t.tgname)
                    FILTER (WHERE t.tgname IS NOT NULL), '{}')
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_trigger AS t
      ON t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
         AND t.tgname = ANY(%(triggers)s)
    WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
    GROUP BY c.relname, c.relforcerowsecurity
    ORDER BY c.relname
"""
#: Per-row triggers that a bulk load skips. Others (updated_at) stay on.
AUDIT_TRIGGERS: tuple[str, ...] = ("audit_changes",)


@contextmanager
def bulk_load(
    conn: psycopg.Connection[Any],
    tables: Iterable[str] = contract.PER_STORE_TABLES,
    *,
    skip_triggers: Iterable[str] = AUDIT_TRIGGERS,
) -> Iterator[None]:
    """Within one transaction on ``conn`` (as the owner): unforce RLS and pause
    the audit triggers of ``tables``; restore exactly what was on before commit."""
    params = {"schema": contract.SCHEMA, "tables": list(tables), "triggers": list(skip_triggers)}
    with conn.transaction():
        state = conn.execute(_STATE, params).fetchall()
        for table, forced, triggers in state:
            name = sql.Identifier(contract.SCHEMA, table)
            if forced:
                conn.execute(sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(name))
            for trigger in triggers:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                        name, sql.Identifier(trigger)
                    )
                )
        yield
        for table, forced, triggers in state:
            name = sql.Identifier(contract.SCHEMA, table)
            for trigger in triggers:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}").format(
                        name, sql.Identifier(trigger)
                    )
                )
            if forced:
                conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(name))
