"""``labkit backup``: a custom-format dump, its manifest, and retention.

The dump and the manifest describe the same instant: the administrator opens a
repeatable-read transaction, exports its snapshot, fingerprints the database in
it, and pg_dump dumps that very snapshot (``--snapshot``). Writes that land
meanwhile are in neither.

Roles belong to the server, not to a database, so pg_dump leaves them out and a
restore into a fresh server fails on the first ``OWNER TO retail_owner`` or
``GRANT ... TO retail_app``. The manifest therefore carries ``sql/00_roles.sql``
as it was at backup time: the lab's roles, defined idempotently, which a
restore applies first (see ``restoring``), and the names of every role the
database refers to, so a restore can say which ones a server lacks.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from .. import binaries, db, schema
from ..errors import LabError
from . import client, files, fingerprint
from .behaviour import behaviour
from .files import Backup

#: Every role that owns something in the database, is granted something, or
#: is named by a policy (pg_shdepend records exactly these references).
_REFERENCED_ROLES = """
    SELECT DISTINCT r.rolname::text FROM pg_catalog.pg_shdepend AS d
    JOIN pg_catalog.pg_roles AS r ON r.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass
      AND d.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
    ORDER BY 1
"""
LOCK_WAIT = "60s"


def backup(
    path: Path | str | None = None, *, keep: int | None = None, database: str | None = None
) -> Backup:
    """Dump the lab database to ``path`` (a folder, or a ``.dump`` file) with its manifest.

    Then delete all but the newest ``keep`` backups of the database in that
    folder (default: LABKIT_BACKUP_KEEP, else 10; 0 keeps all).
    """
    started = time.perf_counter()
    keep = files.keep() if keep is None else keep
    if keep < 0:
        raise LabError(f"keep={keep} is not a number of backups", "Pass 0 (keep all) or more")
    lab = db.ensure_server()
    database = database or lab.database
    target = _target(lab, path, database)
    pg_dump = binaries.program("pg_dump", lab.settings)
    partial = target.with_name(target.name + ".partial")
    manifest: dict[str, Any] = {"format": 1, "database": database, "file": target.name}
    try:
        with fingerprint.admin_connection(lab, database) as conn:
            server = int(_one(conn, "SHOW server_version_num"))
            manifest["pg_dump_version"] = client.check_version(pg_dump, server)
            manifest["server_version"] = _one(conn, "SHOW server_version")
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = _one(conn, "SELECT pg_catalog.pg_export_snapshot()")
            manifest["created_at"] = datetime.now(UTC).isoformat()
            manifest["roles"] = [role for (role,) in conn.execute(_REFERENCED_ROLES)]
            found = fingerprint.data_and_schema(conn)
            behaviour(lab, database, found, snapshot=snapshot)
            _dump(lab, database, snapshot, partial)
            conn.rollback()
        manifest["roles_sql"] = schema.sql_file("roles").read_text(encoding="utf-8")
        manifest["fingerprint"] = found.to_json()
        manifest["size"] = partial.stat().st_size
        manifest["sha256"] = files.sha256(partial)
        manifest["seconds"] = round(time.perf_counter() - started, 3)
        os.replace(partial, target)
        files.write_manifest(target, manifest)
    except OSError as error:
        # Half a backup is worse than none: it looks like one.
        target.unlink(missing_ok=True)
        target.with_suffix(files.MANIFEST_SUFFIX).unlink(missing_ok=True)
        raise _disk_error(target, error) from error
    finally:
        partial.unlink(missing_ok=True)
    files.prune(target.parent, database, keep)
    return files.open_backup(target, check=False)


def _target(lab: db.Target, path: Path | str | None, database: str) -> Path:
    """The file to write: a new timestamped name in a folder, or the ``.dump`` named."""
    chosen = Path(path).expanduser() if path is not None else files.folder(lab.settings)
    directory = chosen.parent if chosen.suffix == files.SUFFIX else chosen
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LabError(
            f"Cannot create the backup folder {directory} ({error.strerror})",
            "Choose a folder you can write to: labkit backup /path/to/folder",
        ) from error
    if not os.access(directory, os.W_OK):
        raise LabError(
            f"The backup folder {directory} is not writable",
            "Choose a folder you can write to: labkit backup /path/to/folder",
        )
    if chosen.suffix != files.SUFFIX:
        return files.new_path(directory, database, datetime.now(UTC))
    if chosen.exists():
        raise LabError(
            f"{chosen} already exists, and a backup never overwrites another",
            "Give a new file name, or a folder (labkit picks a timestamped name)",
        )
    return chosen


def _dump(lab: db.Target, database: str, snapshot: str, output: Path) -> None:
    params = lab.params(dbname=database)
    result = client.run(
        "pg_dump",
        [
            "--format=custom",
            f"--file={output}",
            f"--snapshot={snapshot}",
            f"--lock-wait-timeout={LOCK_WAIT}",
            f"--dbname={client.conninfo(params)}",
        ],
        lab,
        role_params=params,
    )
    if result.returncode == 0:
        return
    message = client.first_error(result.stderr)
    if "No space left" in message or "could not write" in message:
        raise OSError(errno.ENOSPC, message)
    if "could not obtain lock" in message:
        raise LabError(
            f"pg_dump waited {LOCK_WAIT} for a table another session holds ({message})",
            "Wait for that session (a seed, an index build, a migration) to finish, then back up again",
        )
    raise LabError(
        f"pg_dump failed: {message}", "Nothing was written; fix the cause and run it again"
    )


def _disk_error(target: Path, error: OSError) -> LabError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        free = shutil.disk_usage(target.parent).free if target.parent.exists() else 0
        return LabError(
            f"The disk holding {target.parent} is full ({files.human_size(free)} free): "
            "the backup was not written",
            "Free some space, or write the backup elsewhere: labkit backup /other/folder",
        )
    return LabError(
        f"Cannot write the backup {target} ({error.strerror or error})",
        "Choose a folder you can write to: labkit backup /path/to/folder",
    )


def _one(conn: psycopg.Connection[Any], query: str) -> str:
    row = conn.execute(query).fetchone()
    assert row is not None
    return str(row[0])
