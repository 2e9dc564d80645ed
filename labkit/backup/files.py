"""Backup files: where they go, their names, the manifest beside each, retention.

A backup is two files with one timestamped name:

* ``zava-20250101T120000Z.dump``: pg_dump's custom format, already compressed
  (never gzip it again: pg_restore reads only the file pg_dump wrote);
* ``zava-20250101T120000Z.json``: the manifest: when, from which server, the
  dump's size and SHA-256, the roles the database needs, and a fingerprint of
  the data and schema taken in the same snapshot as the dump, for verifying a
  restore against the backup itself.

| variable          | meaning                                   | default                         |
|-------------------|-------------------------------------------|---------------------------------|
| LABKIT_BACKUP_DIR | where ``labkit backup`` writes            | ``backups/`` beside the data folder |
| LABKIT_BACKUP_KEEP| how many backups of a database to keep (0: all) | 10                        |
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..settings import Settings

SUFFIX = ".dump"
MANIFEST_SUFFIX = ".json"
DEFAULT_KEEP = 10
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?\.dump$")
#: Custom-format archives start with these bytes; gzip files with the other two.
_CUSTOM_MAGIC = b"PGDMP"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Backup:
    """One dump file and, when it has one, its manifest."""

    path: Path
    manifest: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def manifest_path(self) -> Path:
        """The manifest beside the dump (it may not exist)."""
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


def folder(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    """Where backups go: LABKIT_BACKUP_DIR, else ``backups/`` beside the data folder.

    Beside, not inside: deleting the data folder to start over keeps the backups.
    In a checkout that is the repository's ``backups/``, which git ignores.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("LABKIT_BACKUP_DIR")
    return Path(chosen).expanduser().resolve() if chosen else settings.data_dir.parent / "backups"


def keep(environ: Mapping[str, str] | None = None) -> int:
    """How many backups of one database to keep (LABKIT_BACKUP_KEEP; 0 keeps all)."""
    env = os.environ if environ is None else environ
    raw = env.get("LABKIT_BACKUP_KEEP", "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit():
        raise LabError(
            f"LABKIT_BACKUP_KEEP={raw!r} is not a number of backups",
            f"Set it to a whole number (0 keeps every backup), or unset it to keep {DEFAULT_KEEP}",
        )
    return int(raw)


def new_path(directory: Path, database: str, now: datetime) -> Path:
    """``<database>-<UTC time>.dump`` in ``directory``, numbered if that second is taken."""
    stem = f"{database}-{now.astimezone(UTC).strftime(_STAMP)}"
    path = directory / f"{stem}{SUFFIX}"
    number = 1
    while path.exists() or path.with_suffix(MANIFEST_SUFFIX).exists():
        number += 1
        path = directory / f"{stem}-{number}{SUFFIX}"
    return path


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest beside the dump, whole or not at all."""
    target = path.with_suffix(MANIFEST_SUFFIX)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def open_backup(path: Path | str, *, check: bool = True) -> Backup:
    """A backup file, checked before anything is restored from it.

    Refuses, with what to do: a missing file, a gzipped dump (the lab text's
    trap), a file that is no custom-format archive, and, when the manifest is
    there, a file whose size or SHA-256 differs from the one recorded (truncated
    by a full disk or an interrupted copy, or damaged).
    """
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
            f"{path.name} is not a pg_dump custom-format archive"
            + (" (it is empty)" if not head else ""),
            "Restore a file made by `labkit backup` (or `pg_dump --format=custom`)",
        )
    manifest_path = path.with_suffix(MANIFEST_SUFFIX)
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    )
    backup = Backup(path, manifest)
    if check and manifest is not None:
        recorded, actual = manifest["size"], backup.size
        if actual != recorded or sha256(path) != manifest["sha256"]:
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
    return backup


def list_backups(directory: Path, database: str | None = None) -> list[Backup]:
    """The backups in ``directory``, newest first (of one database if named)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        if not _NAME.match(path.name):
            continue
        manifest_path = path.with_suffix(MANIFEST_SUFFIX)
        manifest = None
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                manifest = None
        backup = Backup(path, manifest)
        if database is None or backup.database == database:
            found.append(backup)
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


def human_size(size: float) -> str:
    """``2.1 MB``: decimal units, as file managers show them."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
