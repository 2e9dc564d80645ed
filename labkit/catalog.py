"""Read the lab's schema back from pg_catalog, to check it against the contract.

``columns`` gives every column and its type as ``format_type`` prints it, the
form ``labkit.contract.TABLES`` uses. ``snapshot`` lists everything in the
schema as sorted lines of text, so two snapshots taken before and after
``labkit.setup()`` show whether setup changed anything.
"""

from __future__ import annotations

from typing import Any

import psycopg

from . import contract

# One line per fact: relations with their oid (a dropped and recreated table
# gets a new one), owner, privileges and row-security flags; columns with
# defaults; constraint, index, trigger and policy definitions; function
# bodies; sequence positions.
_SNAPSHOT = """
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s)
SELECT concat_ws(' ', 'relation', c.relname, c.relkind, c.oid,
                 pg_catalog.pg_get_userbyid(c.relowner), c.relacl,
                 c.relrowsecurity, c.relforcerowsecurity)
FROM pg_catalog.pg_class AS c WHERE c.relnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT concat_ws(' ', 'column', c.relname || '.' || a.attname,
                 pg_catalog.format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'not null' END,
                 pg_catalog.pg_get_expr(d.adbin, d.adrelid))
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = (SELECT oid FROM ns) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT concat_ws(' ', 'constraint', k.conrelid::regclass, k.conname,
                 pg_catalog.pg_get_constraintdef(k.oid))
FROM pg_catalog.pg_constraint AS k WHERE k.connamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid
WHERE c.relnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid)
FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT t.tgisinternal
UNION ALL
SELECT concat_ws(' ', 'policy', p.polrelid::regclass, p.polname, p.polcmd, p.polroles,
                 pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                 pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
FROM pg_catalog.pg_policy AS p JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
WHERE c.relnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT concat_ws(' ', 'function', p.oid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner),
                 p.proacl, md5(p.prosrc), p.proconfig)
FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = (SELECT oid FROM ns)
UNION ALL
SELECT concat_ws(' ', 'sequence', s.sequencename, coalesce(s.last_value::text, 'unused'))
FROM pg_catalog.pg_sequences AS s WHERE s.schemaname = %(schema)s
ORDER BY 1
"""


def columns(
    conn: psycopg.Connection[Any], schema: str = contract.SCHEMA
) -> dict[str, dict[str, str]]:
    """Every table of ``schema``: {table: {column: type}}, columns in table order."""
    query = """
        SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum
    """
    tables: dict[str, dict[str, str]] = {}
    for table, column, type_name in conn.execute(query, (schema,)):
        tables.setdefault(table, {})[column] = type_name
    return tables


def snapshot(conn: psycopg.Connection[Any], schema: str = contract.SCHEMA) -> list[str]:
    """Everything defined in ``schema``, one sorted line per fact, for before/after checks.

    Sequence positions need read access to the sequences: take snapshots as the
    administrator or the owner.
    """
    return [line for (line,) in conn.execute(_SNAPSHOT, {"schema": schema})]
