"""What a restore must reproduce, and the comparison that says whether it did.

A *fingerprint* (stored in each backup's manifest) holds per table its rows and an
MD5 of them, the schema's facts, the rows ``mcp_user`` sees per store (and any
leak), and each store's top search results. ``compare`` checks two fingerprints
fact by fact; a check that could not run is *not checked*, and the verdict is
"nothing lost" only when every check ran and found no difference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from .. import catalog, contract, db
from ..errors import LabError

#: For the administrator: row_security=off makes a role that is held to
#: row-level security fail loudly instead of silently counting fewer rows.
ADMIN_OPTIONS = catalog.CANONICAL + " -c row_security=off -c work_mem=64MB"
NO_STORE = "(no store)"
SEARCH_RESULTS = 10
#: The schema facts checked, in the order a report lists them.
SCHEMA_CHECKS = ("row security", "policies", "indexes", "functions", "triggers", "constraints")
SCHEMA_CHECKS += ("columns", "grants", "views", "sequences", "schemas", "extensions")
# Tables under row-level security that the connected role may read, and
# whether each has a store_id column.
_RLS_TABLES = (
    catalog.USER_OBJECTS
    + """
SELECT ns.nspname, c.relname,
       EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
               WHERE a.attrelid = c.oid AND a.attname = 'store_id' AND NOT a.attisdropped)
