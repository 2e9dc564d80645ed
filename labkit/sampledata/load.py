"""Writing the sample to the database: one transaction, COPY, as the owner.

Everything happens in one transaction on a ``retail_owner`` connection, inside
``labkit.bulk.bulk_load`` (FORCE ROW LEVEL SECURITY lifted, so the owner may
write every store's rows; the per-row ``audit_changes`` triggers paused; both
put back before commit):

1. ``TRUNCATE`` the sample tables: seeding again replaces the data, never adds
   to it. Stores and categories (reference data) stay, and so do the product
   embeddings whose product came back with the same text: product keys follow
   from the store and SKU (``tables.product_keys``), so a vector made from a
   text that did not change is still that product's vector, and the model, by
   far the slowest part of the lab's set-up, never runs twice for one text.
   Every other embedding is deleted (``_STALE_EMBEDDINGS``).
2. Drop the sample tables' keys (foreign, primary, unique) and their other
   indexes, ``COPY`` every table, then add the same keys and indexes back,
   from their own definitions (``pg_get_constraintdef``, ``pg_get_indexdef``).
   As the PostgreSQL manual advises for bulk loads ("Populating a Database"),
   one sorted index build and one join per foreign key cost far less than
   keeping them up to date row by row: measured at the large scale, the load
   took 30 s with the indexes in place, 22 s without the secondary ones, and
   less again with the keys. A duplicate or a dangling reference is still
   refused, when its key is added back, and rolls the whole load back.
3. Write one ``BULK_LOAD`` row per table to ``retail.audit_log``.
4. ``ANALYZE``, so the planner knows the new row counts at once.

Until it commits, the load's locks keep other sessions out of the sample tables
and (for the keys) out of stores and categories: they wait, and then see the
new data whole.

Auditing, decided: a bulk load is audited per table, not per row. A million
audit rows (each a JSON copy of its row) would double the load and bury the
audit log; the summary row says who replaced what, when, how many rows, with
which scale and seed, which is enough to regenerate it exactly. Inserts made
later by the application, under a store context, are audited row by row by the
triggers as usual.

If anything fails, or the process is interrupted, the transaction rolls back:
the previous data stays as it was, with its keys, triggers and FORCE in place.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, contract
from ..bulk import bulk_load
from . import stream
from .tables import Table

#: The sample data fills exactly the tables whose rows belong to a store, parents first.
SAMPLE_TABLES: tuple[str, ...] = contract.PER_STORE_TABLES
#: Kept across seedings where still valid: never truncated, its indexes (the
#: HNSW graphs above all) never dropped and rebuilt.
KEPT_TABLE = "product_embeddings"
#: What one draw writes, and so what two draws with the same seed must reproduce.
SEEDED_TABLES: tuple[str, ...] = tuple(t for t in SAMPLE_TABLES if t != KEPT_TABLE)
# An embedding stays only if its product exists with the very text it was made
# from (retail.product_embedding_text, sql/05, is the one definition of that text).
_STALE_EMBEDDINGS = """
    DELETE FROM retail.product_embeddings AS e
    WHERE NOT EXISTS (
        SELECT FROM retail.products AS p
        LEFT JOIN retail.product_categories AS c USING (category_id)
        WHERE p.store_id = e.store_id AND p.product_id = e.product_id
          AND e.embedding_text = retail.product_embedding_text(
                  p.product_name, p.product_description, c.category_name,
                  p.metadata ->> 'type', c.description))
"""

# Foreign keys first (they depend on the primary and unique keys), then the rest.
_KEYS = """
    SELECT c.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)
    FROM pg_catalog.pg_constraint AS k
    JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE k.contype IN ('f', 'p', 'u') AND n.nspname = %(schema)s
      AND c.relname = ANY(%(tables)s)
    ORDER BY k.contype = 'f' DESC, c.relname, k.conname
"""


#: ``phase(name)``: a block of the load that ``Phases`` times and announces.
Phase = Callable[[str], AbstractContextManager[None]]
#: Loads of at least this many rows announce each phase (a large seed's keys and
#: indexes take half a minute after the progress bar reaches 100%).
ANNOUNCE_ROWS = 200_000


class Phases:
    """Times each phase of a load; announces it on stderr, as the progress bar is, when asked."""

    def __init__(self, announce: bool = False) -> None:
        self.announce = announce
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> AbstractContextManager[None]:
        return self._phase(name, self.announce)

    def timed(self, name: str) -> AbstractContextManager[None]:
        """A phase timed but not announced (the progress bar shows it)."""
        return self._phase(name, False)

    @contextmanager
    def _phase(self, name: str, announce: bool) -> Iterator[None]:
        if announce:
            print(f"Seeding: {name} ...", end="", file=sys.stderr, flush=True)
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started
        if announce:
            print(f" {self.seconds[name]:.1f} s", file=sys.stderr, flush=True)


def _untimed(name: str) -> AbstractContextManager[None]:
    return nullcontext()


def key_definitions(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the sample tables' keys, foreign keys first."""
    return conn.execute(
        _KEYS, {"schema": contract.SCHEMA, "tables": list(SAMPLE_TABLES)}
    ).fetchall()


def add_key(conn: psycopg.Connection[Any], schema: str, key: tuple[str, str, str]) -> None:
    """Add one of ``key_definitions`` to its table in ``schema``."""
    table, name, definition = key
    # The definition comes from pg_get_constraintdef, not from a user.
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(schema, table), sql.Identifier(name), sql.SQL(definition)
        )
    )


