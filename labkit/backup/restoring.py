"""Restore a backup into a new database, verify it, put it in place of the live
one, or copy lost rows back from it.

Every restore goes into ``<name>__restoring``, renamed only once pg_restore has
finished: the name asked for never holds half a restore. A failed restore drops
the temporary database; one killed outright leaves it for the next to drop.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import binaries, contract, db, provider, schema, tenancy
from ..bulk import bulk_load
from ..errors import LabError
from . import fingerprint as verification
from .archive import Backup, open_backup, toc

TEMPORARY_SUFFIX = "__restoring"
_SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA |ACL - SCHEMA )")
#: Row-level security goes on last, and the event triggers (a DDL guard) after it.
_SECURITY_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:ROW SECURITY|POLICY|EVENT TRIGGER) ")
#: Entries that create or comment an extension: the restore creates the extensions
#: itself, first (a managed admin may create allow-listed ones but comment on none
#: it does not own), and skips these.
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(?P<name>\S+)")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,49}$")
_RESERVED = {"postgres", "template0", "template1"}
#: pg_try_advisory_lock(key, hashtext(name)): one restore per target name at a time.
_LOCK_KEY = 0x7A617662
#: (table in retail, WHERE condition on the restored copy, its parameters)
Selection = tuple[str, str, Sequence[Any]]
_COLUMNS = """
    SELECT a.attname::text, coalesce(a.attnum = ANY(i.indkey), false)
    FROM pg_catalog.pg_attribute AS a
    LEFT JOIN pg_catalog.pg_index AS i ON i.indrelid = a.attrelid AND i.indisprimary
    WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
"""


@dataclass(frozen=True)
class Restored:
    """A restore that finished: the new database, the backup, the seconds taken."""

    database: str
    backup: Backup
    seconds: float


@dataclass(frozen=True)
class Replaced:
    """The live database's name, the name the previous one is kept under, the check."""

    database: str
    previous: str
    report: verification.Verification
    seconds: float


def restore(
    path: Backup | Path | str, into: str, *, timeout: float | None = None, jobs: int | None = None
) -> Restored:
    """Create database ``into`` and restore the backup at ``path`` into it.

    Refuses a name that exists. On any failure nothing is left behind.
    """
    started = time.perf_counter()
    backup = open_backup(path)
    lab = db.ensure_server()
    if into == lab.database:
        raise LabError(
            f"{into!r} is the live lab database",
            "Restore into a new name (--into NAME), or replace it on purpose: "
            "labkit restore PATH --replace-live",
        )
    if not _NAME.match(into) or into in _RESERVED or into.endswith(TEMPORARY_SUFFIX):
        raise LabError(
            f"{into!r} is not a name a restore can use",
            "Use 1 to 50 lower-case letters, digits and underscores, starting with a letter, "
            "e.g. zava_restored",
        )
    with db.maintenance(lab) as conn, _locked(conn, into):
        if db.database_exists(conn, into):
            raise LabError(
                f"Database {into!r} already exists, and a restore never overwrites one",
                f"Pick a new name (--into {into}_2), or drop it first: "
                f"labkit psql -c 'DROP DATABASE {into}'",
            )
        with _restoring(conn, lab, backup, into, timeout, jobs) as temporary:
            conn.execute(_sql("ALTER DATABASE {} RENAME TO {}", temporary, into))
    return Restored(into, backup, time.perf_counter() - started)


def verify(backup: Backup | Path | str, database: str) -> verification.Verification:
    """Check a restored ``database`` against the fingerprint stored with ``backup``."""
    backup = open_backup(backup)
    if not backup.manifest:
        raise LabError(
            f"{backup.path.name} has no manifest ({backup.manifest_path.name}), "
            "so there is nothing recorded to verify against",
            "Compare with a live database instead: labkit.backup.compare('zava', DATABASE)",
        )
    source = verification.Fingerprint.from_json(backup.manifest["fingerprint"])
    target = verification.take(db.ensure_server(), database)
    return verification.compare(source, target, f"backup {backup.path.name}", database)


def drop_database(name: str) -> bool:
    """Drop a database a restore made (never the live one). True if it existed."""
    lab = db.ensure_server()
    if name == lab.database or name in _RESERVED:
        raise LabError(f"labkit does not drop {name!r}", "Drop restored copies only")
    with db.maintenance(lab) as conn:
        existed = db.database_exists(conn, name)
        db.drop_database_if_exists(conn, name)
    return existed