FROM rel AS c JOIN ns ON ns.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2
"""
)
_READY = (
    "SELECT to_regclass('retail.stores') IS NOT NULL"
    " AND to_regprocedure('retail.set_store_context(varchar)') IS NOT NULL"
)
_STORES = "SELECT store_id FROM retail.stores WHERE is_active ORDER BY store_id"
# The store's first embedding (by product) of the model most embeddings use, searched
# with the lab's function (its named arguments), every result above -1 similarity.
_SEARCH = """
SELECT r.product_id::text, round(r.similarity_score::numeric, 6)::text
FROM (SELECT e.embedding, e.embedding_model FROM retail.product_embeddings AS e
      WHERE e.embedding_model = (SELECT m.embedding_model FROM retail.product_embeddings AS m
                                 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
      ORDER BY e.product_id, e.embedding_id LIMIT 1) AS probe,
LATERAL retail.search_products_by_similarity(
    search_embedding => probe.embedding, similarity_threshold => -1,
    max_results => %s, embedding_model => probe.embedding_model) AS r
"""
_CAST = re.compile(r'::(?:"[^"]+"|[a-z_][a-z0-9_ ]*?)(?:\[\])?(?=[^a-z0-9_ ]|$)')
_PUNCTUATION = re.compile(r"[()\s]")


@dataclass
class Fingerprint:
    """What a database holds, as JSON-ready data."""

    #: "schema.table" -> [rows, md5 of the rows in key order (None when empty)]
    tables: dict[str, list[Any]]
    #: kind ("indexes", "policies", ...) -> sorted facts
    schema: dict[str, list[str]]
    #: "schema.table" -> store (or NO_STORE) -> rows mcp_user sees; None: not checked
    isolation: dict[str, dict[str, int]] | None = None
    #: rows mcp_user saw of another store, or with no store at all (must be 0)
    leaks: int = 0
    #: store -> top results, "product_id score" (stores without any left out); None: not checked
    search: dict[str, list[str]] | None = None
    #: why isolation or search was not checked
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(**data)


def admin_connection(lab: db.Target, database: str) -> psycopg.Connection[Any]:
    """The administrator on ``database``, with settings that print values canonically."""
    return psycopg.connect(**lab.params(dbname=database), options=ADMIN_OPTIONS, autocommit=True)


@contextmanager
def exported(lab: db.Target, database: str) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """The administrator in a read-only snapshot of ``database`` that it exported, for
    pg_dump and mcp_user's checks to import."""
    with admin_connection(lab, database) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn, str(db.scalar(conn, "SELECT pg_catalog.pg_export_snapshot()"))
        conn.execute("ROLLBACK")


def take(lab: db.Target, database: str) -> Fingerprint:
    """The fingerprint of ``database`` as it is now."""
    with exported(lab, database) as (conn, snapshot):
        return take_in_snapshot(conn, lab, database, snapshot)


def take_in_snapshot(
    conn: psycopg.Connection[Any], lab: db.Target, database: str, snapshot: str
) -> Fingerprint:
    """The fingerprint on ``conn``, in the transaction ``exported`` opened."""
    try:
        tables = catalog.table_checksums(conn)
        tables.pop(contract.CONTEXT_KEY_TABLE, None)  # a secret, not part of the data
    except psycopg.errors.InsufficientPrivilege as error:
        raise LabError(
            f"The administrator cannot read every row ({error.diag.message_primary})",
            "Backups need a role that bypasses row-level security: a superuser, or one "
            "with BYPASSRLS (on a managed server, ask for it or use the server's own backups)",
        ) from error
    found = Fingerprint(tables=tables, schema=catalog.schema_facts(conn))
    _behaviour(lab, database, found, snapshot)
    return found


def _behaviour(lab: db.Target, database: str, into: Fingerprint, snapshot: str) -> None:
    """Isolation and search as mcp_user, in ``snapshot``: with no store, then as each
    store. Rolled back at the end (``set_store_context`` writes audit rows)."""
    try:
        params = lab.params(contract.APP_ROLE, dbname=database)
        conn = psycopg.connect(**params, options=catalog.CANONICAL, autocommit=True)
    except (LabError, psycopg.OperationalError) as error:
        why = error.what if isinstance(error, LabError) else str(error).strip().splitlines()[-1]
        into.notes["isolation"] = into.notes["search"] = f"{contract.APP_ROLE} cannot log in: {why}"
        return
    with conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        if db.scalar(conn, _READY):
            stores = [store for (store,) in conn.execute(_STORES)]
            tables = conn.execute(_RLS_TABLES, {"schemas": None}).fetchall()
            into.isolation, into.search, errors = {f"{s}.{t}": {} for s, t, _ in tables}, {}, []
            conn.execute("SELECT pg_catalog.set_config(%s, '', true)", (contract.STORE_SETTING,))
            for store in [NO_STORE, *stores]:
                if store != NO_STORE:
                    conn.execute("SELECT retail.set_store_context(%s)", (store,))
                for schema_name, table, has_store in tables:
                    foreign = "count(*) FILTER (WHERE store_id IS DISTINCT FROM %s)"
                    query = sql.SQL("SELECT count(*), {} FROM {}").format(
                        sql.SQL(foreign if has_store else "0"), sql.Identifier(schema_name, table)
                    )
                    seen, other = conn.execute(query, [store] if has_store else None).fetchone()
                    into.isolation[f"{schema_name}.{table}"][store] = seen
                    # With no store, every visible row is a leak; with one, another store's.
                    into.leaks += seen if store == NO_STORE else other
                if store != NO_STORE:
                    _search(conn, store, into.search, errors)
            if errors:
                into.search = None
                into.notes["search"] = f"the search failed ({'; '.join(errors)})"
        else:
            into.notes["isolation"] = into.notes["search"] = (
                "there is no retail.stores or retail.set_store_context to act for a store"
            )
        conn.execute("ROLLBACK")


def _search(
    conn: psycopg.Connection[Any], store: str, results: dict[str, list[str]], errors: list[str]
) -> None:
    """The store's top results for its first embedding of the most used model."""
    try:
        with conn.transaction():  # a savepoint: an error must not end the transaction
            rows = conn.execute(_SEARCH, [SEARCH_RESULTS]).fetchall()
    except psycopg.Error as error:
        errors.append(f"{store}: {error.diag.message_primary or error}")
        return
    # Best first; equal scores by product, so ties cannot reorder two copies.
    rows.sort(key=lambda row: (-float(row[1]), row[0]))
    if rows:
        results[store] = [f"{product} {score}" for product, score in rows]


@dataclass(frozen=True)
class Check:
    """One comparison: its name, its result, and what it found."""

    name: str
    ok: bool | None  # None: not checked (it could not run), with the reason in detail
    detail: str


@dataclass(repr=False)
class Verification:
    """The outcome of comparing a restored copy with its source, check by check."""

    source: str
    target: str
    checks: list[Check] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    tables: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        """Every check ran and found no difference: nothing lost."""
        return bool(self.checks) and all(check.ok is True for check in self.checks)

    @property
    def not_checked(self) -> list[str]:
        return [check.name for check in self.checks if check.ok is None]

    def check(self, name: str) -> Check:
        """The check called ``name`` ("tables", "indexes", "store isolation", ...)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; the checks are {[c.name for c in self.checks]}")

    @property
    def verdict(self) -> str:
        if any(check.ok is False for check in self.checks):
            return f"DIFFERENCES FOUND ({len(self.differences)})"
        if not self.ok:
            return f"NOT VERIFIED: not checked: {', '.join(self.not_checked)}"
        return "nothing lost"

    def frame(self) -> pd.DataFrame:
        marks = {True: "same", False: "DIFFERENT", None: "not checked"}
        return pd.DataFrame(
            [(c.name, marks[c.ok], c.detail) for c in self.checks],
            columns=["check", "result", "detail"],
        ).set_index("check")

    def _repr_html_(self) -> str:
        title = f"<p><b>{self.target}</b> against <b>{self.source}</b>: {self.verdict}</p>"
        return title + self.frame()._repr_html_()

    def __str__(self) -> str:
        marks = {True: "ok  ", False: "FAIL", None: "----"}
        lines = [f"{self.target} against {self.source}: {self.verdict}"]
        lines += [f"  {marks[c.ok]} {c.name}: {c.detail}" for c in self.checks]
        lines += [f"  - {difference}" for difference in self.differences]
        return "\n".join(lines)

    __repr__ = __str__


def compare(
    source: Fingerprint | str,
    target: Fingerprint | str,
    source_name: str | None = None,
    target_name: str | None = None,
) -> Verification:
    """Every check, in report order, of two fingerprints or databases of the lab's
    server (say, the live one and a restored copy; fingerprinted now)."""
    names = (source_name or str(source), target_name or str(target))
    if isinstance(source, str) or isinstance(target, str):
        lab = db.ensure_server()
        source = take(lab, source) if isinstance(source, str) else source
        target = take(lab, target) if isinstance(target, str) else target
    result = Verification(*names)
    _compare_tables(source, target, result)
    for kind in SCHEMA_CHECKS:
        _compare_facts(kind, source.schema.get(kind, []), target.schema.get(kind, []), result)
    _compare_isolation(source, target, result)
    _compare_search(source, target, result)
    return result


def _compare_tables(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    rows: list[dict[str, Any]] = []
    for name in sorted(source.tables.keys() | target.tables.keys()):
        before, after = source.tables.get(name), target.tables.get(name)
        counts = {
            side: entry and entry[0]
            for side, entry in ((result.source, before), (result.target, after))
        }
        rows.append({"table": name, **counts, "same content": before == after})
        if before is None or after is None:
            where = result.target if after is None else result.source
            result.differences.append(f"{name}: missing in {where}")
        elif before != after:
            change = (
                f"{before[0]:,} rows in {result.source}, {after[0]:,} in {result.target}"
                if before[0] != after[0]
                else f"same {before[0]:,} rows, different content"
            )
            result.differences.append(f"{name}: {change}")
    result.tables = pd.DataFrame(rows).set_index("table") if rows else pd.DataFrame()
    total = sum(entry[0] for entry in target.tables.values())
    same = source.tables == target.tables
    detail = f"{len(target.tables)} tables, {total:,} rows" + (", every checksum equal" * same)
    result.checks.append(Check("tables", same, detail))


def loose(fact: str) -> str:
    """``fact`` without casts, parentheses and spaces: PostgreSQL prints some
    expressions differently once a dump has re-read them (``x IN ('a', 'b')`` on a
    varchar column, its casts moved), same meaning, other text."""
    return _PUNCTUATION.sub("", _CAST.sub("", fact))


def _compare_facts(kind: str, source: list[str], target: list[str], result: Verification) -> None:
    missing = sorted(set(source) - set(target))
    extra = sorted(set(target) - set(source))
    reprinted = {loose(fact) for fact in missing} & {loose(fact) for fact in extra}
    missing = [fact for fact in missing if loose(fact) not in reprinted]
    extra = [fact for fact in extra if loose(fact) not in reprinted]
    result.differences += [f"{kind}: missing in {result.target}: {fact}" for fact in missing]
    result.differences += [f"{kind}: only in {result.target}: {fact}" for fact in extra]
    detail = f"{len(target)}"
    if kind == "indexes":
        detail += f" (hnsw: {sum(' USING hnsw ' in fact for fact in target)})"
    elif kind == "row security":
        detail = f"{len(target)} tables, {sum('forced=true' in f for f in target)} forced"
    if reprinted:
        detail += f" ({len(reprinted)} printed differently after the restore, same meaning)"
    if missing or extra:
        detail += f"; {len(missing)} missing, {len(extra)} extra"
    result.checks.append(Check(kind, not missing and not extra, detail))


def _not_checked(name: str, source: Fingerprint, target: Fingerprint, key: str) -> Check:
    """A check one side could not run: say which, and why."""
    reasons = [
        f"{side}: {fingerprint.notes.get(key, 'not recorded')}"
        for side, fingerprint in (("source", source), ("target", target))
        if getattr(fingerprint, key) is None
    ]
    return Check(name, None, "not checked; " + "; ".join(reasons))


def _compare_isolation(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    """mcp_user sees no row of another store or of none, and, in every table whose
    data is the same on both sides, as many rows per store as in the source."""
    if source.isolation is None or target.isolation is None:
        result.checks.append(_not_checked("store isolation", source, target, "isolation"))
        return
    problems = []
    if target.leaks:
        problems.append(f"mcp_user saw {target.leaks:,} rows of another store, or with no store")
    for table, seen in target.isolation.items():
        before = source.isolation.get(table)
        if before is None or source.tables.get(table) != target.tables.get(table):
            continue  # new, or its data differs (reported under "tables")
        for store in sorted(before.keys() & seen.keys()):
            if before[store] != seen[store]:
                problems.append(
                    f"{table}: {store} sees {seen[store]:,} rows, {before[store]:,} before"
                )
    result.differences += [f"store isolation: {problem}" for problem in problems]
    stores = {store for seen in target.isolation.values() for store in seen} - {NO_STORE}
    detail = (
        f"mcp_user sees only its store's rows ({len(target.isolation)} tables, "
        f"{len(stores)} stores) and none without a store"
        if not problems
        else f"{len(problems)} problems"
    )
    result.checks.append(Check("store isolation", not problems, detail))


def _compare_search(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    """The same top results per store, for stores that have results on either side."""
    if source.search is None or target.search is None:
        result.checks.append(_not_checked("vector search", source, target, "search"))
        return
    before, after = source.search, target.search
    differ = sorted(s for s in before.keys() | after.keys() if before.get(s) != after.get(s))
    for store in differ:
        result.differences.append(
            f"vector search: {store}: top results differ ({len(before.get(store, []))} in "
            f"{result.source}, {len(after.get(store, []))} in {result.target})"
        )
    detail = (
        f"same top {SEARCH_RESULTS} for {len(after)} stores"
        + (" (no store has embeddings to search with)" if not after else "")
        if not differ
        else f"top results differ for {', '.join(differ)}"
    )
    result.checks.append(Check("vector search", not differ, detail))
