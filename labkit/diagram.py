"""Draw a schema's foreign keys, read from pg_catalog, with matplotlib.

Tables are boxes in rows: tables that reference nothing on top, every other
table one row below the lowest table it references. Arrows point from the
referencing table to the referenced one, labelled with the key's columns.
"""

from __future__ import annotations

from typing import Any

import psycopg
from matplotlib.figure import Figure

from . import contract

Edge = tuple[str, str, str]  # (table, "column, column", referenced table)

_TABLES = """
SELECT c.relname FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1
"""


def foreign_keys(conn: psycopg.Connection[Any], schema: str = contract.SCHEMA) -> list[Edge]:
    """Every foreign key of ``schema`` as (table, its columns, referenced table), sorted."""
    query = """
        SELECT src.relname,
               (SELECT string_agg(a.attname, ', ' ORDER BY k.n)
                FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
                JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
               dst.relname
        FROM pg_catalog.pg_constraint AS c
        JOIN pg_catalog.pg_class AS src ON src.oid = c.conrelid
        JOIN pg_catalog.pg_class AS dst ON dst.oid = c.confrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.connamespace
        WHERE c.contype = 'f' AND n.nspname = %s
        ORDER BY 1, 3, 2
    """
    return [(src, cols, dst) for src, cols, dst in conn.execute(query, (schema,))]


def layout(tables: list[str], edges: list[Edge]) -> dict[str, tuple[float, float]]:
    """Deterministic (x, y) for each table: row = depth below what it references."""
    refs = {t: sorted({dst for src, _, dst in edges if src == t and dst != t}) for t in tables}

    def depth(table: str, seen: frozenset[str] = frozenset()) -> int:
        parents = [p for p in refs[table] if p in refs and p not in seen]
        return 1 + max((depth(p, seen | {table}) for p in parents), default=-1)

    rows: dict[int, list[str]] = {}
    for table in tables:
        rows.setdefault(depth(table), []).append(table)
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(rows):
        if level == 0:  # most referenced in the middle, the others alternating left and right
            ranked = sorted(rows[0], key=lambda t: (-sum(t in refs[s] for s in tables), t))
            order = ranked[1::2][::-1] + ranked[0::2]
        else:  # under the tables they reference
            order = sorted(rows[level], key=lambda t: (_mean(pos, refs[t]), t))
        for i, table in enumerate(order):
            pos[table] = (i - (len(order) - 1) / 2, -float(level))
    return pos


def _mean(pos: dict[str, tuple[float, float]], names: list[str]) -> float:
    xs = [pos[n][0] for n in names if n in pos]
    return sum(xs) / len(xs) if xs else 0.0


def _sign(value: float) -> float:
    return float((value > 0) - (value < 0))


_BOX = {"boxstyle": "round,pad=0.6", "facecolor": "#e8f0fb", "edgecolor": "#2f5d9b"}
_LABEL = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"}
_ARROW = {"arrowstyle": "-|>", "color": "#555555", "mutation_scale": 16}


def draw_foreign_keys(conn: psycopg.Connection[Any], schema: str = contract.SCHEMA) -> Figure:
    """A figure of ``schema``'s tables as boxes and its foreign keys as labelled arrows."""
    tables = [name for (name,) in conn.execute(_TABLES, (schema,))]
    edges = foreign_keys(conn, schema)
    pos = {t: (3.4 * x, 1.6 * y) for t, (x, y) in layout(tables, edges).items()}
    xs, ys = [x for x, _ in pos.values()], [y for _, y in pos.values()]
    left, right, bottom, top = min(xs) - 2.0, max(xs) + 2.0, min(ys) - 0.8, max(ys) + 1.3
    fig = Figure(figsize=(12, 12 * (top - bottom) / (right - left) + 0.5))
    ax = fig.add_subplot(xlim=(left, right), ylim=(bottom, top), aspect="equal")
    ax.set_axis_off()
    ax.set_title(f"Foreign keys in schema {schema}: each arrow points to the table it references")
    # Boxes are drawn before arrows (zorder 3 < 4), so that each arrow is clipped to
    # the outlines of its boxes as placed in the same drawing pass.
    boxes = {
        t: ax.text(x, y, t, ha="center", va="center", fontsize=11, bbox=_BOX, zorder=3)
        for t, (x, y) in pos.items()
    }
    for src, cols, dst in edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        patches: dict[str, Any] = {}
        if src == dst:  # a self-reference: a loop over the box
            (x1, y1), (x2, y2), bend = (x1 + 0.2, y1 + 0.2), (x1 + 0.8, y1 + 0.2), -1.4
        else:  # an arrow that skips a row bows toward the middle, past the boxes
            bend = 0.0 if abs(y1 - y2) < 2 else -0.25 * _sign(x1 + x2) * _sign(y2 - y1)
            patches = {"patchA": boxes[src].get_bbox_patch(), "patchB": boxes[dst].get_bbox_patch()}
        style = {**_ARROW, **patches, "connectionstyle": f"arc3,rad={bend}"}
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1), arrowprops=style, zorder=4)
        # The label sits on the curve: halfway between the chord's middle and arc3's control point.
        mid_x, mid_y = (x1 + x2) / 2, (y1 + y2) / 2
        at = (mid_x + bend * (y2 - y1) / 2, mid_y - bend * (x2 - x1) / 2 + 0.15 * (src == dst))
        ax.text(*at, cols, ha="center", va="center", fontsize=8, bbox=_LABEL, zorder=5)
    fig.tight_layout()
    return fig
