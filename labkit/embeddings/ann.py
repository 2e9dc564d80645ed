"""Approximate nearest-neighbour search, measured: recall and latency on a scratch table.

An index like HNSW or IVFFlat answers "the k nearest vectors" without comparing
the query with every row, and sometimes misses a true neighbour. Recall@k says
how often it does not: the share of the exact top k that the index returns.

``Scratch`` loads synthetic vectors (``synthetic.catalog``) into a table that
never outlives it: the table, its indexes and every setting live in one
transaction on the administrator's connection, which ``close()`` rolls back
(as does a kernel restart, which closes the connection). Nothing is committed,
so no DDL exists outside ``sql/``.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from .. import contract, db
from . import synthetic
from .base import Vectors, to_text

_NEAREST = "SELECT id FROM {} {} ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s"


def recall(truth: Sequence[Sequence[Any]], found: Sequence[Sequence[Any]]) -> float:
    """Mean share of each exact result list that the approximate one contains."""
    shares = [len(set(t) & set(f)) / len(t) for t, f in zip(truth, found, strict=True) if len(t)]
    return float(np.mean(shares)) if shares else 1.0


class Scratch:
    """``n`` synthetic product vectors spread over ``stores`` stores, and ``m`` queries."""

    def __init__(self, n: int = 4000, *, stores: int = 100, m: int = 50, seed: int = 0) -> None:
        data = synthetic.catalog(n, seed=seed)
        self.queries = synthetic.queries(data, m, seed=seed + 1)
        rng = np.random.default_rng(seed + 2)
        self.store = rng.integers(0, stores, size=n)
        self.query_store = rng.integers(0, stores, size=m)
        # A schema of its own: a second Scratch (a cell run again before close())
        # must not wait for the first one's uncommitted schema of the same name.
        self.schema = f"ann_scratch_{uuid.uuid4().hex[:8]}"
        self.table = sql.Identifier(self.schema, "items")
        self.conn = db.connect()  # the administrator; one transaction from here on
        # No server-side prepared statements: a plan cached under one setting
        # would be reused after the setting changed, and measure the wrong thing.
        self.conn.prepare_threshold = None
        register_vector(self.conn)
        self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id integer PRIMARY KEY, store integer NOT NULL, embedding vector({}) NOT NULL)"
            ).format(self.table, sql.Literal(data.vectors.shape[1]))
        )
        with self.conn.cursor().copy(
            sql.SQL("COPY {} (id, store, embedding) FROM STDIN WITH (FORMAT BINARY)").format(
                self.table
            )
        ) as copy:
            copy.set_types(["int4", "int4", "vector"])
            for row, vector in enumerate(data.vectors):
                copy.write_row((row, int(self.store[row]), vector))
        self.conn.execute(sql.SQL("ANALYZE {}").format(self.table))

    def set(self, name: str, value: object) -> None:
        """A setting for the rest of the scratch transaction."""
        self.conn.execute("SELECT set_config(%s, %s, true)", (name, str(value)))

    def nearest(self, k: int = 10, *, filtered: bool = False) -> tuple[list[list[int]], float]:
        """Each query's k nearest ids (of its own store if ``filtered``), and the
        median milliseconds per query, with whatever plan the settings give."""
        where = sql.SQL("WHERE store = %(store)s" if filtered else "")
        query = sql.SQL(_NEAREST).format(self.table, where)
        found, times = [], []
        for vector, store in zip(self.queries, self.query_store, strict=True):
            started = time.perf_counter()
            rows = self.conn.execute(query, {"q": vector, "k": k, "store": int(store)}).fetchall()
            times.append(time.perf_counter() - started)
            found.append([row[0] for row in rows])
        return found, 1000 * statistics.median(times)

    def exact(self, k: int = 10, *, filtered: bool = False) -> tuple[list[list[int]], float]:
        """The true k nearest, by comparing every row: no index."""
        self.set("enable_indexscan", "off")
        try:
            return self.nearest(k, filtered=filtered)
        finally:
            self.set("enable_indexscan", "on")

    def build(self, method: str, **options: int) -> float:
        """Drop any index, build one (``hnsw`` or ``ivfflat``), return its seconds."""
        self.drop_index()
        with_ = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(key), sql.Literal(value))
            for key, value in options.items()
        )
        statement = sql.SQL(
            "CREATE INDEX items_idx ON {} USING {} (embedding vector_cosine_ops)"
        ).format(self.table, sql.Identifier(method)) + (
            sql.SQL(" WITH ({})").format(with_) if options else sql.SQL("")
        )
        started = time.perf_counter()
        self.conn.execute(statement)
        return time.perf_counter() - started

    def drop_index(self) -> None:
        self.conn.execute(
            sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(self.schema, "items_idx"))
        )

    def sweep(
        self, setting: str, values: Sequence[int], truth: list[list[int]], k: int = 10
    ) -> pd.DataFrame:
        """Recall@k and median latency for each value of ``setting`` (e.g. hnsw.ef_search)."""
        rows = []
        for value in values:
            self.set(setting, value)
            found, ms = self.nearest(k)
            rows.append(
                {setting: value, "recall": round(recall(truth, found), 3), "ms": round(ms, 3)}
            )
        return pd.DataFrame(rows)

    def close(self) -> None:
        """Roll everything back: the table, its indexes, the settings."""
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_lines(
    conn: psycopg.Connection[Any], query: sql.Composable | str, params: Any = None
) -> list[str]:
    """EXPLAIN (COSTS OFF) of ``query``, one line per plan node."""
    explain = sql.SQL("EXPLAIN (COSTS OFF) ") + (
        sql.SQL(query) if isinstance(query, str) else query
    )
    return [row[0] for row in conn.execute(explain, params)]


def function_plan(
    vector: Vectors, store: str, *, k: int = 10, settings: dict[str, str] | None = None
) -> list[str]:
    """The plan of the query inside ``retail.search_products_by_similarity``, run as
    ``mcp_user`` for ``store``. EXPLAIN stops at the function call; auto_explain
    logs the plans of statements inside functions too, here as notices to this
    client. Loading it needs the administrator to be a superuser (the embedded
    server's is). ``settings`` apply to the search's transaction."""
    plans: list[str] = []
    with db.connect(autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        for name, value in _AUTO_EXPLAIN.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(contract.APP_ROLE)))
            conn.execute("SELECT retail.set_store_context(%s)", (store,))
            for name, value in (settings or {}).items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            conn.execute(
                "SELECT * FROM retail.search_products_by_similarity(%s::vector, NULL, %s)",
                (to_text(vector), k),
            )
    inner = next(plan for plan in plans if "FROM retail.product_embeddings" in plan)
    lines = inner.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(("Sort", "Incremental", "Limit", "Subquery"))
    )
    return lines[start:]


_AUTO_EXPLAIN = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_level": "notice",
    "auto_explain.log_parameter_max_length": "0",
}
