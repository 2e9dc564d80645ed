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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time, __getattr__ loads each name on first use
    from .dump import backup
    from .files import Backup, folder, list_backups, open_backup, prune
    from .recover import copy_back
    from .replace import Replaced, replace_live
    from .restoring import Restored, drop_database, restore
    from .verification import Verification, compare, verify

_EXPORTS = {
    "backup": "dump",
    "Backup": "files",
    "folder": "files",
    "list_backups": "files",
    "open_backup": "files",
    "prune": "files",
    "copy_back": "recover",
    "Replaced": "replace",
    "replace_live": "replace",
    "Restored": "restoring",
    "drop_database": "restoring",
    "restore": "restoring",
    "Verification": "verification",
    "compare": "verification",
    "verify": "verification",
}

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


def __getattr__(name: str) -> Any:
    """Load a name, or a submodule, on first use (``labkit backup --help`` needs none)."""
    if name not in _EXPORTS:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
