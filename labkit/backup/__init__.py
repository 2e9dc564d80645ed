"""Backups that prove nothing was lost: dump, list, restore, verify, copy back.

>>> from labkit import backup
>>> made = backup.backup()                          # backups/zava-<UTC time>.dump + .json
>>> backup.restore(made.path, into="zava_restored")  # a new database; never half-way
>>> backup.verify(made, "zava_restored").ok          # compared with the backup's own record
True

The parts:

- ``files``: where backups go, their names, the manifest beside each dump, retention.
- ``dump``: pg_dump (custom format) of one snapshot, fingerprinted in the same snapshot.
- ``restoring``: into a temporary database, renamed at the end; ``replace``: the live one.
- ``fingerprint`` and ``verification``: what a restore must reproduce, and the comparison.
- ``recover``: copy lost rows back from a restored copy into the live database.
- ``pitr``: point-in-time recovery with a base backup and archived WAL.
"""

from __future__ import annotations

from .dump import backup
from .files import Backup, folder, list_backups, open_backup, prune
from .recover import copy_back
from .replace import Replaced, replace_live
from .restoring import Restored, drop_database, restore
from .verification import Verification, compare, verify

__all__ = [
    "Backup",
    "Replaced",
    "Restored",
    "Verification",
    "backup",
    "compare",
    "copy_back",
    "drop_database",
    "folder",
    "list_backups",
    "open_backup",
    "prune",
    "replace_live",
    "restore",
    "verify",
]
