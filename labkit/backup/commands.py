"""The ``labkit backup``, ``backups``, ``restore`` and ``verify`` commands.

Each handler imports the backup code it runs, so that ``labkit --help`` and the
other commands start without loading it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_commands(add: Add) -> None:
    """Register the four commands with ``labkit``'s parser."""
    made = add(
        "backup", _backup, "dump the lab database (custom format) with its roles and a manifest"
    )
    made.add_argument(
        "path",
        nargs="?",
        help="a folder, or a .dump file (default: backups/ beside the data folder)",
    )
    made.add_argument(
        "--keep",
        type=int,
        help="keep the newest N backups (default: LABKIT_BACKUP_KEEP or 10; 0: all)",
    )
    listed = add("backups", _backups, "list the backups, newest first, with size and time")
    listed.add_argument("path", nargs="?", help="the folder (default: as for labkit backup)")
    restored = add("restore", _restore, "restore a backup into a new database, verified")
    restored.add_argument("path", help="the .dump file")
    target = restored.add_mutually_exclusive_group(required=True)
    target.add_argument("--into", metavar="NEW_DB", help="create this database and restore into it")
    target.add_argument(
        "--replace-live", action="store_true", help="put the backup in place of the lab database"
    )
    restored.add_argument("--yes", action="store_true", help="with --replace-live: do not ask")
    checked = add(
        "verify", _verify, "prove a backup restores: into a scratch database, compared, dropped"
    )
    checked.add_argument("path", help="the .dump file")
    checked.add_argument("--against", metavar="DB", help="compare this (restored) database instead")


def _backup(args: argparse.Namespace) -> int:
    from . import files
    from .dump import backup

    made = backup(args.path, keep=args.keep)
    assert made.manifest is not None
    rows = sum(entry[0] for entry in made.manifest["fingerprint"]["tables"].values())
    print(f"Wrote {made.path} ({files.human_size(made.size)}) in {made.manifest['seconds']:.2f} s")
    print(f"Manifest {made.manifest_path.name}: roles, and a fingerprint of {rows:,} rows")
    return 0


def _backups(args: argparse.Namespace) -> int:
    from .. import db
    from . import files

    folder = files.folder(db.target().settings) if args.path is None else Path(args.path)
    found = files.list_backups(folder)
    if not found:
        print(f"No backups in {folder}. Make one with: labkit backup")
        return 0
    print(f"{len(found)} backups in {folder}, newest first:")
    for item in found:
        verified = "" if item.manifest else "  (no manifest)"
        created = f"{item.created_at:%Y-%m-%d %H:%M:%S} UTC"
        print(f"  {item.path.name}  {files.human_size(item.size):>9}  {created}{verified}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from .. import db
    from ..errors import LabError
    from .replace import replace_live
    from .restoring import restore
    from .verification import verify

    if args.replace_live:
        live = db.target().database
        if not args.yes:
            if not sys.stdin.isatty():
                raise LabError("Replacing the live database needs confirmation", "Add --yes")
            answer = input(
                f"Replace database {live!r} with {args.path}? Every session on it is "
                "disconnected; the current one is kept under another name. [y/N] "
            )
            if answer.strip().lower() not in {"y", "yes"}:
                print("Nothing changed.")
                return 1
        done = replace_live(args.path, confirm=True)
        print(f"Replaced {done.database} in {done.seconds:.2f} s; verified: nothing lost.")
        print(
            f"The previous database is kept as {done.previous}; drop it when you no longer "
            f"need it: labkit psql -c 'DROP DATABASE {done.previous}'"
        )
        return 0
    made = restore(args.path, args.into)
    print(f"Restored {made.backup.path.name} into database {made.database} in {made.seconds:.2f} s")
    if not made.backup.manifest:
        print("The backup has no manifest: nothing recorded to verify against.")
        return 0
    report = verify(made.backup, made.database)
    print(report)
    return 0 if report.ok else 1


def _verify(args: argparse.Namespace) -> int:
    from .. import db
    from ..errors import LabError
    from . import files
    from .restoring import drop_database, restore
    from .verification import verify

    checked = files.open_backup(args.path)
    if not checked.manifest:
        raise LabError(
            f"{checked.path.name} has no manifest ({checked.manifest_path.name}): "
            "there is nothing recorded to verify a restore against",
            f"Restore it with labkit restore {args.path} --into NEW_DB and inspect that database",
        )
    if args.against:
        report = verify(checked, args.against)
    else:
        scratch = f"{db.target().database[:30]}_verify_{os.getpid()}"
        made = restore(checked, scratch)
        try:
            report = verify(made.backup, scratch)
        finally:
            drop_database(scratch)
    print(report)
    return 0 if report.ok else 1
