"""A fingerprint of one database: what a restore must reproduce, as plain data.

Read from the catalog, so it covers whatever the database holds (tables that
other lessons add included), never a fixed list:

* **data**: per table, the row count and an MD5 of its rows in key order;
* **schema**: one line per fact (row-level security flags, policies, indexes,
  functions, triggers, constraints, grants, ...), without OIDs, which differ
  between two copies of the same database;
* **behaviour** (``behaviour``): the rows ``mcp_user`` sees per store under
  row-level security, and the top results of the vector search per store.

A backup stores the fingerprint of the very snapshot it dumped (see ``dump``),
so a restore is checked against the backup itself, not against a live
database that has changed since.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..db import Target
from ..errors import LabError
from . import queries
from .behaviour import behaviour

#: For the administrator: row_security=off makes a role that is held to
#: row-level security fail loudly instead of silently counting fewer rows.
ADMIN_OPTIONS = queries.CANONICAL + " -c row_security=off -c work_mem=64MB"


@dataclass
class Fingerprint:
    """What a database holds, as JSON-ready data (stored in each backup's manifest)."""

    #: "schema.table" -> [rows, md5 of the rows in key order (None when empty)]
    tables: dict[str, list[Any]]
    #: kind ("indexes", "policies", ...) -> sorted facts
    schema: dict[str, list[str]]
    #: "schema.table" -> store (or "(no store)") -> rows mcp_user sees; None if not checked
    isolation: dict[str, dict[str, int]] | None = None
    #: rows mcp_user saw of another store, or with no store at all (must be 0)
    leaks: int = 0
    #: store -> top results of the vector search, "product_id score"; None if not applicable
    search: dict[str, list[str]] | None = None
    #: why isolation or search was not checked
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(**data)


def admin_connection(lab: Target, database: str) -> psycopg.Connection[Any]:
    """The administrator on ``database``, with settings that print values canonically."""
    return psycopg.connect(**lab.params(dbname=database), options=ADMIN_OPTIONS)


def take(lab: Target, database: str) -> Fingerprint:
    """The fingerprint of ``database`` as it is now."""
    with admin_connection(lab, database) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        result = data_and_schema(conn)
        snapshot = str(_one(conn, "SELECT pg_catalog.pg_export_snapshot()"))
        behaviour(lab, database, result, snapshot=snapshot)
        conn.rollback()
    return result


def data_and_schema(conn: psycopg.Connection[Any]) -> Fingerprint:
    """Tables (rows and checksums) and schema facts, read on ``conn``."""
    tables: dict[str, list[Any]] = {}
    try:
        for schema_name, table, keys, collatable in conn.execute(queries.TABLES).fetchall():
            name = sql.Identifier(schema_name, table)
            checksum = _one_row(conn, _checksum(name, keys, collatable))
            tables[f"{schema_name}.{table}"] = list(checksum)
    except psycopg.errors.InsufficientPrivilege as error:
        raise LabError(
            f"The administrator cannot read every row ({error.diag.message_primary})",
            "Backups need a role that bypasses row-level security: a superuser, or one "
            "with BYPASSRLS (on a managed server, ask for it or use the server's own backups)",
        ) from error
    schema: dict[str, list[str]] = {}
    for kind, fact in conn.execute(queries.SCHEMA_FACTS):
        schema.setdefault(kind, []).append(fact)
    return Fingerprint(
        tables=tables,
        schema={kind: sorted(facts) for kind, facts in sorted(schema.items())},
    )


def _checksum(name: sql.Identifier, keys: list[str], collatable: list[bool]) -> sql.Composed:
    """Row count and MD5 of the rows' MD5s, in primary-key order (else in hash order).

    Text keys are ordered as "C", so two servers with other collations agree.
    """
    row_hash = sql.SQL("md5(t::text)")
    order: sql.Composable = row_hash
    if keys:
        order = sql.SQL(", ").join(
            sql.SQL('{} COLLATE "C"').format(sql.Identifier(k)) if text else sql.Identifier(k)
            for k, text in zip(keys, collatable, strict=True)
        )
    return sql.SQL(
        "SELECT count(*), md5(string_agg({hash}, '' ORDER BY {order})) FROM {name} AS t"
    ).format(hash=row_hash, order=order, name=name)


def _one_row(conn: psycopg.Connection[Any], query: sql.Composable) -> tuple[Any, ...]:
    row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]