@contextmanager
def keys_checked_at_the_end(
    conn: psycopg.Connection[Any], phase: Phase = _untimed
) -> Iterator[None]:
    """Drop the sample tables' keys (foreign, primary, unique); add them back,
    checking every row, when the block ends without an error."""
    keys = key_definitions(conn)
    for table, name, _ in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(contract.SCHEMA, table), sql.Identifier(name)
            )
        )
    yield
    with phase(f"adding {len(keys)} keys back, checking every row"):
        for key in reversed(keys):  # primary and unique keys first
            add_key(conn, contract.SCHEMA, key)


_SECONDARY_INDEXES = """
    SELECT i.relname, pg_catalog.pg_get_indexdef(i.oid)
    FROM pg_catalog.pg_index AS x
    JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
    JOIN pg_catalog.pg_class AS c ON c.oid = x.indrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k WHERE k.conindid = x.indexrelid)
    ORDER BY i.relname
"""


def index_definitions(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, definition) of the secondary indexes seeding rebuilds (the kept
    table's are left alone)."""
    rebuilt = [table for table in SAMPLE_TABLES if table != KEPT_TABLE]
    return conn.execute(
        _SECONDARY_INDEXES, {"schema": contract.SCHEMA, "tables": rebuilt}
    ).fetchall()


#: Index builds and key checks sort in memory with this much instead of spilling
#: to disk (PostgreSQL's default is 64 MB); parallel workers share it.
BUILD_MEMORY = "256MB"


@contextmanager
def indexes_built_at_the_end(
    conn: psycopg.Connection[Any], phase: Phase = _untimed
) -> Iterator[None]:
    """Drop the sample tables' secondary indexes; build them again, from their
    own definitions, when the block ends without an error."""
    indexes = index_definitions(conn)
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(contract.SCHEMA, name)))
    yield
    with phase(f"building {len(indexes)} indexes"):
        for _, definition in indexes:
            # The definition comes from pg_get_indexdef, not from a user.
            conn.execute(sql.SQL(definition))


def category_ids(conn: psycopg.Connection[Any]) -> list[int]:
    """``category_id`` of each category, in the order of ``contract.CATEGORIES``."""
    rows = dict(
        conn.execute(
            "SELECT category_name, category_id FROM retail.product_categories"
            " WHERE category_name = ANY(%s)",
            (list(contract.CATEGORIES),),
        ).fetchall()
    )
    return [rows[name] for name in contract.CATEGORIES]


def _progress_bar(total: int, quiet: bool) -> Any:
    # Without ipywidgets, tqdm.auto warns once and falls back to a text bar: fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(total=total, unit=" rows", unit_scale=True, desc="Seeding", disable=quiet, delay=2)


def load(
    conn: psycopg.Connection[Any],
    build: Callable[[list[int]], list[Table]],
    about: dict[str, Any],
    *,
    quiet: bool = False,
    phases: Phases | None = None,
) -> dict[str, int]:
    """Replace the sample tables' rows with ``build(category_ids)``'s, in one
    transaction; returns the rows written per table. ``phases`` times each step."""
    written: dict[str, int] = dict.fromkeys(SAMPLE_TABLES, 0)
    phase = phases if phases is not None else Phases()
    with bulk_load(conn, SAMPLE_TABLES):
        conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, public', true)")
        conn.execute(
            "SELECT pg_catalog.set_config('maintenance_work_mem', %s, true)", (BUILD_MEMORY,)
        )
        with phase("drawing the rows"):
            tables = build(category_ids(conn))
        before = {name: _count(conn, name) for name in SAMPLE_TABLES}
        names = sql.SQL(", ").join(sql.Identifier(contract.SCHEMA, t) for t in SAMPLE_TABLES)
        replaced = sql.SQL(", ").join(
            sql.Identifier(contract.SCHEMA, t) for t in SAMPLE_TABLES if t != KEPT_TABLE
        )
        started = time.perf_counter()
        with (
            keys_checked_at_the_end(conn, phase),
            indexes_built_at_the_end(conn, phase),
            _progress_bar(sum(t.rows for t in tables), quiet) as bar,
            phase.timed("copying the rows"),
        ):
            # The foreign keys are gone until the block ends, so the embeddings
            # can outlive their products' rows for a moment, and are checked
            # against the new ones when the keys come back.
            conn.execute(sql.SQL("TRUNCATE {}").format(replaced))
            for table in tables:
                stream.copy_rows(conn, table, bar.update)
                written[table.name] = table.rows
            deleted = conn.execute(_STALE_EMBEDDINGS).rowcount
            written[KEPT_TABLE] = before[KEPT_TABLE] - deleted
        with phase("auditing and analyzing"):
            for name in SAMPLE_TABLES:
                metadata = {**about, "rows": written[name], "rows_before": before[name]}
                metadata["load_seconds"] = round(time.perf_counter() - started, 3)
                # The transaction id ties the rows of one load together, as the
                # audit trigger's rows are.
                conn.execute(
                    "INSERT INTO retail.audit_log (table_name, action, store_id, metadata)"
                    " VALUES (%s, 'BULK_LOAD', NULL,"
                    "         %s::jsonb || jsonb_build_object('transaction', txid_current()))",
                    (name, json.dumps(metadata)),
                )
            conn.execute(sql.SQL("ANALYZE {}").format(names))
    return written


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(contract.SCHEMA, table))
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def fingerprint(
    conn: psycopg.Connection[Any], tables: tuple[str, ...] = SEEDED_TABLES
) -> dict[str, list[Any]]:
    """Per table, its row count and a checksum of all its rows: equal fingerprints
    mean identical rows (``catalog.table_checksums``). Read as a role that sees every row.

    By default the tables a draw writes: embeddings are kept across seedings
    only where their product's text is unchanged, so they are not part of it."""
    return catalog.table_checksums(conn, contract.SCHEMA, tables)
