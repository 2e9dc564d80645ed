"""Read the lab's schema back from pg_catalog, to check it against the contract.

``columns`` gives every column and its type as ``format_type`` prints it, the
form ``labkit.contract.TABLES`` uses. ``snapshot`` lists everything in the
schema as sorted lines of text, so two snapshots taken before and after
``labkit.setup()`` show whether setup changed anything. ``schema_facts`` and
``table_checksums`` describe a whole database without OIDs, so that two copies
of it (a backup and its restore) compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from . import contract

# What setup changes beyond the schema facts: each relation's oid (a dropped and
# recreated table gets a new one), the lab roles' memberships and settings, the
# database's privileges and the event triggers.
_SETUP_FACTS = """
SELECT concat_ws(' ', 'relation', c.relname, c.relkind, c.oid)
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s)
UNION ALL
SELECT concat_ws(' ', 'membership', m.roleid::regrole, m.member::regrole, m.inherit_option,
                 m.set_option, m.admin_option)
FROM pg_catalog.pg_auth_members AS m WHERE m.roleid::regrole::text = ANY(%(roles)s)
   OR m.member::regrole::text = ANY(%(roles)s)
UNION ALL
SELECT concat_ws(' ', 'role setting', s.setrole::regrole, s.setdatabase, s.setconfig)
FROM pg_catalog.pg_db_role_setting AS s WHERE s.setrole::regrole::text = ANY(%(roles)s)
UNION ALL
SELECT concat_ws(' ', 'database', d.datacl) FROM pg_catalog.pg_database AS d
WHERE d.datname = pg_catalog.current_database()
UNION ALL
SELECT concat_ws(' ', 'event trigger', e.evtname, e.evtevent, e.evtfoid::regproc, e.evtenabled)
FROM pg_catalog.pg_event_trigger AS e
"""


def columns(
    conn: psycopg.Connection[Any], schema: str = contract.SCHEMA
) -> dict[str, dict[str, str]]:
    """Every table of ``schema``: {table: {column: type}}, columns in table order.

    A table of the contract may be a view (``retail.audit_log`` reads the log
    that lives in ``retail_audit``); other views are left out.
    """
    query = """
        SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped
          AND (c.relkind IN ('r', 'p') OR (c.relkind = 'v' AND c.relname = ANY(%s)))
        ORDER BY c.relname, a.attnum
    """
    tables: dict[str, dict[str, str]] = {}
    for table, column, type_name in conn.execute(query, (schema, list(contract.TABLES))):
        tables.setdefault(table, {})[column] = type_name
    return tables


def snapshot(
    conn: psycopg.Connection[Any],
    schemas: tuple[str, ...] = (contract.SCHEMA, contract.AUDIT_SCHEMA),
) -> list[str]:
    """Everything defined in ``schemas``, one sorted line per fact, for before/after checks:
    the ``schema_facts`` of those schemas, each line led by its kind, and what else
    setup changes (``_SETUP_FACTS``).

    Sequence positions need read access to the sequences: take snapshots as the
    administrator or the owner.
    """
    lines = [
        f"{kind} {fact}" for kind, facts in schema_facts(conn, schemas).items() for fact in facts
    ]
    params = {"schemas": list(schemas), "roles": list(contract.ROLES)}
    return sorted(lines + [line for (line,) in conn.execute(_SETUP_FACTS, params)])


# The database's own objects only: objects of the system schemas and members of
# extensions (pgvector's hundreds of functions in ``public``) are left out;
# extensions are listed by name and version.
#: Session settings under which two servers print the same values the same way.
#: The settings that decide how a row prints as text.
TEXT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO,YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
CANONICAL = " ".join(
    f"-c {name}={value}" for name, value in {"search_path": "pg_catalog", **TEXT_SETTINGS}.items()
)

USER_OBJECTS = """
WITH ns AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
      AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
), rel AS (
    SELECT c.* FROM pg_catalog.pg_class AS c JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass
                        AND d.objid = c.oid AND d.deptype = 'e')
), fn AS (
    SELECT p.* FROM pg_catalog.pg_proc AS p JOIN ns ON ns.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                        AND d.objid = p.oid AND d.deptype = 'e')
)
"""
# One (kind, fact) per row. ACLs are sorted (GRANT order is not part of the state), and
# a default ACL is written out: NULL and its explicit form grant the same, and pg_dump
# restores either as NULL.
SCHEMA_FACTS = (
    USER_OBJECTS
    + """
SELECT 'extensions', e.extname || ' ' || e.extversion FROM pg_catalog.pg_extension AS e
UNION ALL
SELECT 'schemas', concat_ws(' ', ns.nspname, pg_catalog.pg_get_userbyid(ns.nspowner),
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(ns.nspacl, pg_catalog.acldefault('n', ns.nspowner))) AS a))
FROM ns
UNION ALL
SELECT 'tables', concat_ws(' ', c.oid::regclass, c.relkind::text, pg_catalog.pg_get_userbyid(c.relowner))
FROM rel AS c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'row security', concat_ws(' ', c.oid::regclass, 'enabled=' || c.relrowsecurity,
                                 'forced=' || c.relforcerowsecurity)
