"""Put a backup in place of the live lab database: restored, verified, swapped.

The backup is restored into ``<live>__restoring`` like any restore, verified
against its manifest, and swapped in with two renames in one transaction: the
live database keeps serving until that instant, and is kept afterwards as
``<live>_replaced_<time>`` until you drop it. Nothing changes unless every
check passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import db, tenancy
from ..errors import LabError
from . import verification
from .files import Backup, open_backup
from .restoring import drop, exists, locked, maintenance, restore_temporary


@dataclass(frozen=True)
class Replaced:
    """The live database's name, the name the previous one is kept under, the check."""

    database: str
    previous: str
    report: verification.Verification
    seconds: float


def replace_live(
    path: Backup | Path | str, *, confirm: bool = False, timeout: float | None = None
) -> Replaced:
    """Put the backup in place of the live lab database, after verifying it.

    Needs ``confirm=True``. Every session on the live database is disconnected
    at the swap. The previous database is kept, renamed, and its name returned.
    """
    started = time.perf_counter()
    lab = db.ensure_server()
    live = lab.database
    if not confirm:
        raise LabError(
            f"Replacing the live database {live!r} needs confirmation",
            "Pass confirm=True (labkit restore PATH --replace-live --yes), "
            "or restore into a new database with --into NAME",
        )
    backup = path if isinstance(path, Backup) else open_backup(path)
    if not backup.manifest:
        raise LabError(
            f"{backup.path.name} has no manifest, so a restore of it cannot be verified "
            "and it does not replace the live database",
            "Restore it into a new database (--into NAME) and check that one yourself",
        )
    previous = f"{live}_replaced_{datetime.now(UTC):%Y%m%d_%H%M%S}"[:63]
    with maintenance(lab) as conn, locked(conn, live):
        temporary = restore_temporary(conn, lab, backup, live, timeout=timeout)
        try:
            report = verification.verify(backup, temporary)
            if not report.ok:
                raise LabError(
                    f"The restored copy differs from the backup ({'; '.join(report.differences[:3])})",
                    "The live database was not touched; restore another backup",
                )
            _swap(conn, live, temporary, previous)
        except BaseException:
            drop(conn, temporary)
            raise
    return Replaced(live, previous, report, time.perf_counter() - started)


def _swap(conn: psycopg.Connection[Any], live: str, temporary: str, previous: str) -> None:
    """Rename live -> previous and temporary -> live, atomically, with nobody connected."""
    live_id, previous_id = sql.Identifier(live), sql.Identifier(previous)
    tenancy.close_pools()
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(live_id))
    try:
        conn.execute(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_catalog.pg_backend_pid()",
            (live,),
        )
        _wait_until_alone(conn, live)
        with conn.transaction():
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(live_id, previous_id))
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(temporary), live_id)
            )
    finally:
        for name in (live, previous):
            if exists(conn, name):
                conn.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                        sql.Identifier(name)
                    )
                )


def _wait_until_alone(conn: psycopg.Connection[Any], name: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    query = "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = %s"
    while (row := conn.execute(query, (name,)).fetchone()) and row[0] > 0:
        if time.monotonic() > deadline:
            raise LabError(
                f"Sessions on {name!r} did not end within {seconds:.0f} s",
                "Nothing was replaced; close them (notebooks, psql) and try again",
            )
        time.sleep(0.05)
