"""Restore a backup into a new database, never half-way.

Every restore goes into a temporary database, ``<name>__restoring``, renamed to
its real name only when pg_restore has finished without an error. So the name
asked for never holds half a restore: a failed or interrupted restore drops the
temporary database, and one killed outright (``kill -9``, a power cut) leaves
only the temporary name, which the next restore to that name drops first.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import contract, db, schema
from ..errors import LabError
from ..schema import set_password  # the same as labkit setup uses
from . import client
from .files import Backup, open_backup

TEMPORARY_SUFFIX = "__restoring"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,49}$")
_RESERVED = {"postgres", "template0", "template1"}
#: pg_try_advisory_lock(key, hashtext(name)): one restore per target name at a time.
_LOCK_KEY = 0x7A617662


@dataclass(frozen=True)
class Restored:
    """A restore that finished: the new database, the backup, the seconds taken."""

    database: str
    backup: Backup
    seconds: float


def restore(
    path: Backup | Path | str, into: str, *, timeout: float | None = None, jobs: int | None = None
) -> Restored:
    """Create database ``into`` and restore the backup at ``path`` into it.

    Refuses a name that exists. On any failure nothing is left behind.
    """
    started = time.perf_counter()
    backup = path if isinstance(path, Backup) else open_backup(path)
    lab = db.ensure_server()
    _check_name(into, lab)
    with maintenance(lab) as conn, locked(conn, into):
        if exists(conn, into):
            raise LabError(
                f"Database {into!r} already exists, and a restore never overwrites one",
                f"Pick a new name (--into {into}_2), or drop it first: "
                f"labkit psql -c 'DROP DATABASE {into}'",
            )
        temporary = restore_temporary(conn, lab, backup, into, timeout=timeout, jobs=jobs)
        try:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(temporary), sql.Identifier(into)
                )
            )
        except BaseException:
            drop(conn, temporary)
            raise
    return Restored(into, backup, time.perf_counter() - started)


def drop_database(name: str) -> bool:
    """Drop a database a restore made (never the live one). True if it existed."""
    lab = db.ensure_server()
    if name == lab.database or name in _RESERVED:
        raise LabError(f"labkit does not drop {name!r}", "Drop restored copies only")
    with maintenance(lab) as conn:
        existed = exists(conn, name)
        drop(conn, name)
    return existed


def restore_temporary(
    conn: psycopg.Connection[Any],
    lab: db.Target,
    backup: Backup,
    name: str,
    *,
    timeout: float | None,
    jobs: int | None = None,
) -> str:
    """pg_restore into ``<name>__restoring``; dropped again on any failure."""
    temporary = name + TEMPORARY_SUFFIX
    drop(conn, temporary)  # left by a restore that was killed outright
    created_roles = _ensure_roles(conn, backup)
    # template0: an empty database; template1 may carry objects the dump also creates.
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(temporary)))
    try:
        _set_passwords(conn, lab, created_roles)
        params = lab.params(dbname=temporary)
        jobs = jobs or min(4, os.cpu_count() or 1)
        result = client.run(
            "pg_restore",
            [
                f"--dbname={client.conninfo(params)}",
                "--exit-on-error",
                f"--jobs={jobs}",
                "--no-password",
                str(backup.path),
            ],
            lab,
            role_params=params,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise LabError(
                f"The restore of {backup.path.name} stopped halfway "
                f"({client.first_error(result.stderr)})",
                "The half-restored database was dropped and nothing else changed; "
                "if the file is damaged, restore another backup (`labkit backups`)",
            )
    except BaseException:
        drop(conn, temporary)
        raise
    return temporary


def _ensure_roles(conn: psycopg.Connection[Any], backup: Backup) -> list[str]:
    """Create the lab's roles if the server lacks them; return the ones created.

    Applies the roles file saved with the backup (the current ``sql/00_roles.sql``
    for a dump without a manifest). It is idempotent: on the server the backup
    came from it changes nothing.
    """
    manifest = backup.manifest or {}
    text = manifest.get("roles_sql") or schema.sql_file("roles").read_text(encoding="utf-8")
    before = _roles(conn)
    try:
        with conn.transaction():
            conn.execute(text.encode())
    except psycopg.Error as error:
        raise LabError(
            f"Creating the lab's roles failed ({error.diag.message_primary})",
            "The administrator needs CREATEROLE; nothing was restored",
        ) from error
    now = _roles(conn)
    missing = sorted(set(manifest.get("roles", [])) - now)
    if missing:
        raise LabError(
            f"The backup refers to roles this server lacks: {', '.join(missing)}",
            "Create them first (CREATE ROLE name), then restore again; nothing was restored",
        )
    return sorted(now - before)


def _set_passwords(conn: psycopg.Connection[Any], lab: db.Target, created: list[str]) -> None:
    """Give roles this restore created the passwords labkit keeps for them (a fresh server)."""
    for role in created:
        if role in contract.LOGIN_ROLES:
            set_password(conn, role, lab.passwords.get_or_create(role))


def _roles(conn: psycopg.Connection[Any]) -> set[str]:
    return {name for (name,) in conn.execute("SELECT rolname::text FROM pg_catalog.pg_roles")}


def _check_name(name: str, lab: db.Target) -> None:
    if name == lab.database:
        raise LabError(
            f"{name!r} is the live lab database",
            "Restore into a new name (--into NAME), or replace it on purpose: "
            "labkit restore PATH --replace-live",
        )
    if not _NAME.match(name) or name in _RESERVED or name.endswith(TEMPORARY_SUFFIX):
        raise LabError(
            f"{name!r} is not a name a restore can use",
            "Use 1 to 50 lower-case letters, digits and underscores, starting with a letter, "
            "e.g. zava_restored",
        )


@contextmanager
def maintenance(lab: db.Target) -> Iterator[psycopg.Connection[Any]]:
    """The administrator on the maintenance database, outside any transaction."""
    with psycopg.connect(**lab.params(dbname="postgres"), autocommit=True) as conn:
        yield conn


@contextmanager
def locked(conn: psycopg.Connection[Any], name: str) -> Iterator[None]:
    """One restore into ``name`` at a time, server-wide (an advisory lock)."""
    row = conn.execute(
        "SELECT pg_catalog.pg_try_advisory_lock(%s, pg_catalog.hashtext(%s))", (_LOCK_KEY, name)
    ).fetchone()
    if not (row and row[0]):
        raise LabError(
            f"Another restore into {name!r} is running", "Wait for it to finish, then try again"
        )
    try:
        yield
    finally:
        conn.execute(
            "SELECT pg_catalog.pg_advisory_unlock(%s, pg_catalog.hashtext(%s))", (_LOCK_KEY, name)
        )


def exists(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether database ``name`` exists."""
    row = conn.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,))
    return row.fetchone() is not None


def drop(conn: psycopg.Connection[Any], name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions."""
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
