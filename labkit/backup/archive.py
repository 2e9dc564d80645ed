"""``labkit backup``: a custom-format dump (compressed already), the manifest beside
it (size, SHA-256, the roles pg_dump leaves out, the fingerprint of the snapshot
dumped), and retention, in the folder and to the number the settings say
(LABKIT_BACKUP_DIR, LABKIT_BACKUP_KEEP).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import binaries, contract, db, schema
from ..errors import LabError
from ..sizes import human_size
from . import fingerprint

SUFFIX = ".dump"
MANIFEST_SUFFIX = ".json"
LOCK_WAIT = "60s"
_NAME = re.compile(r"^(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?\.dump$")
#: Custom-format archives start with these bytes; gzip files with the other two.
_CUSTOM_MAGIC, _GZIP_MAGIC = b"PGDMP", b"\x1f\x8b"
#: Every role that owns something in the database, is granted something, or
#: is named by a policy (pg_shdepend records exactly these references), except
#: the administrator taking the backup: on a managed server it owns the
#: extensions, and a restore elsewhere is done by that server's own admin.
_REFERENCED_ROLES = """
    SELECT DISTINCT r.rolname::text FROM pg_catalog.pg_shdepend AS d
    JOIN pg_catalog.pg_roles AS r ON r.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass
      AND d.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND r.rolname <> current_user
    ORDER BY 1
"""


@dataclass(frozen=True)
class Backup:
    """One dump file and, when it has one, its manifest."""

    path: Path
    manifest: dict[str, Any] | None = field(default=None, repr=False)
    #: The older backups that retention deleted when this one was made.
    pruned: list[Path] = field(default_factory=list, repr=False)

    @property
    def manifest_path(self) -> Path:  # it may not exist
        return self.path.with_suffix(MANIFEST_SUFFIX)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def created_at(self) -> datetime:
        """When the dump's snapshot was taken (the file's time, without a manifest)."""
        if self.manifest:
            return datetime.fromisoformat(self.manifest["created_at"])
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)

    @property
    def database(self) -> str | None:
        """The database dumped, from the manifest or the file name."""
        if self.manifest:
            return str(self.manifest["database"])
        found = _NAME.match(self.path.name)
        return found["database"] if found else None

    def __str__(self) -> str:
        return (
            f"{self.path.name} ({human_size(self.size)}, {self.created_at:%Y-%m-%d %H:%M:%S} UTC)"
        )


def backup(
    path: Path | str | None = None, *, keep: int | None = None, database: str | None = None
) -> Backup:
    """Dump the lab database to ``path`` (a folder, or a ``.dump`` file) with its manifest,
    then delete all but the newest ``keep`` backups of it there (LABKIT_BACKUP_KEEP)."""
    started = time.perf_counter()
    lab = db.ensure_server()
    keep = lab.settings.backup_keep if keep is None else keep
    if keep < 0:
        raise LabError(f"keep={keep} is not a number of backups", "Pass 0 (keep all) or more")
    database = database or lab.database
    target = _target(lab, path, database)
    partial = target.with_name(target.name + ".partial")
    written = target.with_suffix(MANIFEST_SUFFIX + ".partial")
    manifest: dict[str, Any] = {"format": 1, "database": database, "file": target.name}
    try:
        with fingerprint.exported(lab, database) as (conn, snapshot):
            manifest["created_at"] = datetime.now(UTC).isoformat()
            server = int(db.scalar(conn, "SHOW server_version_num"))
            manifest["pg_dump_version"] = binaries.client_version("pg_dump", lab.settings, server)
            manifest["server_version"] = str(db.scalar(conn, "SHOW server_version"))
            manifest["roles"] = [role for (role,) in conn.execute(_REFERENCED_ROLES)]
            found = fingerprint.take_in_snapshot(conn, lab, database, snapshot)
            _dump(lab, database, snapshot, partial)
        manifest["roles_sql"] = schema.sql_file("roles").read_text(encoding="utf-8")
        manifest["fingerprint"] = found.to_json()
        manifest["size"] = partial.stat().st_size
        manifest["sha256"] = sha256(partial)
        manifest["seconds"] = round(time.perf_counter() - started, 3)
        # Both whole or not at all; a dump without its manifest is still a backup.
        written.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, target)
        os.replace(written, target.with_suffix(MANIFEST_SUFFIX))
    except OSError as error:
        # Half a backup is worse than none: it looks like one.
        target.unlink(missing_ok=True)
        target.with_suffix(MANIFEST_SUFFIX).unlink(missing_ok=True)
        raise _disk_error(target, error) from error
    finally:
        partial.unlink(missing_ok=True)
        written.unlink(missing_ok=True)
    pruned = prune(target.parent, database, keep)
    return dataclasses.replace(open_backup(target, check=False), pruned=pruned)


def _target(lab: db.Target, path: Path | str | None, database: str) -> Path:
    """The file to write: a new timestamped name in a folder, or the ``.dump`` named."""
    chosen = Path(path).expanduser() if path is not None else lab.settings.backup_dir
    directory = chosen.parent if chosen.suffix == SUFFIX else chosen
    hint = "Choose a folder you can write to: labkit backup /path/to/folder"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LabError(
            f"Cannot create the backup folder {directory} ({error.strerror})", hint
        ) from error
    if not os.access(directory, os.W_OK):
        raise LabError(f"The backup folder {directory} is not writable", hint)
    if chosen.suffix == SUFFIX:
        if chosen.exists():
            raise LabError(
                f"{chosen} already exists, and a backup never overwrites another",
                "Give a new file name, or a folder (labkit picks a timestamped name)",
            )
        return chosen
    stem = f"{database}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    target, number = directory / f"{stem}{SUFFIX}", 1
    while target.exists() or target.with_suffix(MANIFEST_SUFFIX).exists():
        number += 1
        target = directory / f"{stem}-{number}{SUFFIX}"
    return target


def _dump(lab: db.Target, database: str, snapshot: str, output: Path) -> None:
    options = [f"--file={output}", f"--snapshot={snapshot}", f"--lock-wait-timeout={LOCK_WAIT}"]
    options.append(f"--exclude-table-data={contract.CONTEXT_KEY_TABLE}")
    result = binaries.run_server_program(
        "pg_dump",
        ["--format=custom", *options],
        lab.settings,
        connect=lab.params(dbname=database),
        timeout=None,
        as_service=False,
    )
    if result.returncode == 0:
        return
    message = binaries.first_error(result.stderr)
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
            f"The disk holding {target.parent} is full ({human_size(free)} free): "
            "the backup was not written",
            "Free some space, or write the backup elsewhere: labkit backup /other/folder",
        )
    return LabError(
        f"Cannot write the backup {target} ({error.strerror or error})",
        "Choose a folder you can write to: labkit backup /path/to/folder",
    )


def sha256(path: Path) -> str:
    """The file's SHA-256, read in blocks (a dump may be larger than memory)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.with_suffix(MANIFEST_SUFFIX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def open_backup(path: Backup | Path | str, *, check: bool = True) -> Backup:
    """A backup file, refused (saying what to do) when missing, gzipped (the lab text's
    trap), no custom-format archive, or of another size or SHA-256 than recorded."""
    if isinstance(path, Backup):
        return path
    path = Path(path).expanduser()
    if not path.is_file():
        where = f" in {path.parent}" if path.parent.is_dir() else ""
        raise LabError(
            f"There is no backup file {path}{where}",
            "List the backups with `labkit backups`, or make one with `labkit backup`",
        )
    with path.open("rb") as file:
        head = file.read(len(_CUSTOM_MAGIC))
    if head.startswith(_GZIP_MAGIC):
        raise LabError(
            f"{path.name} is gzip-compressed, and pg_restore reads only what pg_dump wrote",
            "Custom format is already compressed: gunzip it (or restore the original .dump) "
            "and never gzip a custom-format dump again",
        )
    if head != _CUSTOM_MAGIC:
        raise LabError(
            f"{path.name} is not a pg_dump custom-format archive" + (" (it is empty)" * (not head)),
            "Restore a file made by `labkit backup` (or `pg_dump --format=custom`)",
        )
    found = Backup(path, _read_manifest(path))
    if check and found.manifest is not None:
        recorded, actual = found.manifest["size"], found.size
        if actual != recorded or sha256(path) != found.manifest["sha256"]:
            damage = (
                f"truncated: {human_size(actual)} of {human_size(recorded)}"
                if actual < recorded
                else "damaged: its SHA-256 differs from the one recorded when it was written"
            )
            raise LabError(
                f"{path.name} is {damage}",
                "Nothing was restored; restore an intact copy, or another backup "
                "(`labkit backups` lists them)",
            )
    return found


