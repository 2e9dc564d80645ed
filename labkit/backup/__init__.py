"""Backups that prove nothing was lost: dump, list, restore, verify, copy back.

>>> from labkit import backup
>>> made = backup.backup()                          # backups/zava-<UTC time>.dump + .json
>>> backup.restore(made.path, into="zava_restored")  # a new database; never half-way
>>> backup.verify(made, "zava_restored").ok          # compared with the backup's own record
True

``archive``: dump, manifest, retention; ``restoring``: restore, verify, replace,
copy back; ``fingerprint``: what a restore must reproduce; ``pitr``: PITR.
"""

from .archive import Backup, backup, human_size, list_backups, open_backup, prune, toc
from .fingerprint import Verification, compare
from .pitr import Drill
from .restoring import Replaced, Restored, copy_back, drop_database, replace_live, restore, verify

__all__ = [
    "Backup",
    "Drill",
    "Replaced",
    "Restored",
    "Verification",
    "backup",
    "compare",
    "copy_back",
    "drop_database",
    "human_size",
    "list_backups",
    "open_backup",
    "prune",
    "replace_live",
    "restore",
    "toc",
    "verify",
]