FROM rel AS c WHERE c.relkind IN ('r', 'p')
UNION ALL
SELECT 'grants', concat_ws(' ', c.oid::regclass,
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(c.relacl, pg_catalog.acldefault(
           (CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) AS a))
FROM rel AS c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'columns', concat_ws(' ', c.oid::regclass || '.' || quote_ident(a.attname),
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN 'not null' END, pg_catalog.pg_get_expr(d.adbin, d.adrelid))
FROM pg_catalog.pg_attribute AS a JOIN rel AS c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraints', concat_ws(' ', k.conrelid::regclass, k.conname,
                                pg_catalog.pg_get_constraintdef(k.oid))
FROM pg_catalog.pg_constraint AS k JOIN rel AS c ON c.oid = k.conrelid
UNION ALL
SELECT 'indexes', pg_catalog.pg_get_indexdef(i.indexrelid)
       || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
FROM pg_catalog.pg_index AS i JOIN rel AS c ON c.oid = i.indexrelid
UNION ALL
SELECT 'triggers', pg_catalog.pg_get_triggerdef(t.oid) || ' (enabled=' || t.tgenabled::text || ')'
FROM pg_catalog.pg_trigger AS t JOIN rel AS c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL
SELECT 'policies', concat_ws(' ', p.schemaname || '.' || p.tablename, p.policyname, p.permissive,
                             p.roles::text, p.cmd, p.qual, p.with_check)
FROM pg_catalog.pg_policies AS p WHERE p.schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'functions', concat_ws(' ', p.oid::regprocedure, p.prokind::text, pg_catalog.pg_get_userbyid(p.proowner),
       'definer=' || p.prosecdef, p.provolatile::text, md5(p.prosrc), p.proconfig::text,
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a))
FROM fn AS p
UNION ALL
SELECT 'views', c.oid::regclass || ' ' || md5(pg_catalog.pg_get_viewdef(c.oid))
FROM rel AS c WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'sequences', concat_ws(' ', quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename),
                              coalesce(s.last_value::text, 'unused'))
FROM pg_catalog.pg_sequences AS s WHERE s.schemaname IN (SELECT nspname FROM ns)
"""
)
# Tables with their primary key columns (collatable ones are compared as "C").
TABLE_KEYS = (
    USER_OBJECTS
    + """
SELECT ns.nspname, c.relname,
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.n)
                 FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum),
                '{}'),
       coalesce((SELECT array_agg(a.attcollation <> 0 ORDER BY k.n)
                 FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum),
                '{}')
FROM rel AS c JOIN ns ON ns.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index AS i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.relkind = 'r'
ORDER BY 1, 2
"""
)


def schema_facts(
    conn: psycopg.Connection[Any], schemas: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Kind ("indexes", "policies", ...) -> sorted facts of ``schemas`` (default: every
    schema of the database's own), on a ``CANONICAL`` connection to compare two servers."""
    facts: dict[str, list[str]] = {}
    for kind, fact in conn.execute(SCHEMA_FACTS, {"schemas": schemas and list(schemas)}):
        facts.setdefault(kind, []).append(fact)
    return {kind: sorted(found) for kind, found in sorted(facts.items())}


def table_checksums(
    conn: psycopg.Connection[Any], schema: str | None = None, tables: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """Per table, [rows, MD5 of the rows' MD5s in key order (None when empty)].

    Every table of the database, keyed "schema.table"; or, given ``schema``, its
    tables (only ``tables`` if named), keyed by name. Rows are ordered by primary
    key (text keys as "C", so servers with other collations agree), else by their
    hash: equal checksums mean the same rows, whatever order they were written in.
    Rows print under ``TEXT_SETTINGS`` (pinned for the transaction); read by a role
    that sees every row.
    """
    wanted = set(tables)
    found: dict[str, list[Any]] = {}
    with conn.transaction():
        for name, value in TEXT_SETTINGS.items():
            conn.execute("SELECT pg_catalog.set_config(%s, %s, true)", (name, value))
        for schema_name, table, keys, collatable in conn.execute(
            TABLE_KEYS, {"schemas": None}
        ).fetchall():
            if schema is not None and (schema_name != schema or (wanted and table not in wanted)):
                continue
            row_hash = sql.SQL("md5(t::text)")
            order: sql.Composable = row_hash
            if keys:
                order = sql.SQL(", ").join(
                    sql.SQL('{} COLLATE "C"').format(sql.Identifier(k))
                    if text
                    else sql.Identifier(k)
                    for k, text in zip(keys, collatable, strict=True)
                )
            query = sql.SQL(
                "SELECT count(*), md5(string_agg({hash}, '' ORDER BY {order})) FROM {name} AS t"
            ).format(hash=row_hash, order=order, name=sql.Identifier(schema_name, table))
            row = conn.execute(query).fetchone()
            found[table if schema else f"{schema_name}.{table}"] = list(row) if row else [0, None]
    if missing := wanted - found.keys():
        raise LookupError(f"no table {', '.join(sorted(missing))} in schema {schema}")
    return found
