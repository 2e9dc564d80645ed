"""Copy lost rows back from a restored copy into the live database.

After an accident you rarely want the whole backup back: the live database has
the day's new sales, the backup has yesterday's rows the accident removed. So
restore the backup next to the live database, then copy back only what is
missing: rows the restored copy has and the live database lacks, by primary key.

The rows travel as COPY text from the restored copy (read by the
administrator) into a temporary table on the live database, and from there
into the table, in one transaction as ``retail_owner`` inside
``labkit.bulk.bulk_load`` (FORCE row-level security and the per-row audit
triggers lifted, and put back before commit). Instead of one audit row per
recovered row, each table gets one ``RECOVER`` row saying how many rows came
back, and from where.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from .. import contract, db
from ..bulk import bulk_load
from ..errors import LabError

#: (table in retail, WHERE condition on the restored copy, its parameters)
Selection = tuple[str, str, Sequence[Any]]

_COLUMNS = """
    SELECT a.attname::text, coalesce(a.attnum = ANY(i.indkey), false)
    FROM pg_catalog.pg_attribute AS a
    LEFT JOIN pg_catalog.pg_index AS i ON i.indrelid = a.attrelid AND i.indisprimary
    WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
"""


def copy_back(source_database: str, selections: Sequence[Selection]) -> dict[str, int]:
    """Copy the rows each selection picks in ``source_database`` that the live
    database lacks; return how many rows each table got back.

    Selections run in order, in one transaction: list parents before children
    (transactions before their items). Nothing is copied if any of them fails.
    """
    recovered: dict[str, int] = {}
    tables = [table for table, _, _ in selections]
    with (
        db.connect(dbname=source_database) as source,
        db.connect(contract.OWNER_ROLE) as live,
        bulk_load(live, tables),
    ):
        for table, where, params in selections:
            recovered[table] = _copy_missing(source, live, table, where, params)
            live.execute(
                "INSERT INTO retail.audit_log (table_name, action, metadata)"
                " VALUES (%s, 'RECOVER', %s)",
                (table, json.dumps({"from_database": source_database, "rows": recovered[table]})),
            )
    return recovered


def _copy_missing(
    source: psycopg.Connection[Any],
    live: psycopg.Connection[Any],
    table: str,
    where: str,
    params: Sequence[Any],
) -> int:
    name = sql.Identifier(contract.SCHEMA, table)
    columns = live.execute(_COLUMNS, (f"{contract.SCHEMA}.{table}",)).fetchall()
    keys = [sql.Identifier(column) for column, is_key in columns if is_key]
    if not keys:
        raise LabError(
            f"retail.{table} has no primary key, so missing rows cannot be told apart",
            "Copy its rows back by hand",
        )
    listed = sql.SQL(", ").join(sql.Identifier(column) for column, _ in columns)
    live.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE recovered ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
        ).format(listed, name)
    )
    out = sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT").format(
        listed, name, sql.SQL(where)
    )
    with (
        source.cursor().copy(out, params) as reading,
        live.cursor().copy(sql.SQL("COPY recovered ({}) FROM STDIN").format(listed)) as writing,
    ):
        for chunk in reading:
            writing.write(chunk)
    match = sql.SQL(" AND ").join(sql.SQL("t.{0} = r.{0}").format(key) for key in keys)
    inserted = live.execute(
        sql.SQL(
            "INSERT INTO {name} ({columns}) SELECT {columns} FROM recovered AS r"
            " WHERE NOT EXISTS (SELECT FROM {name} AS t WHERE {match})"
        ).format(name=name, columns=listed, match=match)
    ).rowcount
    live.execute("DROP TABLE recovered")
    return inserted
