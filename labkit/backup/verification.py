"""Compare two fingerprints and say, check by check, whether a restore lost anything."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import db
from ..errors import LabError
from . import fingerprint
from .behaviour import NO_STORE, SEARCH_RESULTS
from .files import Backup, open_backup
from .fingerprint import Fingerprint

#: The schema facts checked, in the order a report lists them.
SCHEMA_CHECKS = (
    "row security",
    "policies",
    "indexes",
    "functions",
    "triggers",
    "constraints",
    "columns",
    "grants",
    "views",
    "sequences",
    "schemas",
    "extensions",
)
_CAST = re.compile(r'::(?:"[^"]+"|[a-z_][a-z0-9_ ]*?)(?:\[\])?(?=[^a-z0-9_ ]|$)')
_PUNCTUATION = re.compile(r"[()\s]")


@dataclass(frozen=True)
class Check:
    """One comparison: its name, whether it passed, and what it found."""

    name: str
    ok: bool | None  # None: not applicable here
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
        """True when no check failed (checks that do not apply do not fail)."""
        return all(check.ok is not False for check in self.checks)

    def check(self, name: str) -> Check:
        """The check called ``name`` ("tables", "indexes", "store isolation", ...)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; the checks are {[c.name for c in self.checks]}")

    def frame(self) -> pd.DataFrame:
        """One row per check: its result and what it found."""
        marks = {True: "same", False: "DIFFERENT", None: "not applicable"}
        return pd.DataFrame(
            [(c.name, marks[c.ok], c.detail) for c in self.checks],
            columns=["check", "result", "detail"],
        ).set_index("check")

    def _repr_html_(self) -> str:
        verdict = "nothing lost" if self.ok else f"{len(self.differences)} differences"
        title = f"<p><b>{self.target}</b> against <b>{self.source}</b>: {verdict}</p>"
        return title + self.frame()._repr_html_()

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        verdict = "nothing lost" if self.ok else "DIFFERENCES FOUND"
        lines = [f"{self.target} against {self.source}: {verdict}"]
        lines += [
            f"  {'ok  ' if c.ok else '----' if c.ok is None else 'FAIL'} {c.name}: {c.detail}"
            for c in self.checks
        ]
        lines += [f"  - {difference}" for difference in self.differences]
        return "\n".join(lines)


def verify(backup: Backup | str, database: str) -> Verification:
    """Check a restored ``database`` against the fingerprint stored with ``backup``."""
    if not isinstance(backup, Backup):
        backup = open_backup(backup)
    if not backup.manifest:
        raise LabError(
            f"{backup.path.name} has no manifest ({backup.manifest_path.name}), "
            "so there is nothing recorded to verify against",
            "Compare with a live database instead: labkit.backup.compare('zava', DATABASE)",
        )
    source = Fingerprint.from_json(backup.manifest["fingerprint"])
    target = fingerprint.take(db.ensure_server(), database)
    return compare_fingerprints(source, target, f"backup {backup.path.name}", database)


def compare(source_database: str, target_database: str) -> Verification:
    """Compare two databases of the lab's server (say, the live one and a restored copy)."""
    lab = db.ensure_server()
    return compare_fingerprints(
        fingerprint.take(lab, source_database),
        fingerprint.take(lab, target_database),
        source_database,
        target_database,
    )


def compare_fingerprints(
    source: Fingerprint, target: Fingerprint, source_name: str, target_name: str
) -> Verification:
    """Every check, in report order: tables, schema facts, isolation, search."""
    result = Verification(source_name, target_name)
    _tables(source, target, result)
    for kind in SCHEMA_CHECKS:
        _facts(kind, source.schema.get(kind, []), target.schema.get(kind, []), result)
    _isolation(source, target, result)
    _search(source, target, result)
    return result