def replace_live(
    path: Backup | Path | str, *, confirm: bool = False, timeout: float | None = None
) -> Replaced:
    """Put the backup in place of the live lab database, after verifying it.

    Needs ``confirm=True``. The backup is restored into ``<live>__restoring`` and
    verified; only then are two renames made in one transaction, with every
    session on the live database disconnected. The previous database is kept as
    ``<live>_replaced_<time>``. Nothing changes unless every check passed.
    """
    started = time.perf_counter()
    lab = db.ensure_server()
    live = lab.database
    if not confirm:
        raise LabError(
            f"Replacing the live database {live!r} needs confirmation",
            "Pass confirm=True (labkit restore PATH --replace-live --yes), "
            "or restore into a new database with --into NAME",
        )
    backup = open_backup(path)
    if not backup.manifest:
        raise LabError(
            f"{backup.path.name} has no manifest, so a restore of it cannot be verified "
            "and it does not replace the live database",
            "Restore it into a new database (--into NAME) and check that one yourself",
        )
    previous = f"{live}_replaced_{datetime.now(UTC):%Y%m%d_%H%M%S}"[:63]
    with (
        db.maintenance(lab) as conn,
        _locked(conn, live),
        _restoring(conn, lab, backup, live, timeout) as temporary,
    ):
        report = verify(backup, temporary)
        if not report.ok:
            raise LabError(
                f"The restored copy is not verified: {report.verdict} "
                f"({'; '.join(report.differences[:3])})",
                "The live database was not touched; restore another backup",
            )
        _swap(conn, live, temporary, previous)
    return Replaced(live, previous, report, time.perf_counter() - started)


def copy_back(source_database: str, selections: Sequence[Selection]) -> dict[str, int]:
    """Copy the rows each selection picks in ``source_database`` that the live
    database lacks (by primary key); how many rows each table got back.

    In order (parents before children), in one transaction as ``retail_owner``
    inside ``labkit.bulk.bulk_load`` (FORCE and the per-row audit lifted until the
    commit), one ``RECOVER`` audit row a table; nothing copied if any one fails.
    """
    recovered: dict[str, int] = {}
    with (
        db.connect(dbname=source_database) as source,
        db.connect(contract.OWNER_ROLE) as live,
        bulk_load(live, [table for table, _, _ in selections]),
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
    """COPY the selected rows into a temporary table, then insert those the live table lacks."""
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


@contextmanager
def _restoring(
    conn: psycopg.Connection[Any],
    lab: db.Target,
    backup: Backup,
    name: str,
    timeout: float | None,
    jobs: int | None = None,
) -> Iterator[str]:
    """pg_restore into ``<name>__restoring``, dropped again if it or the block fails."""
    temporary = name + TEMPORARY_SUFFIX
    db.drop_database_if_exists(conn, temporary)  # left by a restore that was killed outright
    created_roles = _ensure_roles(conn, backup)
    # template0: an empty database; template1 may carry objects the dump also creates.
    conn.execute(_sql("CREATE DATABASE {} TEMPLATE template0", temporary))
    try:
        for role in created_roles:  # a fresh server: the passwords labkit keeps for them
            if role in contract.LOGIN_ROLES:
                schema.set_password(conn, role, lab.passwords.get_or_create(role))
        listing = toc(backup.path, lab)
        _create_extensions(lab, temporary, listing)
        jobs = jobs or min(4, os.cpu_count() or 1)
        with tempfile.TemporaryDirectory(prefix="labkit-restore-") as folder:
            # Row-level security goes on last, once every row is loaded and every
            # foreign key checked: a loader that is neither superuser nor BYPASSRLS (a
            # managed admin, which acts as the owner) is refused by FORCEd policies
            # otherwise, and one parallel run may ENABLE them early.
            entries = [line for line in listing if not _EXTENSION_ENTRY.match(line)]
            security = sorted(
                (line for line in entries if _SECURITY_ENTRY.search(line)),
                key=lambda line: " EVENT TRIGGER " in line,
            )
            # Schemas with their grants come first: pg_restore grants privileges in a
            # last pass, but ALTER ... OWNER TO by a non-superuser needs the new owner
            # (retail_audit, in schema retail) to have CREATE on the schema already.
            schemas = [line for line in entries if _SCHEMA_ENTRY.search(line)]
            rest = [line for line in entries if line not in security and line not in schemas]
            first, kept, last = (Path(folder) / f"{n}.list" for n in ("schemas", "rest", "last"))
            for path, lines in ((first, schemas), (kept, rest), (last, security)):
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            target = lab.params(dbname=temporary)
            # The definitions go through psql after loading pgvector's library: the
            # search function SETs hnsw.* parameters, which exist only once the
            # library is loaded; until then only a superuser may name them.
            # psql runs them in one transaction, stopping at the first error.
            psql = ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction"]
            script, schema_script = Path(folder) / "pre-data.sql", Path(folder) / "schemas.sql"
            common = ["--exit-on-error", "--no-password", f"--use-list={kept}"]
            vector = "--command=SELECT '[0]'::vector"
            steps: list[tuple[str, list[str], dict[str, str]]] = [
                ("pg_restore", ["--use-list=" + str(first), f"--file={schema_script}"], {}),
                ("pg_restore", [*common, "--section=pre-data", f"--file={script}"], {}),
                ("psql", [*psql, vector, f"--file={schema_script}", f"--file={script}"], target),
                ("pg_restore", [*common, f"--jobs={jobs}", "--section=data"], target),
                ("pg_restore", [*common, f"--jobs={jobs}", "--section=post-data"], target),
                ("pg_restore", ["--exit-on-error", "--no-password", f"--use-list={last}"], target),
            ]
            failed = (
                f"The restore of {backup.path.name} stopped halfway",
                "The half-restored database was dropped and nothing else changed; "
                "if the file is damaged, restore another backup (`labkit backups`)",
            )
            for program, options, connect in steps:
                archive = [str(backup.path)] if program == "pg_restore" else []
                binaries.run_server_program(
                    program,
                    [*options, *archive],
                    lab.settings,
                    connect=connect,
                    timeout=timeout,
                    as_service=False,
                    failed=failed,
                )
        _secure(lab, temporary)
        yield temporary
    except BaseException:
        db.drop_database_if_exists(conn, temporary)
        raise


def _secure(lab: db.Target, database: str) -> None:
    """What a dump cannot carry: the database's own TEMPORARY grants, which PostgreSQL
    gives PUBLIC in a new database, and a store-context key of its own (backups leave
    the key out). Both from sql/04, as setup applies them."""
    with psycopg.connect(**lab.params(dbname=database)) as conn:
        conn.execute(schema.section("security", "temporary").encode())
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(contract.AUDIT_ROLE)))
        conn.execute(schema.section("security", "context_key").encode())


