"""See what a query does (EXPLAIN) and how long it takes (repeated timings).

Both take a psycopg connection, so they work as any role and under any store
context, e.g. inside ``labkit.as_store("seattle")``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Plan:
    """An executed plan: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), made readable."""

    raw: dict[str, Any]

    @property
    def root(self) -> dict[str, Any]:
        return self.raw["Plan"]

    @property
    def execution_ms(self) -> float:
        return float(self.raw.get("Execution Time", 0.0))

    @property
    def planning_ms(self) -> float:
        return float(self.raw.get("Planning Time", 0.0))

    def walk(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every node with its depth, parents first."""
        stack = [(0, self.root)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, child) for child in reversed(node.get("Plans", [])))

    @property
    def nodes(self) -> pd.DataFrame:
        """One row per plan node: what it did, on what, how many rows, how long."""
        rows = [
            {
                "depth": depth,
                "node": node["Node Type"],
                "relation": node.get("Relation Name"),
                "index": node.get("Index Name"),
                "rows": node.get("Actual Rows"),
                "loops": node.get("Actual Loops"),
                "total_ms": node.get("Actual Total Time"),
                "shared_hit": node.get("Shared Hit Blocks"),
                "shared_read": node.get("Shared Read Blocks"),
            }
            for depth, node in self.walk()
        ]
        return pd.DataFrame(rows)

    def uses_index(self, name: str | None = None) -> bool:
        """Whether an index (or the named one) is scanned anywhere in the plan."""
        return any(
            "Index" in node["Node Type"] and (name is None or node.get("Index Name") == name)
            for _, node in self.walk()
        )

    @property
    def text(self) -> str:
        lines = []
        for depth, node in self.walk():
            target = " on " + node["Relation Name"] if node.get("Relation Name") else ""
            index = " using " + node["Index Name"] if node.get("Index Name") else ""
            lines.append(
                f"{'  ' * depth}{node['Node Type']}{target}{index}"
                f"  (rows={node.get('Actual Rows')} loops={node.get('Actual Loops')}"
                f" time={node.get('Actual Total Time')} ms"
                f" hit={node.get('Shared Hit Blocks', 0)} read={node.get('Shared Read Blocks', 0)})"
            )
        lines.append(f"Planning {self.planning_ms:.3f} ms, execution {self.execution_ms:.3f} ms")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def explain(
    conn: psycopg.Connection[Any], query: str | sql.Composable, params: Sequence[Any] | None = None
) -> Plan:
    """Run ``query`` under EXPLAIN (ANALYZE, BUFFERS) and return its plan.

    ANALYZE really executes the statement, so it runs in a transaction (or a
    savepoint) that is always rolled back: explaining an UPDATE changes nothing.
    The statement is composed with ``psycopg.sql``, its values stay bound.
    """
    statement = sql.SQL(query) if isinstance(query, str) else query
    with conn.transaction(force_rollback=True):
        row = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}").format(statement),
            params,
            prepare=False,
        ).fetchone()
    assert row is not None
    return Plan(row[0][0])


@dataclass(frozen=True)
class Timings:
    """Wall-clock times of repeated runs of one query, in milliseconds."""

    ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_query(
    conn: psycopg.Connection[Any],
    query: str,
    params: Sequence[Any] | None = None,
    *,
    runs: int = 20,
    warmup: int = 2,
) -> Timings:
    """Run ``query`` ``warmup + runs`` times; return the times of the last ``runs``.

    ``prepare=False`` matters: psycopg prepares a statement it has run 5 times
    and reuses that plan, so a later ``SET enable_indexscan = off`` (or a new
    index) would silently not change anything. Unprepared, each run is planned
    afresh under the current settings.
    """
    if runs < 1 or warmup < 0:
        raise ValueError("runs must be at least 1 and warmup at least 0")
    times: list[float] = []
    for attempt in range(warmup + runs):
        started = time.perf_counter()
        conn.execute(query, params, prepare=False).fetchall()
        if attempt >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    return Timings(tuple(times))
