"""The lab's tables as the store's login sees them, read from ``pg_catalog``, for a model.

Columns with their types, keys and foreign keys (a composite key is one key: its
columns are paired in order, ``(store_id, transaction_id)`` with the referenced
``(store_id, transaction_id)``), CHECK rules, and the values a model needs to write
a correct WHERE clause: the stores, the categories, the dates of this store's sales.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from .. import contract
from ..errors import LabError

_TABLES = """
    SELECT c.relname, c.oid FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm')
      AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
    ORDER BY c.relname
"""
_COLUMNS = """
    SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_catalog.pg_get_expr(d.adbin, d.adrelid)
    FROM pg_catalog.pg_attribute AS a
    LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
"""
# conkey and confkey are parallel arrays: unnest them together, in order.
_CONSTRAINTS = """
    SELECT con.contype::text,
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, position)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                 ORDER BY k.position),
           CASE WHEN con.contype = 'f' THEN pg_catalog.format('%%I.%%I', rn.nspname, r.relname) END,
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.confkey) WITH ORDINALITY AS k (attnum, position)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                 ORDER BY k.position),
           pg_catalog.pg_get_constraintdef(con.oid)
    FROM pg_catalog.pg_constraint AS con
    LEFT JOIN pg_catalog.pg_class AS r ON r.oid = con.confrelid
    LEFT JOIN pg_catalog.pg_namespace AS rn ON rn.oid = r.relnamespace
    WHERE con.conrelid = %s AND con.contype IN ('p', 'u', 'f', 'c')
    ORDER BY con.contype = 'c', con.contype, con.conname
"""
_STORES = "SELECT store_id, store_name FROM retail.stores WHERE is_active ORDER BY store_id"
_CATEGORIES = "SELECT category_name FROM retail.product_categories ORDER BY category_name"
_SALES_DATES = (
    "SELECT min(transaction_date)::date, max(transaction_date)::date, count(*)"
    " FROM retail.sales_transactions"
)


def visible_tables(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """``retail.<name>`` -> oid, for the tables and views the login may read."""
    rows = conn.execute(_TABLES, (contract.SCHEMA,)).fetchall()
    return {f"{contract.SCHEMA}.{name}": oid for name, oid in rows}


def describe(conn: psycopg.Connection[Any], store: str, names: Sequence[str]) -> str:
    """Markdown describing each table in ``names`` (``retail.x`` or ``x``)."""
    if isinstance(names, str) or not names:
        raise LabError(
            "table_names must be a non-empty list of table names",
            'Pass e.g. ["retail.sales_transactions", "retail.products"]',
        )
    tables = visible_tables(conn)
    wanted = [name if "." in name else f"{contract.SCHEMA}.{name}" for name in names]
    unknown = [name for name, full in zip(names, wanted, strict=True) if full not in tables]
    if unknown:
        raise LabError(
            f"Unknown table(s): {', '.join(map(repr, unknown))}",
            f"Valid table names: {', '.join(tables)}",
        )
    header = (
        f"This server acts for store {store!r} only: every query sees that store's rows,"
        " whatever it says about store_id.\n"
    )
    return header + "\n".join(_table(conn, full, tables[full]) for full in dict.fromkeys(wanted))


def _table(conn: psycopg.Connection[Any], name: str, oid: int) -> str:
    lines = [f"# Table: {name}", "", "## Columns"]
    for column, type_, not_null, default in conn.execute(_COLUMNS, (oid,)):
        extra = (" NOT NULL" if not_null else "") + (f" DEFAULT {default}" if default else "")
        lines.append(f"- {column}: {type_}{extra}")
    keys, links, checks = [], [], []
    for kind, columns, target, target_columns, definition in conn.execute(_CONSTRAINTS, (oid,)):
        if kind == "p":
            keys.append(f"- primary key ({', '.join(columns)})")
        elif kind == "u":
            keys.append(f"- unique ({', '.join(columns)})")
        elif kind == "f":
            links.append(f"- ({', '.join(columns)}) → {target} ({', '.join(target_columns)})")
        else:
            checks.append(f"- {definition}")
    for title, items in (("Keys", keys), ("Foreign keys", links), ("Checks", checks)):
        if items:
            lines += ["", f"## {title}", *items]
    values = _valid_values(conn, name.removeprefix(f"{contract.SCHEMA}."))
    if values:
        lines += ["", "## Valid values", *values]
    return "\n".join(lines) + "\n"


def _valid_values(conn: psycopg.Connection[Any], table: str) -> list[str]:
    values = []
    if table in ("stores", "customers", "products", "sales_transactions"):
        stores = ", ".join(f"{sid} ({name})" for sid, name in conn.execute(_STORES))
        values.append(f"- stores: {stores}")
    if table in ("product_categories", "products"):
        names = ", ".join(name for (name,) in conn.execute(_CATEGORIES))
        values.append(f"- categories (product_categories.category_name): {names}")
    if table in ("sales_transactions", "sales_transaction_items"):
        row = conn.execute(_SALES_DATES).fetchone()
        if row and row[2]:
            values.append(f"- transaction_date: from {row[0]} to {row[1]} ({row[2]} sales)")
        else:
            values.append("- transaction_date: this store has no sales yet")
    return values
