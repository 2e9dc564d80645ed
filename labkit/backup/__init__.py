"""Backups that prove nothing was lost: dump, list, restore, verify, copy back.

>>> from labkit import backup
>>> made = backup.backup()                          # backups/zava-<UTC time>.dump + .json
>>> backup.restore(made.path, into="zava_restored")  # a new database; never half-way
>>> backup.verify(made, "zava_restored").ok          # compared with the backup's own record
True

``archive``: dump, manifest, retention; ``restoring``: restore, verify a restore,
replace the live database, copy rows back; ``fingerprint``: what a restore must
reproduce, and the comparison; ``pitr``: point-in-time recovery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time, __getattr__ loads each name on first use
    from .archive import Backup, backup, folder, human_size, list_backups, open_backup, prune, toc
    from .fingerprint import Verification, compare
    from .pitr import Drill
    from .restoring import (
        Replaced,
        Restored,
        copy_back,
        drop_database,
        replace_live,
        restore,
        verify,
    )

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
    "folder",
    "human_size",
    "list_backups",
    "open_backup",
    "prune",
    "replace_live",
    "restore",
    "toc",
    "verify",
]
_MODULES = ("archive", "fingerprint", "pitr", "restoring")
_HOME = {"Verification": "fingerprint", "compare": "fingerprint", "Drill": "pitr"}
_HOME |= dict.fromkeys(("Backup", "backup", "folder", "human_size", "list_backups"), "archive")
_HOME |= dict.fromkeys(("open_backup", "prune", "toc"), "archive")


def __getattr__(name: str) -> Any:
    """Load a name, or a submodule, on first use (``labkit backup --help`` needs none)."""
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _HOME.get(name, "restoring")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