def _tables(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    rows: list[dict[str, Any]] = []
    for name in sorted(source.tables.keys() | target.tables.keys()):
        before, after = source.tables.get(name), target.tables.get(name)
        same = before == after
        rows.append(
            {
                "table": name,
                result.source: before[0] if before else None,
                result.target: after[0] if after else None,
                "same content": same,
            }
        )
        if before is None or after is None:
            where = result.target if after is None else result.source
            result.differences.append(f"{name}: missing in {where}")
        elif not same:
            change = (
                f"{before[0]:,} rows in {result.source}, {after[0]:,} in {result.target}"
                if before[0] != after[0]
                else f"same {before[0]:,} rows, different content"
            )
            result.differences.append(f"{name}: {change}")
    result.tables = pd.DataFrame(rows).set_index("table") if rows else pd.DataFrame()
    total = sum(entry[0] for entry in target.tables.values())
    ok = source.tables == target.tables
    detail = f"{len(target.tables)} tables, {total:,} rows" + (
        ", every checksum equal" if ok else ""
    )
    result.checks.append(Check("tables", ok, detail))


def loose(fact: str) -> str:
    """``fact`` without casts, parentheses and spaces.

    PostgreSQL prints some expressions differently once a dump has re-read them:
    ``x IN ('a', 'b')`` on a varchar column is stored as
    ``(x)::text = ANY ((ARRAY['a'::character varying, ...])::text[])`` and comes
    back as ``... ANY (ARRAY[('a'::character varying)::text, ...])``. Same
    constraint, other text; compared loosely, they match.
    """
    return _PUNCTUATION.sub("", _CAST.sub("", fact))


def _facts(kind: str, source: list[str], target: list[str], result: Verification) -> None:
    missing = sorted(set(source) - set(target))
    extra = sorted(set(target) - set(source))
    reprinted = {loose(fact) for fact in missing} & {loose(fact) for fact in extra}
    missing = [fact for fact in missing if loose(fact) not in reprinted]
    extra = [fact for fact in extra if loose(fact) not in reprinted]
    result.differences += [f"{kind}: missing in {result.target}: {fact}" for fact in missing]
    result.differences += [f"{kind}: only in {result.target}: {fact}" for fact in extra]
    detail = f"{len(target)}"
    if kind == "indexes":
        hnsw = sum(" USING hnsw " in fact for fact in target)
        detail += f" (hnsw: {hnsw})"
    elif kind == "row security":
        forced = sum("forced=true" in fact for fact in target)
        detail = f"{len(target)} tables, {forced} forced"
    if reprinted:
        detail += f" ({len(reprinted)} printed differently after the restore, same meaning)"
    if missing or extra:
        detail += f"; {len(missing)} missing, {len(extra)} extra"
    result.checks.append(Check(kind, not missing and not extra, detail))


def _isolation(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    """Row-level security still isolates the stores in the target.

    mcp_user must see no row of another store, and none with no store at all;
    and, in every table whose data is the same on both sides, as many rows per
    store as in the source (a lost policy or grant shows up here).
    """
    if target.isolation is None:
        why = target.notes.get("isolation", "not checked")
        failed = source.isolation is not None
        result.checks.append(Check("store isolation", False if failed else None, why))
        if failed:
            result.differences.append(f"store isolation: not checked in {result.target} ({why})")
        return
    problems = []
    if target.leaks:
        problems.append(f"mcp_user saw {target.leaks:,} rows of another store, or with no store")
    for table, seen in target.isolation.items():
        before = (source.isolation or {}).get(table)
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


def _search(source: Fingerprint, target: Fingerprint, result: Verification) -> None:
    """The same top results per store, for stores that have results on either side."""
    if source.search is None and target.search is None:
        why = target.notes.get("search") or source.notes.get("search", "")
        result.checks.append(Check("vector search", None, f"not applicable: {why}"))
        return
    before, after = source.search or {}, target.search or {}
    differ = sorted(
        store for store in before.keys() | after.keys() if before.get(store) != after.get(store)
    )
    for store in differ:
        result.differences.append(
            f"vector search: {store}: top results differ "
            f"({len(before.get(store, []))} in {result.source}, {len(after.get(store, []))} in {result.target})"
        )
    detail = (
        f"same top {SEARCH_RESULTS} for {len(after)} stores"
        if not differ
        else f"top results differ for {', '.join(differ)}"
    )
    result.checks.append(Check("vector search", not differ, detail))