def _create_extensions(lab: db.Target, database: str, listing: list[str]) -> None:
    """The dump's extensions, made in the new database by labkit (in public, as sql/ does)."""
    names = sorted({m["name"] for line in listing if (m := _EXTENSION_ENTRY.match(line))})
    with psycopg.connect(**lab.params(dbname=database), autocommit=True) as conn:
        create = sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA public")
        for name in names:
            try:
                conn.execute(create.format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege as error:
                message, hint = provider.extensions_error(conn, "The restore", names, error)
                raise LabError(message, hint.replace("labkit setup", "the restore")) from error


def _ensure_roles(conn: psycopg.Connection[Any], backup: Backup) -> list[str]:
    """Apply the roles file saved with the backup (without a manifest: the current
    ``sql/00_roles.sql``); the roles it created."""
    manifest = backup.manifest or {}
    text = manifest.get("roles_sql") or schema.sql_file("roles").read_text(encoding="utf-8")
    roles = "SELECT rolname::text FROM pg_catalog.pg_roles"
    before = {name for (name,) in conn.execute(roles)}
    try:
        with conn.transaction():
            conn.execute(text.encode())
            # A managed admin's SET and INHERIT on the lab's roles, also when the saved
            # file predates that section.
            conn.execute(schema.section("roles", "managed_admin").encode())
    except psycopg.Error as error:
        raise LabError(
            f"Creating the lab's roles failed ({error.diag.message_primary})",
            "The administrator needs CREATEROLE; nothing was restored",
        ) from error
    now = {name for (name,) in conn.execute(roles)}
    missing = sorted(set(manifest.get("roles", [])) - now)
    if missing:
        raise LabError(
            f"The backup refers to roles this server lacks: {', '.join(missing)}",
            "Create them first (CREATE ROLE name), then restore again; nothing was restored",
        )
    return sorted(now - before)


def _swap(conn: psycopg.Connection[Any], live: str, temporary: str, previous: str) -> None:
    """Rename live -> previous and temporary -> live, atomically, with nobody connected."""
    tenancy.close_pools()
    conn.execute(_sql("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false", live))
    try:
        conn.execute(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_catalog.pg_backend_pid()",
            (live,),
        )
        deadline = time.monotonic() + 10
        query = "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = %s"
        while (row := conn.execute(query, (live,)).fetchone()) and row[0] > 0:
            if time.monotonic() > deadline:
                raise LabError(
                    f"Sessions on {live!r} did not end within 10 s",
                    "Nothing was replaced; close them (notebooks, psql) and try again",
                )
            time.sleep(0.05)
        with conn.transaction():
            conn.execute(_sql("ALTER DATABASE {} RENAME TO {}", live, previous))
            conn.execute(_sql("ALTER DATABASE {} RENAME TO {}", temporary, live))
    finally:
        for name in (live, previous):
            if db.database_exists(conn, name):
                conn.execute(_sql("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", name))


def _sql(template: str, *names: str) -> sql.Composed:
    """A statement about databases, their names quoted as identifiers."""
    return sql.SQL(template).format(*map(sql.Identifier, names))


@contextmanager
def _locked(conn: psycopg.Connection[Any], name: str) -> Iterator[None]:
    """One restore into ``name`` at a time, server-wide (an advisory lock)."""
    key = (_LOCK_KEY, name)
    row = conn.execute(
        "SELECT pg_catalog.pg_try_advisory_lock(%s, pg_catalog.hashtext(%s))", key
    ).fetchone()
    if not (row and row[0]):
        raise LabError(
            f"Another restore into {name!r} is running", "Wait for it to finish, then try again"
        )
    try:
        yield
    finally:
        conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s, pg_catalog.hashtext(%s))", key)