def toc(path: Path, lab: db.Target | None = None) -> list[str]:
    """The table of contents of a custom-format dump (``pg_restore --list``), one entry a line."""
    failed = (
        f"pg_restore cannot read {path.name}",
        "Restore a pg_dump custom-format file as written",
    )
    settings = (lab or db.target()).settings
    result = binaries.run_server_program(
        "pg_restore", ["--list", str(path)], settings, as_service=False, failed=failed
    )
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def list_backups(directory: Path, database: str | None = None) -> list[Backup]:
    """The backups in ``directory``, newest first (of one database if named)."""
    found = []
    for path in directory.glob(f"*{SUFFIX}") if directory.is_dir() else []:
        if not _NAME.match(path.name):
            continue
        try:
            manifest = _read_manifest(path)
        except (OSError, ValueError):
            manifest = None
        item = Backup(path, manifest)
        if database is None or item.database == database:
            found.append(item)
    return sorted(found, key=lambda b: (b.created_at, b.path.name), reverse=True)


def prune(directory: Path, database: str, keep_newest: int) -> list[Path]:
    """Delete all but the newest ``keep_newest`` backups of ``database``; 0 keeps all."""
    if keep_newest <= 0:
        return []
    removed = []
    for old in list_backups(directory, database)[keep_newest:]:
        old.path.unlink(missing_ok=True)
        old.manifest_path.unlink(missing_ok=True)
        removed.append(old.path)
    return removed
